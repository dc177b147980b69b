"""Gunicorn settings for the counter (override with GUNICORN_CMD_ARGS)."""

import glob
import os
import tempfile

bind = os.environ.get("COUNTER_BIND", "127.0.0.1:8000")
# Measured with `make bench` (README "Performance"): a hit spends most of its
# time waiting for Redis, so threads that overlap those waits beat more
# processes: 2 gthread workers x 4 threads serve hits at 0.90 of the no-op,
# 4 sync workers at 0.51.
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
threads = int(os.environ.get("COUNTER_THREADS", "4"))
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
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="counter-metrics-"))


def on_starting(server):
    """Start from empty metrics, and start the embedded store when REDIS_URL is unset."""
    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)
    for stale in glob.glob(os.path.join(os.environ["PROMETHEUS_MULTIPROC_DIR"], "*.db")):
        os.remove(stale)
    if not os.environ.get("REDIS_URL"):
        from counter import embedded

        os.environ["REDIS_URL"] = embedded.start()


def child_exit(server, worker):
    """Drop a dead worker's live gauges."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
