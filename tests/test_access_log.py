"""The production access log: the lean writer prints what gunicorn's own logger would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Run in a child process: loading deploy/gunicorn.conf.py patches ssl for gevent.
WRITE_LINES = r'''
import datetime, importlib.util, json, sys
from gunicorn.config import Config
from gunicorn.glogging import Logger

spec = importlib.util.spec_from_file_location("gunicorn_conf", sys.argv[1])
conf = importlib.util.module_from_spec(spec)
spec.loader.exec_module(conf)


class Response:
    def __init__(self, status, sent):
        self.status, self.sent = status, sent
        self.headers = [("Content-Type", "application/json")]


def line(logger_class, fmt, status, sent, path, out):
    cfg = Config()
    cfg.set("accesslog", out)
    cfg.set("access_log_format", fmt)
    log = logger_class(cfg)
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": path, "RAW_URI": "/x?y=1",
               "QUERY_STRING": "y=1", "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "198.51.100.7"}
    took = datetime.timedelta(seconds=1, microseconds=2500)
    log.access(Response(status, sent), [("USER-AGENT", "x")], environ, took)
    for handler in log.access_log.handlers:
        handler.close()
    with open(out) as fh:
        return fh.read()


lines = []
hits = "/api/v1/sites/demo/hits"
for n, (fmt, status, sent, path) in enumerate([(conf.access_log_format, "200 OK", 512, hits),
                                               (conf.access_log_format, "404 NOT FOUND", None, hits),
                                               ("%(h)s %(r)s %(s)s", "200 OK", 1, hits),
                                               # a quote decoded from %22: gunicorn escapes it
                                               (conf.access_log_format, "400 BAD REQUEST", 96,
                                                '/api/v1/sites/a" 200 1 1ms/hits')]):
    lines.append([line(cls, fmt, status, sent, path, f"{sys.argv[2]}/{n}-{k}.log")
                  for k, cls in enumerate((conf.Logger, Logger))])
print(json.dumps({"lean_is_used": conf.logger_class is conf.Logger, "lines": lines}))
'''


def test_the_lean_access_line_is_gunicorns_line(tmp_path):
    env = dict(os.environ, PROMETHEUS_MULTIPROC_DIR=str(tmp_path))
    done = subprocess.run([sys.executable, "-c", WRITE_LINES, str(ROOT / "deploy" / "gunicorn.conf.py"),
                           str(tmp_path)], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["lean_is_used"]
    for ours, gunicorns in result["lines"]:
        assert ours == gunicorns
    assert result["lines"][0][0] == "POST /api/v1/sites/demo/hits 200 512 1002ms\n"
    assert result["lines"][2][0].startswith("198.51.100.7 POST /x?y=1 HTTP/1.1 200")  # the stock path
    assert result["lines"][3][0] == 'POST /api/v1/sites/a\\" 200 1 1ms/hits 400 96 1002ms\n'
