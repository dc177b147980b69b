"""The service's Prometheus metrics, recorded where things happen.

Under gunicorn, deploy/gunicorn.conf.py sets PROMETHEUS_MULTIPROC_DIR before
any worker starts, so every worker writes its samples to files there and
/metrics adds them up.
"""

from prometheus_client import Counter, Gauge, Histogram

HIT_RESULTS = Counter("counter_hits_total", "Hits by site and result", ["site", "result"])
LATENCY = Histogram("counter_request_seconds", "Request latency by endpoint", ["endpoint"],
                    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5))
REDIS_ERRORS = Counter("counter_redis_errors_total", "Redis calls that failed or the breaker refused")
BREAKER = Gauge("counter_breaker_open", "1 while a worker's circuit breaker is open",
                multiprocess_mode="max")

_latency_by_endpoint: dict = {}


def latency(endpoint: str):
    """Return LATENCY's child for an endpoint (a route's rule), made once per process."""
    child = _latency_by_endpoint.get(endpoint)
    if child is None:
        child = _latency_by_endpoint[endpoint] = LATENCY.labels(endpoint)
    return child
