"""The default store: `make run` with REDIS_URL unset, shared by every worker."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import redis as redis_py

from counter import embedded
from tests.helpers import BROWSER_UA, free_port, require_redis_server

ROOT = Path(__file__).resolve().parent.parent


def serve(workdir: Path, **extra: str) -> tuple[subprocess.Popen, int]:
    """Start gunicorn as `make run` does, in `workdir`, and wait for it; return it and its port.

    A port that another process took after free_port() saw it free is left
    for a new one; any other failure is raised.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_URL", "COUNTER_"))}
    path = workdir / "gunicorn.log"
    for _ in range(3):
        port = free_port()
        env.update(COUNTER_BIND=f"127.0.0.1:{port}", WEB_CONCURRENCY="2", **extra)
        seen = path.stat().st_size if path.exists() else 0
        with open(path, "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "deploy/gunicorn.conf.py"),
                 "--pythonpath", str(ROOT), "wsgi:app"],
                cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=log,
            )
        said = ""
        while proc.poll() is None and f"Listening at: http://127.0.0.1:{port} " not in said:
            said = path.read_bytes()[seen:].decode(errors="replace")
            if "Connection in use" in said:
                # It gives up after its bind retries and exits, stopping its embedded store.
                proc.wait(timeout=30)
                break
            time.sleep(0.05)
        else:
            break
    for _ in range(150):
        if proc.poll() is not None:
            break
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1)
            return proc, port
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError((workdir / "gunicorn.log").read_text())


def post_hit(port: int, visitor: str) -> dict:
    """Post one hit over HTTP."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/sites/demo/hits", data=json.dumps({"visitor": visitor}).encode(),
        headers={"Content-Type": "application/json", "User-Agent": BROWSER_UA}, method="POST")
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.load(response)


@pytest.mark.redis
def test_make_run_counts_on_a_durable_shared_store(tmp_path):
    require_redis_server()
    proc, port = serve(tmp_path)
    try:
        totals = [post_hit(port, f"visitor-{i:016d}")["total"] for i in range(20)]
        assert totals == list(range(1, 21))  # both workers count on the one store
        for _ in range(4):  # whichever worker answers, it sums over both
            response = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5)
            assert "/" not in response.headers.get("Server", "")  # no version banner
            text = response.read().decode()
            assert 'counter_hits_total{result="counted",site="demo"} 20.0' in text
            assert 'counter_online{site="demo"} 20.0' in text
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
    assert (tmp_path / "var" / "appendonlydir").is_dir()
    assert not (tmp_path / "var" / "redis.sock").exists()  # the store stopped with the service

    proc, port = serve(tmp_path)
    try:
        assert post_hit(port, "visitor-again-000001")["total"] == 21
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)


@pytest.mark.redis
def test_counter_data_dir_moves_the_services_store(tmp_path):
    require_redis_server()
    data = tmp_path / "data"
    proc, port = serve(tmp_path, COUNTER_DATA_DIR=str(data))
    try:
        assert post_hit(port, "visitor-moved-000001")["total"] == 1
        assert (data / "redis.sock").is_socket()  # where the command line looks for it
        assert embedded.find(str(data))
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
    assert (data / "appendonlydir").is_dir()
    assert not (tmp_path / "var").exists()


def test_without_redis_server_it_falls_back_to_fakeredis(monkeypatch, tmp_path, caplog):
    monkeypatch.setattr(embedded.shutil, "which", lambda name: None)
    with caplog.at_level(logging.WARNING, logger="counter.embedded"):
        url = embedded.start(str(tmp_path / "var"))
    assert url.startswith("redis://127.0.0.1:")
    assert redis_py.Redis.from_url(url).ping()
    assert "will NOT survive a restart" in caplog.text
