"""The lean path: POST hits and heartbeats answered in front of Flask.

A hit is the service's busiest call and its cheapest answer; Flask's request
context, routing, hooks and response object cost about as much worker CPU as
the hit's own work. This WSGI layer answers the two writes with the very
functions the Flask views call (counter/api.py's `record_hit` and
`record_heartbeat`, so web.py's validation); counter/front.py, in front of
both, adds the same headers and records the same latency metric. Whatever
it cannot answer with a 200 goes on to Flask unchanged: other requests,
other methods, URLs that only Flask's routing takes (a trailing slash), and
every refusal or failure, which the view raises again (web.LEAN_FAILED) so
that errors.py answers it as any other.
"""

from __future__ import annotations

import re

from flask import Flask

from .api import record_heartbeat, record_hit
from .web import LEAN_FAILED, LEAN_ROUTE

WRITES = re.compile(r"/api/v1/sites/([^/]+)/(hits|heartbeat)")


class LeanWrites:
    """WSGI middleware answering well-formed hits and heartbeats; the rest goes to `wsgi_app`."""

    def __init__(self, app: Flask, wsgi_app) -> None:
        """Keep the app (its counter, JSON encoder and routes) and the WSGI app behind."""
        self.app = app
        self.wsgi_app = wsgi_app
        self.counter = app.extensions["counter"]
        self.routes = {}
        for kind, record in (("hits", record_hit), ("heartbeat", record_heartbeat)):
            rule = next(app.url_map.iter_rules(f"api.{kind}")).rule  # the metric's label, as Flask's
            self.routes[kind] = (record, rule)

    def __call__(self, environ: dict, start_response):
        """Answer a hit or heartbeat that succeeds; pass anything else on."""
        if environ.get("REQUEST_METHOD") != "POST":
            return self.wsgi_app(environ, start_response)
        match = WRITES.fullmatch(environ.get("PATH_INFO", ""))
        if match is None:
            return self.wsgi_app(environ, start_response)
        site_id, kind = match.groups()
        record, rule = self.routes[kind]
        try:
            body = record(self.counter, site_id, environ)
        except Exception as exc:  # handed to Flask, whose handlers answer every error
            environ[LEAN_FAILED] = exc
            return self.wsgi_app(environ, start_response)
        data = self.app.json.response_body(body)
        environ[LEAN_ROUTE] = (rule, site_id)
        start_response("200 OK", [("Content-Type", self.app.json.mimetype),
                                  ("Content-Length", str(len(data)))])
        return [data]
