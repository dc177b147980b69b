"""The store used when REDIS_URL is unset: shared by every worker process.

A child `redis-server` with its data (AOF on) in the data directory
(COUNTER_DATA_DIR, default ./var) when the binary is on the PATH, otherwise an
in-memory fakeredis server that forgets everything at exit. Either way it
listens on loopback only: the redis-server on a Unix socket in the data
directory, where the command line finds it.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import redis

log = logging.getLogger(__name__)


def _free_port() -> int:
    """Return a TCP port that is free on loopback right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(url: str) -> bool:
    """Tell whether a Redis server answers at `url`."""
    try:
        return bool(redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5).ping())
    except (redis.RedisError, OSError):
        return False


def socket_path(var_dir: str) -> Path:
    """Return where the embedded redis-server of a data directory listens."""
    return Path(var_dir).resolve() / "redis.sock"


def find(var_dir: str) -> str | None:
    """Return the URL of the embedded redis-server running for a data directory, if one answers."""
    url = f"unix://{socket_path(var_dir)}"
    return url if _answers(url) else None


def start(var_dir: str = "var") -> str:
    """Start (or find already running) the embedded store; return its URL."""
    var = Path(var_dir).resolve()
    var.mkdir(parents=True, exist_ok=True)
    sock = socket_path(var_dir)
    url = f"unix://{sock}"
    binary = shutil.which("redis-server")
    if binary and _answers(url):
        log.info("using the embedded redis-server already running at %s", sock)
        return url
    if binary:
        proc = subprocess.Popen(
            [binary, "--port", "0", "--unixsocket", str(sock), "--unixsocketperm", "700",
             "--dir", str(var), "--appendonly", "yes", "--appendfsync", "everysec",
             "--save", "3600 1 300 100 60 10000", "--maxmemory-policy", "noeviction",
             "--logfile", str(var / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        for _ in range(100):
            if _answers(url):
                break
            if proc.poll() is not None:
                raise RuntimeError(f"embedded redis-server exited; see {var / 'redis.log'}")
            time.sleep(0.05)
        else:
            proc.kill()
            raise RuntimeError("embedded redis-server did not start within 5 s")
        atexit.register(_stop, proc, url, os.getpid())
        log.warning("REDIS_URL is unset: using an embedded redis-server with its data in %s", var)
        return url
    from fakeredis import TcpFakeServer

    port = _free_port()
    server = TcpFakeServer(("127.0.0.1", port), server_type="redis")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    log.warning("REDIS_URL is unset and redis-server is not installed: counting in memory "
                "(fakeredis). Counts will NOT survive a restart.")
    return f"redis://127.0.0.1:{port}/0"


def _stop(proc: subprocess.Popen, url: str, owner: int) -> None:
    """Shut the child down cleanly (from the process that started it)."""
    if proc.poll() is not None or os.getpid() != owner:
        return
    with contextlib.suppress(redis.RedisError, OSError):
        redis.Redis.from_url(url, socket_timeout=5).shutdown(save=True)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()

