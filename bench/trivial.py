"""Baseline (b) for bench/load.py: the trivial counter, one INCR of one key per request.

    REDIS_URL=redis://127.0.0.1:6379/0 gunicorn -w 2 -k gevent --chdir bench trivial:app
"""

import os

import redis
from flask import Flask

app = Flask(__name__)
# Opened in each worker (gunicorn imports the app after the fork, after gevent's patching).
store = redis.Redis.from_url(os.environ["REDIS_URL"])


@app.route("/", methods=["GET", "POST"])
def hit():
    """Count one hit and answer the new count."""
    return f"{store.incr('trivial:hits')}\n"
