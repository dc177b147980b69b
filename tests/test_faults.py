"""Fault injection on real redis-server processes: kills, restarts, black holes."""

from __future__ import annotations

import logging
import socket
import threading
import time

import pytest
import redis as redis_py

from counter import create_app
from counter.clock import SystemClock
from counter.transport import BREAKER_COOLDOWN
from tests.helpers import BROWSER_UA, RedisServer, free_port, require_redis_server, settings


def app_on(url: str):
    """Return an app on `url`, on the real clock."""
    config = settings()
    config.update(REDIS_URL=url, CLOCK=SystemClock(), RATE_LIMIT=10**6, NEW_VISIT_LIMIT=10**6)
    app = create_app(config)
    return app


class Load:
    """Threads posting hits with new visitors, recording what was acknowledged."""

    def __init__(self, app, threads: int = 4) -> None:
        """Prepare the threads."""
        self.app = app
        self.acked: list[float] = []  # when each new visit was acknowledged
        self.statuses: dict[int, int] = {}
        self.slowest = 0.0
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, args=(n,)) for n in range(threads)]

    def run(self, n: int) -> None:
        """Post hits until told to stop."""
        c = self.app.test_client()
        c.environ_base.update(HTTP_USER_AGENT=BROWSER_UA, REMOTE_ADDR=f"10.0.0.{n}")
        i = 0
        while not self.stop.is_set():
            started = time.monotonic()
            r = c.post("/api/v1/sites/demo/hits", json={"visitor": f"load-{n}-{i:012d}"})
            took = time.monotonic() - started
            with self.lock:
                self.statuses[r.status_code] = self.statuses.get(r.status_code, 0) + 1
                self.slowest = max(self.slowest, took)
                if r.status_code == 200 and r.get_json()["new_visit"]:
                    self.acked.append(time.monotonic())
            i += 1
            if r.status_code == 503:
                time.sleep(0.01)

    def __enter__(self) -> Load:
        """Start the threads."""
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc) -> None:
        """Stop the threads."""
        self.stop.set()
        for t in self.threads:
            t.join()

    def wait_for(self, acks: int, timeout: float = 20) -> None:
        """Wait until `acks` new visits were acknowledged."""
        deadline = time.monotonic() + timeout
        while len(self.acked) < acks:
            assert time.monotonic() < deadline, f"only {len(self.acked)} acks: {self.statuses}"
            time.sleep(0.01)


def total(url: str) -> int:
    """Read the all-time total straight from Redis."""
    return int(redis_py.Redis.from_url(url).hget("vc:{demo}:all", "total") or 0)


@pytest.mark.redis
@pytest.mark.parametrize("fsync", ["always", "everysec"])
def test_kill_9_under_load_loses_nothing_acknowledged(tmp_path, fsync):
    require_redis_server()
    server = RedisServer(tmp_path / fsync, "--appendonly", "yes", "--appendfsync", fsync).start()
    try:
        app = app_on(server.url)
        with Load(app) as load:
            load.wait_for(300)
            server.stop(kill=True)
            killed = time.monotonic()
            time.sleep(0.5)  # hits now fail fast with 503
            acked_before_kill = [t for t in load.acked if t <= killed]
            server.start()
            load.wait_for(len(load.acked) + 100)  # counting resumed by itself
            load.stop.set()
        assert set(load.statuses) <= {200, 503}, load.statuses
        assert load.slowest < 1.0
        assert load.statuses.get(503, 0) > 0
        after = total(server.url)
        acked = len(load.acked)
        # A hit in flight at the kill may be on disk without its answer having
        # left Redis: counted, answered 503. At most one per load thread.
        in_flight = len(load.threads)
        if fsync == "always":
            assert acked <= after <= acked + in_flight  # nothing acknowledged was lost
        else:
            # everysec: what was acknowledged in the last two seconds before the kill may be lost.
            at_risk = sum(1 for t in acked_before_kill if t > killed - 2)
            assert acked - at_risk <= after <= acked + in_flight
    finally:
        server.stop(kill=True)


class BlackHole:
    """A TCP port that accepts connections and never answers."""

    def __init__(self) -> None:
        """Listen on a free loopback port."""
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", free_port()))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        """Accept and hold every connection."""
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)

    def close(self) -> None:
        """Stop listening and drop the held connections."""
        for conn in self.held:
            conn.close()
        self.sock.close()


def test_a_black_holed_redis_answers_within_a_second():
    hole = BlackHole()
    try:
        c = app_on(f"redis://127.0.0.1:{hole.port}/0").test_client()
        c.environ_base["HTTP_USER_AGENT"] = BROWSER_UA
        for call in (lambda: c.post("/api/v1/sites/demo/hits", json={"visitor": "a" * 16}),
                     lambda: c.get("/api/v1/sites/demo/stats"),
                     lambda: c.post("/api/v1/sites/demo/heartbeat", json={"visitor": "a" * 16}),
                     lambda: c.get("/readyz")):
            started = time.monotonic()
            response = call()
            assert time.monotonic() - started < 1.0
            assert response.status_code == 503
            assert response.get_json()["error"]["code"] == "store_unavailable"
        started = time.monotonic()
        for _ in range(100):  # the breaker is open: no call waits for the socket
            c.post("/api/v1/sites/demo/hits", json={"visitor": "a" * 16})
        assert time.monotonic() - started < 1.0
    finally:
        hole.close()


@pytest.mark.redis
def test_a_paused_redis_gives_stale_stats_and_a_retried_hit_counts_once(real_redis):
    with redis_py.Redis.from_url(real_redis.url) as plain:
        plain.flushall()
    app = app_on(real_redis.url)
    c = app.test_client()
    c.environ_base["HTTP_USER_AGENT"] = BROWSER_UA
    c.post("/api/v1/sites/demo/hits", json={"visitor": "a" * 16})
    assert c.get("/api/v1/sites/demo/stats").get_json()["total"] == 1

    # Redis accepts and then sits on every command for two seconds.
    with redis_py.Redis.from_url(real_redis.url) as plain:
        plain.client_pause(2000, all=True)
    started = time.monotonic()
    hit = c.post("/api/v1/sites/demo/hits", json={"visitor": "b" * 16, "hit": "retry-0001"})
    assert hit.status_code == 503
    body = c.get("/api/v1/sites/demo/stats").get_json()
    assert time.monotonic() - started < 1.5
    assert body["stale"] is True and body["total"] == 1

    time.sleep(2.5)  # the pause ends
    # Whether or not Redis applied the write that timed out, retries count it once.
    for _ in range(2):
        retry = c.post("/api/v1/sites/demo/hits", json={"visitor": "b" * 16, "hit": "retry-0001"})
        assert retry.status_code == 200
        assert retry.get_json()["total"] == 2
    assert retry.get_json()["counted"] is False
    app.extensions["counter"].store.client.close()  # its sockets, or their warnings outlive the test


@pytest.mark.redis
def test_after_a_redis_restart_one_failed_call_clears_every_stale_connection(tmp_path):
    """The connections scripts keep from a Redis that restarted are all dropped at the first failure.

    Otherwise each one, met later, fails its request and opens the breaker
    again: 503s for as long as stale connections remain, with Redis back.
    """
    require_redis_server()
    server = RedisServer(tmp_path).start()
    try:
        app = app_on(server.url)
        store = app.extensions["counter"].store
        c = app.test_client()
        c.environ_base["HTTP_USER_AGENT"] = BROWSER_UA
        assert c.post("/api/v1/sites/demo/hits", json={"visitor": "a" * 16}).status_code == 200
        assert c.get("/api/v1/sites/demo/daily").status_code == 200
        # Several requests at once left several connections with each script, as under load.
        for name in ("counter", "history"):
            script = store.redis.script(name)
            script.idle += [script.pool.get_connection() for _ in range(4)]
        server.stop()
        server.start()
        first = c.post("/api/v1/sites/demo/hits", json={"visitor": "b" * 16})
        assert first.status_code == 503  # it met a connection of the old server
        time.sleep(BREAKER_COOLDOWN + 0.2)
        statuses = []
        for _ in range(5):
            statuses.append(c.post("/api/v1/sites/demo/hits", json={"visitor": "b" * 16}).status_code)
            statuses.append(c.get("/api/v1/sites/demo/daily").status_code)
        assert statuses == [200] * 10, str(statuses)
    finally:
        server.stop()


@pytest.mark.redis
def test_an_outage_is_logged_once_as_it_begins_and_once_as_it_ends(tmp_path, caplog):
    # A line per refused request would flood the journal with thousands a second.
    require_redis_server()
    server = RedisServer(tmp_path).start()
    try:
        app = app_on(server.url)
        c = app.test_client()
        c.environ_base["HTTP_USER_AGENT"] = BROWSER_UA
        assert c.post("/api/v1/sites/demo/hits", json={"visitor": "a" * 16}).status_code == 200
        server.stop(kill=True)
        caplog.set_level(logging.INFO)
        for _ in range(2):  # a second try, once the breaker lets one through
            assert [c.post("/api/v1/sites/demo/hits", json={"visitor": "a" * 16}).status_code
                    for _ in range(20)] == [503] * 20
            time.sleep(BREAKER_COOLDOWN + 0.1)
        server.start()
        assert c.post("/api/v1/sites/demo/hits", json={"visitor": "a" * 16}).status_code == 200
        assert c.post("/api/v1/sites/demo/hits", json={"visitor": "a" * 16}).status_code == 200
        lines = [(r.levelname, r.getMessage()) for r in caplog.records if "store" in r.getMessage()]
        assert [level for level, _ in lines] == ["WARNING", "INFO"], lines
        assert lines[0][1].startswith("store unavailable: ") and "Connection" in lines[0][1]
        assert lines[1][1].startswith("store available again after ")
        app.extensions["counter"].store.client.close()
    finally:
        server.stop()
