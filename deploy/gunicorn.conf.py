"""Gunicorn settings for the counter (override with GUNICORN_CMD_ARGS)."""

import os

bind = os.environ.get("COUNTER_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "sync"
# Redis calls time out after 0.5 s, so a request never comes near this.
timeout = 30
graceful_timeout = 20
keepalive = 5
# Each worker builds the app, and so its Redis client, after the fork.
preload_app = False
accesslog = "-"
# No query strings, no client addresses: portals' visitors are not logged.
access_log_format = '%(m)s %(U)s %(s)s %(B)s %(M)sms'


def on_starting(server):
    """Start the embedded store once, for every worker, when REDIS_URL is unset."""
    if not os.environ.get("REDIS_URL"):
        from counter import embedded

        os.environ["REDIS_URL"] = embedded.start()
