"""The production response writer: one send per whole answer, the same bytes as gunicorn's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

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
