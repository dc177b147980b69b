"""A visit counter for public portals: total, today and online-now."""

from __future__ import annotations

import logging
import os

from flask import Flask

from . import api, dashboard, embedded, errors, home, metrics, ops, widget
from .clock import SystemClock
from .config import ConfigError, from_env
from .fastjson import FastJSONProvider
from .front import Front
from .service import Counter
from .store import TIMEOUT, Store

log = logging.getLogger(__name__)


def create_app(test_config: dict | None = None) -> Flask:
    """Create the app: defaults and the environment, then test overrides."""
    app = Flask(__name__)
    app.config.from_mapping(from_env(dict(os.environ)))
    app.config["CLOCK"] = SystemClock()
    if test_config:
        app.config.update(test_config)
    app.json = FastJSONProvider(app)  # unsorted keys, UTF-8 as is
    app.url_map.strict_slashes = False
    # No redirect for "//": werkzeug's would be absolute, naming whatever Host the client sent.
    app.url_map.merge_slashes = False

    init_counter(app)
    errors.init_app(app)
    api.init_app(app)
    app.register_blueprint(ops.bp)
    app.register_blueprint(widget.bp)
    app.register_blueprint(dashboard.bp)
    app.register_blueprint(home.bp)
    metrics.init_app(app)
    app.wsgi_app = Front(app, app.config["TRUSTED_PROXIES"])
    return app


def init_counter(app: Flask) -> None:
    """Attach the counter; its client opens now (to check the eviction policy) and again after a fork."""
    cfg = app.config
    url = cfg["REDIS_URL"] or embedded.start(cfg["DATA_DIR"])
    store = Store(url, prefix=cfg["KEY_PREFIX"], online_window=cfg["ONLINE_WINDOW"],
                  visit_timeout=cfg["VISIT_TIMEOUT"], rate_limit=cfg["RATE_LIMIT"],
                  new_visit_limit=cfg["NEW_VISIT_LIMIT"], max_paths=cfg["MAX_PATHS"],
                  timeout=cfg.get("REDIS_TIMEOUT", TIMEOUT))
    policy = store.eviction_policy()
    if policy not in (None, "noeviction"):
        # Evicting keys would drop totals, history or the sets that stop double counting.
        raise ConfigError(f"REDIS_URL: Redis has maxmemory-policy {policy}, which may evict the "
                          "counter's keys; set maxmemory-policy noeviction")
    app.extensions["counter"] = Counter(store, cfg["SITES"], cfg["CLOCK"], cfg["ONLINE_WINDOW"],
                                        cfg["STATS_CACHE_MS"] / 1000)

