"""The WSGI layer in front of everything: what every answer shares.

Every request passes here first. The client's address and scheme are taken
from the trusted proxies' headers; then, as the answer starts (Flask's or the
lean path's, counter/lean.py), it gets the headers every answer carries
(cors.py) and its latency is recorded (telemetry.py). This is done here and
not in Flask's after_request and teardown hooks because Flask's dispatch of
those hooks, with its request proxies, cost more CPU than the work they did
(README, "Performance").
"""

from __future__ import annotations

import time

from flask import Flask

from .cors import answer_headers
from .lean import LeanWrites
from .telemetry import latency
from .web import LEAN_ROUTE


class Front:
    """WSGI middleware: client address, common headers and latency for every answer."""

    def __init__(self, app: Flask, hops: int) -> None:
        """Wrap the app's WSGI app (and the lean path before it); trust `hops` proxies (0: none)."""
        self.wsgi_app = LeanWrites(app, app.wsgi_app)
        self.counter = app.extensions["counter"]
        self.hops = hops

    def __call__(self, environ: dict, start_response):
        """Answer through the app, adding headers and timing as the answer starts."""
        started = time.perf_counter()
        if self.hops:
            trust_proxies(environ, self.hops)

        def start(status: str, headers: list, exc_info=None):
            """Add the common headers and record the latency, then start the answer."""
            rule, site_id = answering_route(environ)
            headers.extend(answer_headers(environ, self.counter.sites.get(site_id) if site_id else None))
            latency(rule).observe(time.perf_counter() - started)
            return start_response(status, headers, exc_info)

        return self.wsgi_app(environ, start)


def trust_proxies(environ: dict, hops: int) -> None:
    """Take the client's address and scheme from the trusted proxies' X-Forwarded-For and -Proto.

    As werkzeug's ProxyFix (x_for=x_proto=hops), but the entries are split
    at every comma, so that a client's unclosed quote cannot swallow the
    entries its proxies appended after it, and a scheme is http or https.
    """
    address = trusted_entry(environ.get("HTTP_X_FORWARDED_FOR"), hops)
    if address:
        environ["REMOTE_ADDR"] = address
    scheme = trusted_entry(environ.get("HTTP_X_FORWARDED_PROTO"), hops).lower()
    if scheme in ("http", "https"):
        environ["wsgi.url_scheme"] = scheme


def trusted_entry(value: str | None, hops: int) -> str:
    """Return the entry `hops` from the right of a comma-separated header; "" if it has fewer."""
    if not value:
        return ""
    entries = value.split(",")
    return entries[-hops].strip() if len(entries) >= hops else ""


def answering_route(environ: dict) -> tuple[str, str | None]:
    """Return the rule (the metric's label) and site id of the route answering a request."""
    lean = environ.get(LEAN_ROUTE)
    if lean is not None:
        return lean
    # Flask's request puts itself there (werkzeug's `populate_request`) until it pops its context.
    request = environ.get("werkzeug.request")
    rule = getattr(request, "url_rule", None)
    if rule is None:
        return "unmatched", None
    return rule.rule, (request.view_args or {}).get("site_id")
