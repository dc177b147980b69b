"""A visit counter for public portals: total, today and online-now."""

from __future__ import annotations

import logging
import os

from flask import Flask, request
from werkzeug.middleware.proxy_fix import ProxyFix

from . import api, dashboard, embedded, errors, metrics, ops, widget
from .clock import SystemClock
from .config import ConfigError, from_env
from .service import Counter
from .store import Store

log = logging.getLogger(__name__)


def create_app(test_config: dict | None = None) -> Flask:
    """Create the app: defaults and the environment, then test overrides."""
    app = Flask(__name__)
    app.config.from_mapping(from_env(dict(os.environ)))
    app.config["CLOCK"] = SystemClock()
    if test_config:
        app.config.update(test_config)
    app.json.sort_keys = False
    app.json.ensure_ascii = False
    app.url_map.strict_slashes = False
    # No redirect for "//": werkzeug's would be absolute, naming whatever Host the client sent.
    app.url_map.merge_slashes = False

    init_counter(app)
    errors.init_app(app)
    api.init_app(app)
    app.register_blueprint(ops.bp)
    app.register_blueprint(widget.bp)
    app.register_blueprint(dashboard.bp)
    metrics.init_app(app)
    app.after_request(add_headers)
    if app.config["TRUSTED_PROXIES"]:
        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)
    return app


def init_counter(app: Flask) -> None:
    """Attach the counter; its Redis client opens in each worker on first use."""
    cfg = app.config
    url = cfg["REDIS_URL"] or embedded.start()
    store = Store(url, prefix=cfg["KEY_PREFIX"], online_window=cfg["ONLINE_WINDOW"],
                  visit_timeout=cfg["VISIT_TIMEOUT"], rate_limit=cfg["RATE_LIMIT"],
                  new_visit_limit=cfg["NEW_VISIT_LIMIT"])
    policy = store.eviction_policy()
    if policy not in (None, "noeviction"):
        # Evicting keys would drop totals, history or the sets that stop double counting.
        raise ConfigError(f"REDIS_URL: Redis has maxmemory-policy {policy}, which may evict the "
                          "counter's keys; set maxmemory-policy noeviction")
    app.extensions["counter"] = Counter(store, cfg["SITES"], cfg["CLOCK"], cfg["ONLINE_WINDOW"],
                                        cfg["STATS_CACHE_MS"] / 1000)


API_HEADERS = (
    ("Access-Control-Allow-Methods", "GET, POST, OPTIONS"),
    ("Access-Control-Allow-Headers", "Content-Type, If-None-Match"),
    ("Access-Control-Expose-Headers", "ETag, Retry-After"),
    ("Access-Control-Max-Age", "86400"),
    ("Vary", "Origin"),
)


def add_headers(response):
    """Add CORS and hardening headers to every answer."""
    headers = response.headers
    headers["X-Content-Type-Options"] = "nosniff"
    if request.path.startswith("/api/"):
        # Added, not set: no view sets these, and this runs on the busiest path.
        headers.add("Access-Control-Allow-Origin", _allowed_origin())
        headers.extend(API_HEADERS)
    return response


def _allowed_origin() -> str:
    """Return the Access-Control-Allow-Origin for this request.

    Reads are open to every page. A write is allowed to the site's own
    origins when it lists any; the handler has already refused the others.
    """
    writing = request.method == "POST" or (
        request.method == "OPTIONS"
        and request.headers.get("Access-Control-Request-Method", "GET") == "POST")
    if not writing:
        return "*"
    origin = request.headers.get("Origin")
    site = _site_of((request.view_args or {}).get("site_id"))
    if site is None or not site.origins or origin is None:
        return "*"
    return origin if origin.rstrip("/") in site.origins else "null"


def _site_of(site_id: str | None):
    """Return the configured site of a request, if any."""
    from flask import current_app

    return current_app.extensions["counter"].sites.get(site_id) if site_id else None
