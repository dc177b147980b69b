"""The production response writer: one send per whole answer, the same bytes as gunicorn's."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import BROWSER_UA
from tests.servers import Gunicorn

ROOT = Path(__file__).resolve().parent.parent

# Run in a child process: loading deploy/gunicorn.conf.py patches ssl for gevent and gunicorn's Response.
WRITE = r'''
import importlib.util, json, sys
from gunicorn import util
from gunicorn.config import Config
from gunicorn.http import wsgi

stock = wsgi.Response
spec = importlib.util.spec_from_file_location("gunicorn_conf", sys.argv[1])
conf = importlib.util.module_from_spec(spec)
spec.loader.exec_module(conf)
util.http_date = lambda *a: "Thu, 26 Nov 2026 04:00:00 GMT"


class Request:
    version, method = (1, 1), sys.argv[2]

    def should_close(self):
        return False


class Socket:
    def __init__(self):
        self.sends = []

    def sendall(self, data):
        self.sends.append(data.decode("latin-1"))

    def send(self, data):
        self.sendall(bytes(data))
        return len(data)


def answer(cls, status, headers, chunks):
    sock = Socket()
    resp = cls(Request(), sock, Config())
    resp.start_response(status, headers)
    for chunk in chunks:
        resp.write(chunk.encode())
    return {"sends": sock.sends, "sent": resp.sent}


cases = [("200 OK", [("Content-Type", "application/json"), ("Content-Length", "8")], ["{\"a\":1}\n"]),
         ("200 OK", [("Content-Length", "6")], ["abc", "def"]),  # two writes
         ("200 OK", [("Content-Type", "text/plain")], ["abc"]),  # no length: chunked
         ("304 Not Modified", [("ETag", "\"x\"")], [""])]
print(json.dumps({"patched": wsgi.Response is conf.OneWriteResponse,
                  "ours": [answer(conf.OneWriteResponse, *c) for c in cases],
                  "stock": [answer(stock, *c) for c in cases]}))
'''


def run(method: str, tmp_path) -> dict:
    """Write the cases with both response classes in a child process; return what each sent."""
    env = dict(os.environ, PROMETHEUS_MULTIPROC_DIR=str(tmp_path))
    done = subprocess.run([sys.executable, "-c", WRITE, str(ROOT / "deploy" / "gunicorn.conf.py"), method],
                          capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_a_whole_answer_leaves_in_one_send_with_gunicorns_bytes(tmp_path):
    result = run("POST", tmp_path)
    assert result["patched"]
    ours, stock = result["ours"], result["stock"]
    for mine, theirs in zip(ours, stock, strict=True):
        assert "".join(mine["sends"]) == "".join(theirs["sends"]) and mine["sent"] == theirs["sent"]
    assert len(stock[0]["sends"]) == 2 and len(ours[0]["sends"]) == 1
    assert ours[0]["sends"][0].endswith('\r\n\r\n{"a":1}\n')
    assert [len(o["sends"]) for o in ours[1:]] == [len(s["sends"]) for s in stock[1:]]


def test_a_head_request_sends_no_body(tmp_path):
    result = run("HEAD", tmp_path)
    ours, stock = result["ours"], result["stock"]
    assert ours == stock
    assert len(ours[0]["sends"]) == 1 and ours[0]["sends"][0].endswith("Content-Length: 8\r\n\r\n")


def _answers(sock, methods: list[str]) -> list[tuple[int, bytes]]:
    """Read one answer per method off a kept-alive connection, past any 100 Continue: status and body."""
    answers = []
    with sock.makefile("rb") as stream:
        for method in methods:
            line = stream.readline()
            while line.startswith(b"HTTP/1.1 100 "):
                stream.readline()
                line = stream.readline()
            status, headers = int(line.split()[1]), {}
            while (header := stream.readline()) != b"\r\n":
                name, _, value = header.decode("latin-1").partition(":")
                headers[name.lower()] = value.strip()
            assert headers["connection"] == "keep-alive", (status, headers)
            length = 0 if method == "HEAD" or status == 304 else int(headers["content-length"])
            answers.append((status, stream.read(length)))
    return answers


@pytest.mark.redis
def test_pipelined_answers_each_in_one_send_keep_the_connection_in_step(tmp_path, real_redis):
    # Hits answered before Flask and refusals answered by it, with bodies of every
    # shape, all sent at once on one connection: each answer is whole and in order.
    server = Gunicorn(tmp_path / "gunicorn", {"REDIS_URL": real_redis.url, "COUNTER_SITES": "demo"}).start()

    def post(path: str, body: bytes, head: str = "") -> bytes:
        """Return a POST of `body` with a Content-Length (or a chunked body when `head` says so)."""
        length = "" if "chunked" in head else f"Content-Length: {len(body)}\r\n"
        return (f"POST {path} HTTP/1.1\r\nHost: x\r\nUser-Agent: {BROWSER_UA}\r\n"
                f"Content-Type: application/json\r\n{head}{length}\r\n").encode() + body

    hits = "/api/v1/sites/demo/hits"
    sent = [("POST", post(hits, b'{"visitor": "pipelined-visitor-01"}')),
            ("POST", post(hits, b"{" + b" " * 5000 + b"}")),  # refused after 4 KiB; the rest skipped
            ("POST", post(hits, b"2\r\n{}\r\n0\r\nX-Trailer: 1\r\n\r\n", "Transfer-Encoding: chunked\r\n")),
            ("POST", post(hits, b"{}", "Expect: 100-continue\r\n")),
            ("POST", post("/api/v1/sites/nope/heartbeat", b'{"a": 1}')),  # refused before its body
            ("POST", post("/api/v1/sites/demo/heartbeat/", b"{}")),  # Flask's view
            ("HEAD", b"HEAD /api/v1/sites/demo/stats HTTP/1.1\r\nHost: x\r\n\r\n"),
            ("GET", b"GET /api/v1/sites/demo/stats HTTP/1.1\r\nHost: x\r\nIf-None-Match: *\r\n\r\n"),
            ("GET", b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")]
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(b"".join(data for _, data in sent))
            answers = _answers(sock, [method for method, _ in sent])
    finally:
        log = server.stop()
    assert [status for status, _ in answers] == [200, 413, 200, 200, 404, 200, 200, 304, 200], answers
    assert json.loads(answers[0][1])["counted"] is True
    assert json.loads(answers[4][1])["error"]["code"] == "unknown_site"
    assert answers[-1][1] == b'{"status":"ok"}\n'
    assert "Traceback" not in log, log


# post_request on a connection's requests 1..6, counting the yields it makes.
YIELDS = r'''
import importlib.util, json, sys, types
spec = importlib.util.spec_from_file_location("gunicorn_conf", sys.argv[1])
conf = importlib.util.module_from_spec(spec)
spec.loader.exec_module(conf)
yields = []
conf.gevent.sleep = lambda seconds=0: yields.append(seconds)
worker = types.SimpleNamespace()
for n in range(1, 7):
    req = types.SimpleNamespace(req_number=n)
    conf.post_request(worker, req, {}, None)
print(json.dumps({"yields": yields, "every": conf.YIELD_EVERY}))
'''


def test_a_keep_alive_connection_yields_to_the_others_every_few_requests(tmp_path):
    env = dict(os.environ, PROMETHEUS_MULTIPROC_DIR=str(tmp_path))
    done = subprocess.run([sys.executable, "-c", YIELDS, str(ROOT / "deploy" / "gunicorn.conf.py")],
                          capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["every"] >= 1
    assert result["yields"] == [0] * (6 // result["every"])
