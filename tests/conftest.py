"""Fixtures: a fakeredis server and a real redis-server, a controlled clock, the app."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
import redis as redis_py
from fakeredis import TcpFakeServer
from fakeredis._clients._tcp_server import TCPFakeRequestHandler

from counter import create_app
from counter.clock import FixedClock
from counter.config import from_env

BROWSER_UA = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 "
              "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36")
# 2026-11-25 09:00 in Hanoi, a Wednesday.
START = "2026-11-25T09:00:00+07:00"
REQUIRE_REDIS = os.environ.get("COUNTER_REQUIRE_REDIS") == "1"


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

    def __init__(self, workdir: Path, *extra: str, port: int | None = None) -> None:
        """Choose a port and remember the extra arguments."""
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.extra = extra
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """Return the server's redis:// URL."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        """Start the server and wait until it answers."""
        self.proc = subprocess.Popen(
            [shutil.which("redis-server"), "--port", str(self.port), "--bind", "127.0.0.1",
             "--dir", str(self.dir), "--save", "", "--appendonly", "no",
             "--logfile", str(self.dir / "redis.log"), *self.extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        client = redis_py.Redis(port=self.port, socket_timeout=1)
        for _ in range(200):
            try:
                if client.ping():
                    return self
            except redis_py.ConnectionError:
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


@pytest.fixture(scope="session")
def real_redis(tmp_path_factory):
    """Start one real redis-server for the session."""
    require_redis_server()
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


class RedisClusterNodes:
    """Six redis-server processes joined as 3 masters with a replica each."""

    def __init__(self, workdir: Path) -> None:
        """Prepare the nodes."""
        self.nodes = [
            RedisServer(workdir / f"node{i}", "--cluster-enabled", "yes", "--cluster-node-timeout", "1000",
                        "--cluster-config-file", "nodes.conf", "--appendonly", "yes",
                        "--repl-diskless-sync-delay", "0", port=cluster_port())
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


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory):
    """Start one Redis Cluster for the session."""
    require_redis_server()
    cluster = RedisClusterNodes(tmp_path_factory.mktemp("cluster")).start()
    yield cluster
    cluster.stop()


class ErrorRepliesKeepTheConnection(TCPFakeRequestHandler):
    """Answer an error reply and keep the connection open, as Redis does.

    fakeredis's TCP server closes a connection after any error reply, so the
    NOSCRIPT that redis-py answers with SCRIPT LOAD on the same connection
    (the first call of a script) turned into "Connection closed by server".
    """

    def setup(self) -> None:
        """Make the fake client return errors as replies instead of raising them."""
        super().setup()
        read = self.current_client.read_response

        def read_response(*args, **kwargs):
            try:
                return read(*args, **kwargs)
            except redis_py.ResponseError as exc:
                return exc

        self.current_client.read_response = read_response


@pytest.fixture(scope="session")
def fake_redis_url():
    """Start one fakeredis TCP server for the session."""
    port = free_port()
    server = TcpFakeServer(("127.0.0.1", port), server_type="redis")
    server.RequestHandlerClass = ErrorRepliesKeepTheConnection
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"redis://127.0.0.1:{port}/0"
    server.shutdown()
    server.server_close()


@pytest.fixture(params=["fake", pytest.param("real", marks=pytest.mark.redis),
                        pytest.param("cluster", marks=pytest.mark.redis)])
def redis_url(request):
    """Yield an empty store: fakeredis, a real redis-server, a Redis Cluster."""
    if request.param == "cluster":
        url = request.getfixturevalue("redis_cluster").url
    elif request.param == "real":
        url = request.getfixturevalue("real_redis").url
    else:
        url = request.getfixturevalue("fake_redis_url")
    flush(url)
    return url


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


@pytest.fixture
def redis(request, redis_url):
    """Return a plain client on the test's store, for looking at keys."""
    if redis_url.startswith("redis+cluster://"):
        client = request.getfixturevalue("redis_cluster").client()
    else:
        client = redis_py.Redis.from_url(redis_url, decode_responses=True)
    yield client
    client.close()


@pytest.fixture
def clock():
    """Return a clock that stands still until moved."""
    return FixedClock(START)


def settings(**env: str) -> dict:
    """Build settings as the service would from these environment variables."""
    return from_env({"COUNTER_SITES": "demo,other", **env})


def browser(app, ip: str = "198.51.100.7"):
    """Return a desktop-browser test client of `app` from `ip`."""
    c = app.test_client()
    c.environ_base.update(HTTP_USER_AGENT=BROWSER_UA, REMOTE_ADDR=ip)
    return c


@pytest.fixture
def make_app(redis_url, clock):
    """Return a factory of apps on the test's store with extra environment."""

    def make(**env: str):
        config = settings(**env)
        config.update(REDIS_URL=redis_url, CLOCK=clock, TESTING=True)
        return create_app(config)

    return make


@pytest.fixture
def app(make_app):
    """Return the app with an admin token configured."""
    return make_app(COUNTER_ADMIN_TOKEN="s3cret-token-for-the-tests")


@pytest.fixture
def client(app):
    """Return a test client that looks like a desktop browser."""
    return browser(app)


@pytest.fixture
def counter(app):
    """Return the app's counter service."""
    return app.extensions["counter"]
