"""Gunicorn settings for the counter (override with GUNICORN_CMD_ARGS)."""

import glob
import os
import signal
import tempfile

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
