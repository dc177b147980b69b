"""/metrics: Prometheus text, summed over every gunicorn worker when
PROMETHEUS_MULTIPROC_DIR is set (deploy/gunicorn.conf.py sets it); without it
(tests, the development server) the numbers are this process's own."""

from __future__ import annotations

import hmac
import os

from flask import Blueprint, Flask, Response, current_app, request
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily

from .errors import error_response
from .store import StoreUnavailable

bp = Blueprint("metrics", __name__)


class OnlineCollector:
    """Read online-now per site at scrape time, from the store."""

    def __init__(self, counter) -> None:
        """Keep the counter service."""
        self.counter = counter

    def collect(self):
        """Yield one gauge sample per site; the last numbers seen when Redis is down, none if never seen."""
        family = GaugeMetricFamily("counter_online", "Visitors online now", labels=["site"])
        try:
            for row in self.counter.overview():
                family.add_metric([row["site"]], row["online"])
        except StoreUnavailable:
            pass
        yield family


@bp.get("/metrics")
def metrics():
    """Expose the metrics in Prometheus text format (to the bearer of the metrics token, if one is set)."""
    token = current_app.config.get("METRICS_TOKEN")
    if token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
            return error_response(401, "unauthorized", "A valid `Authorization: Bearer <token>` is required.",
                                  {"WWW-Authenticate": 'Bearer realm="metrics"'})
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    online = CollectorRegistry()
    online.register(OnlineCollector(current_app.extensions["counter"]))
    # content_type, not mimetype: Flask would add a second charset to the one CONTENT_TYPE_LATEST has.
    return Response(generate_latest(registry) + generate_latest(online), content_type=CONTENT_TYPE_LATEST)


def init_app(app: Flask) -> None:
    """Register /metrics (counter/front.py times every request)."""
    app.register_blueprint(bp)
