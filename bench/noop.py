"""Baseline (a) for bench/load.py: a bare Flask app that answers a constant JSON object.

    gunicorn -w 2 -k gevent --chdir bench noop:app
"""

from flask import Flask, jsonify

app = Flask(__name__)


@app.get("/")
def noop():
    """Answer a constant JSON object."""
    return jsonify(status="ok")
