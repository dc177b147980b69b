"""Helpers the tests share: redis-server processes, settings, browser-like clients, calls."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
import redis as redis_py

from counter.config import from_env

BROWSER_UA = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 "
              "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36")
# 2026-11-25 09:00 in Hanoi, a Wednesday.
START = "2026-11-25T09:00:00+07:00"
REQUIRE_REDIS = os.environ.get("COUNTER_REQUIRE_REDIS") == "1"
ADMIN_TOKEN = "s3cret-token-for-the-tests"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def free_port() -> int:
    """Return a TCP port free on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cluster_port() -> int:
    """Return a free port whose cluster bus port (port + 10000) is free too."""
    while True:
        port = free_port()
        if port + 10000 > 65535:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port


class RedisServer:
    """A redis-server process of the tests' own, in a temporary directory."""

    def __init__(self, workdir: Path, *extra: str, port: int | None = None, choose_port=free_port) -> None:
        """Choose a port (with `choose_port` unless `port` is given) and remember the extra arguments."""
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.choose_port = None if port else choose_port
        self.port = port or choose_port()
        self.extra = extra
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """Return the server's redis:// URL."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, attempts: int = 3) -> RedisServer:
        """Start the server and wait until it answers.

        A port chosen here was free a moment ago; when another process bound
        it first, the first start moves to a new port. Any other failure, a
        port given by the caller, or a restart (clients know its port) is
        raised as it is.
        """
        log = self.dir / "redis.log"
        may_move = self.choose_port is not None and self.proc is None
        for attempt in range(attempts):
            if attempt:
                self.port = self.choose_port()
            seen = log.stat().st_size if log.exists() else 0
            self.proc = subprocess.Popen(
                [shutil.which("redis-server"), "--port", str(self.port), "--bind", "127.0.0.1",
                 "--dir", str(self.dir), "--save", "", "--appendonly", "no",
                 "--logfile", str(log), *self.extra],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
            if self._answers():
                return self
            said = log.read_bytes()[seen:].decode(errors="replace") if log.exists() else ""
            if not may_move or "Address already in use" not in said:
                raise RuntimeError(f"redis-server exited with {self.proc.returncode}:\n{said}")
        raise RuntimeError(f"port taken {attempts} times in a row")

    def _answers(self) -> bool:
        """Wait until this server, not another process on its port, answers; False if it exited."""
        with redis_py.Redis(port=self.port, socket_timeout=1) as client:
            for _ in range(200):
                if self.proc.poll() is not None:
                    return False
                try:
                    if client.info("server")["process_id"] == self.proc.pid:
                        return True
                except redis_py.ConnectionError:
                    pass
                time.sleep(0.02)
        raise RuntimeError("redis-server did not start")

    def stop(self, kill: bool = False) -> None:
        """Stop the server, with SIGKILL when `kill`."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill() if kill else self.proc.terminate()
            self.proc.wait(timeout=10)


def require_redis_server() -> None:
    """Skip without redis-server, except where CI makes real Redis mandatory."""
    if shutil.which("redis-server") is None:
        if REQUIRE_REDIS:
            pytest.fail("redis-server is required (COUNTER_REQUIRE_REDIS=1) but not on the PATH")
        pytest.skip("redis-server is not installed")


class RedisClusterNodes:
    """Six redis-server processes joined as 3 masters with a replica each."""

    def __init__(self, workdir: Path) -> None:
        """Prepare the nodes."""
        self.nodes = [
            RedisServer(workdir / f"node{i}", "--cluster-enabled", "yes", "--cluster-node-timeout", "1000",
                        "--cluster-config-file", "nodes.conf", "--appendonly", "yes",
                        "--repl-diskless-sync-delay", "0", choose_port=cluster_port)
            for i in range(6)
        ]

    @property
    def url(self) -> str:
        """Return the redis+cluster:// URL of the service."""
        return "redis+cluster://" + ",".join(f"127.0.0.1:{n.port}" for n in self.nodes[:3])

    def start(self) -> RedisClusterNodes:
        """Start the nodes, join them, and wait until every slot is served."""
        for node in self.nodes:
            node.start()
        subprocess.run(
            [shutil.which("redis-cli"), "--cluster", "create",
             *[f"127.0.0.1:{n.port}" for n in self.nodes], "--cluster-replicas", "1", "--cluster-yes"],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60,
        )
        deadline = time.monotonic() + 30
        for node in self.nodes:
            client = redis_py.Redis(port=node.port, decode_responses=True)
            # Up means every slot served and every replica in sync (so it can take over).
            while (client.cluster("info").get("cluster_state") != "ok"
                   or client.info("replication").get("master_link_status", "up") != "up"):
                assert time.monotonic() < deadline, "the cluster did not come up"
                time.sleep(0.1)
        return self

    def client(self) -> redis_py.RedisCluster:
        """Return a cluster client for looking at keys."""
        return redis_py.RedisCluster(host="127.0.0.1", port=self.nodes[0].port, decode_responses=True)

    def stop(self) -> None:
        """Stop every node."""
        for node in self.nodes:
            node.stop(kill=True)


def flush(url: str) -> None:
    """Empty a store, standalone or cluster."""
    if url.startswith("redis+cluster://"):
        host, port = url.removeprefix("redis+cluster://").split(",")[0].split(":")
        client = redis_py.RedisCluster(host=host, port=int(port))
        client.flushall(target_nodes=redis_py.RedisCluster.PRIMARIES)
    else:
        client = redis_py.Redis.from_url(url)
        client.flushall()
    client.close()


def settings(**env: str) -> dict:
    """Build settings as the service would from these environment variables."""
    return from_env({"COUNTER_SITES": "demo,other", **env})


def browser(app, ip: str = "198.51.100.7"):
    """Return a desktop-browser test client of `app` from `ip`."""
    c = app.test_client()
    c.environ_base.update(HTTP_USER_AGENT=BROWSER_UA, REMOTE_ADDR=ip)
    return c


def hit(client, visitor: str | None = None, site: str = "demo", headers: dict | None = None, **body):
    """Post a hit with `visitor` and any other body fields; return the response."""
    if visitor:
        body["visitor"] = visitor
    return client.post(f"/api/v1/sites/{site}/hits", json=body, headers=headers)


def stats(client, site: str = "demo") -> dict:
    """Return the stats object."""
    response = client.get(f"/api/v1/sites/{site}/stats")
    assert response.status_code == 200
    return response.get_json()
