"""The production access log: the lean writer prints what gunicorn's own logger would."""

from __future__ import annotations

import datetime
import importlib.util
from pathlib import Path

from gunicorn.config import Config
from gunicorn.glogging import Logger

ROOT = Path(__file__).resolve().parent.parent


def deploy_config(monkeypatch, tmp_path: Path):
    """Load deploy/gunicorn.conf.py as a module, without leaving its environment behind."""
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    spec = importlib.util.spec_from_file_location("gunicorn_conf", ROOT / "deploy" / "gunicorn.conf.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Response:
    """What gunicorn's logger reads from a response."""

    def __init__(self, status: str, sent: int | None) -> None:
        """Keep the status line and the bytes sent."""
        self.status, self.sent = status, sent
        self.headers = [("Content-Type", "application/json")]


def line(logger_class, tmp_path: Path, fmt: str, status: str, sent: int | None) -> str:
    """Return the access line that `logger_class` writes for one request."""
    out = tmp_path / f"{logger_class.__name__}.log"
    cfg = Config()
    cfg.set("accesslog", str(out))
    cfg.set("access_log_format", fmt)
    log = logger_class(cfg)
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/api/v1/sites/demo/hits", "RAW_URI": "/x?y=1",
               "QUERY_STRING": "y=1", "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "198.51.100.7"}
    took = datetime.timedelta(seconds=1, microseconds=2500)
    log.access(Response(status, sent), [("USER-AGENT", "x")], environ, took)
    for handler in log.access_log.handlers:
        handler.close()
    return out.read_text()


def test_the_lean_access_line_is_gunicorns_line(tmp_path, monkeypatch):
    conf = deploy_config(monkeypatch, tmp_path)
    assert conf.logger_class is conf.AccessLogger
    for status, sent in (("200 OK", 512), ("404 NOT FOUND", None)):
        lean = line(conf.AccessLogger, tmp_path, conf.access_log_format, status, sent)
        assert lean == line(Logger, tmp_path, conf.access_log_format, status, sent)
        assert lean.startswith("POST /api/v1/sites/demo/hits ") and lean.endswith("1002ms\n")


def test_a_format_with_more_fields_goes_through_gunicorns_logger(tmp_path, monkeypatch):
    conf = deploy_config(monkeypatch, tmp_path)
    fmt = '%(h)s %(r)s %(s)s'
    assert line(conf.AccessLogger, tmp_path, fmt, "200 OK", 1) == line(Logger, tmp_path, fmt, "200 OK", 1)
