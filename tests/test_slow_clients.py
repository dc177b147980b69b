"""Slow and idle clients do not stop the service, alone or behind deploy/nginx.conf.

Real gunicorn (deploy/gunicorn.conf.py) on a real redis-server, and real nginx
(deploy/nginx.conf) in front of it. The attacking connections are bounded in
number and time and stay on loopback.
"""

from __future__ import annotations

import contextlib
import json
import select
import selectors
import socket
import threading
import time

import pytest

from tests.servers import ADMIN_TOKEN, Gunicorn, Nginx, request

pytestmark = [pytest.mark.redis, pytest.mark.nginx]

HIT_HEAD = (b"POST /api/v1/sites/demo/hits HTTP/1.1\r\nHost: counter\r\nContent-Type: application/json\r\n"
            b"User-Agent: Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0\r\nContent-Length: 4000\r\n\r\n{")
HALF_HEAD = b"POST /api/v1/sites/demo/hits HTTP/1.1\r\nHost: counter\r\nUser-Agent: Mozi"


class Attack:
    """Connections that trickle a body, send half a head, or say nothing; reopened when cut.

    `trickle` connections send a hit's head announcing 4,000 bytes of body,
    then one byte a second. `half` send part of a head, `idle` nothing. When
    the server cuts one, the attack notes how long it held on and opens
    another, so the count stays up for the whole test.
    """

    def __init__(self, port: int, trickle: int, half: int, idle: int, sources: int = 1) -> None:
        """Plan the connections, spread over `sources` loopback addresses."""
        self.port = port
        self.kinds = ["trickle"] * trickle + ["half"] * half + ["idle"] * idle
        self.sources = [f"127.0.1.{1 + i % 250}" if sources > 1 else "127.0.0.1" for i in range(sources)]
        self.selector = selectors.DefaultSelector()
        self.socks: dict[socket.socket, tuple[str, float, str]] = {}
        self.cut: dict[str, list[float]] = {"trickle": [], "half": [], "idle": []}
        self.refused = 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _open(self, kind: str, n: int) -> None:
        """Open one connection of `kind` and send what it sends first."""
        source = self.sources[n % len(self.sources)]
        sock = socket.socket()
        sock.bind((source, 0))
        try:
            sock.connect(("127.0.0.1", self.port))
            if kind == "trickle":
                sock.sendall(HIT_HEAD)
            elif kind == "half":
                sock.sendall(HALF_HEAD)
        except OSError:
            sock.close()
            self.refused += 1
            return
        sock.setblocking(False)
        self.socks[sock] = (kind, time.monotonic(), source)
        self.selector.register(sock, selectors.EVENT_READ)

    def _drop(self, sock: socket.socket) -> None:
        """Note that the server cut `sock`, and open another like it."""
        kind, opened, _source = self.socks.pop(sock)
        self.selector.unregister(sock)
        sock.close()
        self.cut[kind].append(time.monotonic() - opened)
        if not self.stopping.is_set():
            self._open(kind, len(self.cut[kind]))

    def start(self) -> Attack:
        """Open every connection, then keep them up in a thread."""
        for n, kind in enumerate(self.kinds):
            self._open(kind, n)
        self.thread.start()
        return self

    def _run(self) -> None:
        """Trickle a byte a second on every trickling connection; reopen any that is cut."""
        next_byte = time.monotonic() + 1
        while not self.stopping.is_set():
            for key, _ in self.selector.select(timeout=0.1):
                with contextlib.suppress(OSError):
                    if key.fileobj.recv(4096):
                        continue  # an answer (a 408 or 429); the close follows
                if key.fileobj in self.socks:
                    self._drop(key.fileobj)
            if time.monotonic() >= next_byte:
                next_byte += 1
                for sock, (kind, _, _) in list(self.socks.items()):
                    if kind == "trickle":
                        try:
                            sock.send(b" ")
                        except OSError:
                            self._drop(sock)

    def held(self) -> int:
        """Return how many attacking connections are open now."""
        return len(self.socks)

    def stop(self) -> None:
        """Close every attacking connection."""
        self.stopping.set()
        self.thread.join(timeout=5)
        for sock in list(self.socks):
            self.selector.unregister(sock)
            sock.close()
        self.socks.clear()


def probe(port: int, seconds: float, source: str | None = None) -> list[float]:
    """Make a counted hit and a stats read every 0.2 s; return each pair's time, all answered 200."""
    times = []
    end = time.monotonic() + seconds
    n = 0
    while time.monotonic() < end:
        n += 1
        started = time.monotonic()
        body = json.dumps({"visitor": f"probe-visitor-{n:06d}"}).encode()
        status, _, answer = request(port, "POST", "/api/v1/sites/demo/hits", body,
                                    {"Content-Type": "application/json"}, source=source, timeout=5)
        assert status == 200 and json.loads(answer)["counted"], answer
        status, _, _ = request(port, "GET", "/api/v1/sites/demo/stats", source=source, timeout=5)
        assert status == 200
        times.append(time.monotonic() - started)
        time.sleep(0.2)
    return times


@pytest.fixture
def service(tmp_path, real_redis):
    """Run gunicorn with the deploy configuration on the session's redis-server."""
    real_redis_url = real_redis.url
    server = Gunicorn(tmp_path / "gunicorn", {
        "REDIS_URL": real_redis_url, "COUNTER_SITES": "demo", "COUNTER_ADMIN_TOKEN": ADMIN_TOKEN,
        "COUNTER_RATE_LIMIT": "100000", "COUNTER_NEW_VISIT_LIMIT": "100000", "COUNTER_TRUSTED_PROXIES": "1",
    }).start()
    yield server
    log = server.stop()
    assert "Traceback" not in log, log


def test_slow_and_idle_clients_do_not_stop_the_service(service):
    # 300 trickle a body and 400 sit idle (half of them after half a head),
    # for 12 s: longer than both deadlines, so each kind is cut at least once.
    attack = Attack(service.port, trickle=300, half=200, idle=200).start()
    try:
        time.sleep(0.5)
        assert attack.held() >= 650, attack.held()
        times = probe(service.port, 12)
    finally:
        attack.stop()
    assert max(times) < 1.0, f"slowest answer {max(times):.2f} s"
    # The head deadline (keepalive, 5 s) cut the idle and half-head ones, the
    # body deadline (10 s) the trickling ones: none was held for long.
    for kind, (low, high) in {"idle": (4.5, 7.5), "half": (4.5, 7.5), "trickle": (9.5, 12.5)}.items():
        assert attack.cut[kind], f"no {kind} connection was cut"
        assert low <= min(attack.cut[kind]) and max(attack.cut[kind]) <= high, (kind, attack.cut[kind][:5])


def test_slow_and_idle_clients_do_not_pass_nginx(service, tmp_path):
    nginx = Nginx(tmp_path / "nginx", service.port).start()
    try:
        # 2,000 connections from 100 addresses (20 each, nginx's limit per
        # address): 600 trickle a body, 700 send half a head, 700 say nothing.
        attack = Attack(nginx.port, trickle=600, half=700, idle=700, sources=100).start()
        try:
            time.sleep(1)
            assert attack.held() >= 1950, attack.held()
            times = probe(nginx.port, 11, source="127.0.0.2")
            held = attack.held()
        finally:
            attack.stop()
        # limit_conn counts the requests being read or served: the 21st held
        # at once from one address is answered 429 at once.
        crowd = [socket.create_connection(("127.0.0.1", nginx.port), source_address=("127.0.0.3", 0))
                 for _ in range(21)]
        try:
            for sock in crowd:
                sock.sendall(HIT_HEAD)
                time.sleep(0.01)
            time.sleep(0.5)
            answered = [sock for sock in crowd if select.select([sock], [], [], 0)[0]]
            answers = [sock.recv(100) for sock in answered]
        finally:
            for sock in crowd:
                sock.close()
    finally:
        nginx.stop()
    assert held >= 1950, held
    assert max(times) < 1.0, f"slowest answer {max(times):.2f} s"
    # client_header_timeout (10 s) cut the idle and half-head ones; a body
    # trickled a byte a second is within client_body_timeout (10 s between
    # reads), and nginx holds it without the service knowing.
    for kind in ("idle", "half"):
        assert attack.cut[kind] and min(attack.cut[kind]) >= 9.5 and max(attack.cut[kind]) <= 11.5, kind
    assert len(answers) == 1 and answers[0].startswith(b"HTTP/1.1 429"), answers


def test_clients_that_do_not_read_their_answers_hold_no_slot_and_are_cut(tmp_path, real_redis):
    # One worker with two app slots. Four clients pipeline 30 reads of ten
    # years of history (300 KB each) and never read an answer: far more than
    # the socket buffers hold. Each answer's slot is given back as it starts
    # to leave, so hits are answered throughout; and each connection is cut
    # once it has taken no byte for 10 s.
    server = Gunicorn(tmp_path / "gunicorn", {
        "REDIS_URL": real_redis.url, "COUNTER_SITES": "demo", "WEB_CONCURRENCY": "1",
        "COUNTER_CONNECTIONS": "2", "COUNTER_RATE_LIMIT": "100000", "COUNTER_NEW_VISIT_LIMIT": "100000",
    }).start()
    read = b"GET /api/v1/sites/demo/daily?from=2016-03-01&to=2026-02-17 HTTP/1.1\r\nHost: counter\r\n\r\n"
    stalled = []
    try:
        for _ in range(4):
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.connect(("127.0.0.1", server.port))
            sock.sendall(read * 30)
            stalled.append(sock)
        time.sleep(1)
        times = probe(server.port, 4)
        time.sleep(9)  # past the send deadline of every answer stuck since the start
        received = []
        for sock in stalled:
            sock.settimeout(5)
            size = 0
            while chunk := sock.recv(1 << 20):  # the server closed it: its end comes, not a wait
                size += len(chunk)
            received.append(size)
    finally:
        for sock in stalled:
            sock.close()
        log = server.stop()
    assert max(times) < 1.0, f"slowest answer {max(times):.2f} s"
    assert all(size < 30 * 300_000 for size in received), received
    assert "Traceback" not in log, log


@pytest.mark.parametrize("framing", [b"Content-Length: 1000000000\r\n", b"Transfer-Encoding: chunked\r\n"])
def test_a_body_sent_without_end_is_refused_and_its_connection_closed(tmp_path, real_redis, framing):
    # A body longer than any the service reads is answered 413 and its
    # connection closed: not read to its end before the next request, which
    # a client sending as fast as it can would make last for ever, one of
    # the worker's cores busy with it.
    server = Gunicorn(tmp_path / "gunicorn", {
        "REDIS_URL": real_redis.url, "COUNTER_SITES": "demo", "WEB_CONCURRENCY": "1"}).start()
    chunk = b"x" * 65536
    if b"chunked" in framing:
        chunk = b"10000\r\n" + chunk + b"\r\n"
    try:
        with socket.create_connection(("127.0.0.1", server.port)) as sock:
            sock.sendall(b"POST /api/v1/sites/demo/hits HTTP/1.1\r\nHost: counter\r\n"
                         b"Content-Type: application/json\r\n" + framing + b"\r\n")
            sock.settimeout(1)
            started = time.monotonic()
            with pytest.raises(OSError):  # reset or broken pipe once the service closed it
                while time.monotonic() - started < 4:
                    sock.sendall(chunk)
            cut = time.monotonic() - started
    finally:
        log = server.stop()
    assert cut < 2, f"still reading the body after {cut:.1f} s"
    assert "Traceback" not in log, log


def test_a_head_longer_than_nginx_passes_is_refused_before_it_is_read_whole(tmp_path, real_redis):
    # gunicorn alone would read a head of up to 100 fields of 8 KB (800 KB),
    # copying and scanning all it has so far at every read: one such head
    # cost a worker 64 ms of CPU, 200 ms sent in small pieces (180 to 550
    # hits' worth), and a /healthz needs no rate limit to send it to. A head
    # past nginx's own bound (32 KiB, large_client_header_buffers 4 8k) is
    # refused; one of a browser with long cookies and Referer is served.
    server = Gunicorn(tmp_path / "gunicorn", {
        "REDIS_URL": real_redis.url, "COUNTER_SITES": "demo", "WEB_CONCURRENCY": "1"}).start()
    try:
        heads = {}
        for name, fields in (("browser", {"Cookie": "c" * 8000, "Referer": "https://p/" + "r" * 4000,
                                          **{f"Sec-Ch-{i}": "v" * 200 for i in range(20)}}),
                             ("long", {f"X-Filler-{i}": "a" * 1000 for i in range(40)})):
            with socket.create_connection(("127.0.0.1", server.port)) as sock:
                sock.settimeout(5)
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: counter\r\nUser-Agent: Mozilla/5.0\r\n"
                             + b"".join(f"{k}: {v}\r\n".encode() for k, v in fields.items()) + b"\r\n")
                heads[name] = sock.recv(64).split(b" ")[1]
    finally:
        log = server.stop()
    assert heads == {"browser": b"200", "long": b"431"}, heads
    assert "Traceback" not in log, log
