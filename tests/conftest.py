"""Fixtures: a fakeredis server and a real redis-server, a controlled clock, the app."""

from __future__ import annotations

import threading

import pytest
import redis as redis_py
from fakeredis import TcpFakeServer
from fakeredis._clients._tcp_server import TCPFakeRequestHandler

from counter import create_app
from counter.clock import FixedClock
from tests.helpers import (
    ADMIN_TOKEN,
    START,
    RedisClusterNodes,
    RedisServer,
    browser,
    flush,
    free_port,
    require_redis_server,
    settings,
)


def _serve(kind, tmp_path_factory, name: str):
    """Start servers of `kind` in a fresh directory, yield them, stop them."""
    require_redis_server()
    server = kind(tmp_path_factory.mktemp(name)).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def real_redis(tmp_path_factory):
    """Start one real redis-server for the session."""
    yield from _serve(RedisServer, tmp_path_factory, "redis")


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory):
    """Start one Redis Cluster for the session."""
    yield from _serve(RedisClusterNodes, tmp_path_factory, "cluster")


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
    return make_app(COUNTER_ADMIN_TOKEN=ADMIN_TOKEN)


@pytest.fixture
def client(app):
    """Return a test client that looks like a desktop browser."""
    return browser(app)


@pytest.fixture
def counter(app):
    """Return the app's counter service."""
    return app.extensions["counter"]
