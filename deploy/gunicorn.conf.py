"""Gunicorn settings for the counter (override with GUNICORN_CMD_ARGS)."""

import functools
import glob
import logging
import os
import re
import signal
import tempfile

from gunicorn.glogging import Logger

bind = os.environ.get("COUNTER_BIND", "127.0.0.1:8000")
# Chosen with `make bench` (README "Performance"): gevent workers serve more
# hits than gthread or sync on two cores and hold the p99 of paced hits
# lowest (one thread per worker: no GIL hand-offs between request threads).
# Each worker keeps at most `worker_connections` requests, and so Redis
# connections, open at once.
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gevent"
worker_connections = int(os.environ.get("COUNTER_CONNECTIONS", "100"))
# Redis calls time out after 0.5 s, so a request never comes near this.
timeout = 30
graceful_timeout = 20
keepalive = 5
# Each worker builds the app, and so its Redis client, after the fork.
preload_app = False
accesslog = "-"
# No query strings, no client addresses: portals' visitors are not logged.
access_log_format = '%(m)s %(U)s %(s)s %(B)s %(M)sms'


class AccessLogger(Logger):
    """Gunicorn's logger, with a cheaper access line when the format needs only these fields.

    The stock logger copies every request header, response header and environ
    entry into the line's fields, then goes through a log record. Measured
    with bench/load.py, that was a quarter of a no-op request's CPU; this
    writes the same line straight to the access log's files and streams.
    """

    def access(self, resp, req, environ, request_time):
        """Write the access line; through logging when the format or the handlers need it."""
        if not self.access_log_enabled:
            return None
        handlers = self.access_log.handlers
        if (not _lean_format(self.cfg.access_log_format)
                or not all(type(h) in (logging.StreamHandler, logging.FileHandler) for h in handlers)):
            return super().access(resp, req, environ, request_time)
        status = resp.status
        line = self.cfg.access_log_format % {
            "m": environ.get("REQUEST_METHOD"),
            "U": environ.get("PATH_INFO"),
            "s": status.split(None, 1)[0] if isinstance(status, str) else status,
            "B": getattr(resp, "sent", None),
            "M": request_time.seconds * 1000 + request_time.microseconds // 1000,
        } + "\n"
        for handler in handlers:
            with handler.lock:
                handler.stream.write(line)
                handler.stream.flush()


logger_class = AccessLogger


@functools.cache
def _lean_format(fmt: str) -> bool:
    """Tell whether an access log format uses only method, path, status, bytes and milliseconds."""
    return set(re.findall(r"%\((\w+)\)", fmt)) <= set("mUsBM")

# Every worker writes its metrics here; /metrics adds them up. It must be set
# before prometheus_client is imported anywhere.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="counter-metrics-")


def on_starting(server):
    """Start from empty metrics, and start the embedded store when REDIS_URL is unset."""
    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)
    for stale in glob.glob(os.path.join(os.environ["PROMETHEUS_MULTIPROC_DIR"], "*.db")):
        os.remove(stale)
    if not os.environ.get("REDIS_URL"):
        from counter import embedded

        os.environ["REDIS_URL"] = embedded.start()


def post_fork(server, worker):
    """Let a stop signal end a worker that is still booting.

    Until the worker installs its own handlers, it runs the master's copies,
    which only queue the signal for a master that is not there: a worker
    stopped while it booted would then serve on until graceful_timeout.
    """
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGQUIT, signal.SIG_DFL)


def child_exit(server, worker):
    """Drop a dead worker's live gauges."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
