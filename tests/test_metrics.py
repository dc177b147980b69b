"""/metrics: hits by result, latency by endpoint, Redis errors, online by site."""

from __future__ import annotations

from prometheus_client import REGISTRY

from counter import create_app
from tests.helpers import settings


def sample(name: str, **labels) -> float:
    """Return a sample of this process's registry (0 when absent)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_hits_are_counted_by_result(client, clock):
    before = {r: sample("counter_hits_total", site="demo", result=r)
              for r in ("counted", "duplicate", "bot")}
    client.post("/api/v1/sites/demo/hits", json={"visitor": "a" * 16, "hit": "hit-0001"})
    client.post("/api/v1/sites/demo/hits", json={"visitor": "a" * 16, "hit": "hit-0001"})
    client.post("/api/v1/sites/demo/hits", headers={"User-Agent": "Googlebot/2.1"})
    for result in before:
        assert sample("counter_hits_total", site="demo", result=result) == before[result] + 1
    text = client.get("/metrics").get_data(as_text=True)
    assert 'counter_request_seconds_count{endpoint="/api/v1/sites/<site_id>/hits"}' in text
    assert 'counter_online{site="demo"} 1.0' in text
    assert 'counter_online{site="other"} 0.0' in text


def test_rate_limited_hits_are_counted(make_app):
    c = make_app(COUNTER_RATE_LIMIT="2").test_client()
    c.environ_base["HTTP_USER_AGENT"] = "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0"
    before = sample("counter_hits_total", site="demo", result="rate_limited")
    statuses = [c.post("/api/v1/sites/demo/hits").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    assert sample("counter_hits_total", site="demo", result="rate_limited") == before + 1


def test_redis_errors_are_counted():
    config = settings()
    config.update(REDIS_URL="redis://127.0.0.1:1/0")
    c = create_app(config).test_client()
    before = sample("counter_redis_errors_total")
    response = c.post("/api/v1/sites/demo/hits", headers={"User-Agent": "Mozilla/5.0 Chrome/131"})
    assert response.status_code == 503
    assert sample("counter_redis_errors_total") >= before + 1
    text = c.get("/metrics").get_data(as_text=True)
    assert "counter_breaker_open 1.0" in text


def test_metrics_token_is_required_when_set(make_app):
    token = "metrics-token-of-24-chars"
    c = make_app(COUNTER_METRICS_TOKEN=token).test_client()
    for path in ("/metrics", "/metrics/"):
        for headers in ({}, {"Authorization": "Bearer wrong-token-of-24-chars!"},
                        {"Authorization": token}, {"Authorization": f"Basic {token}"}):
            r = c.get(path, headers=headers)
            assert r.status_code == 401, (path, headers)
            assert r.json["error"]["code"] == "unauthorized"
            assert r.headers["WWW-Authenticate"].startswith("Bearer")
            assert "counter_hits_total" not in r.get_data(as_text=True)
        r = c.get(path, headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200 and "counter_request_seconds" in r.get_data(as_text=True)


def test_metrics_are_open_without_a_token(make_app):
    c = make_app().test_client()
    assert c.get("/metrics").status_code == 200
    assert c.get("/metrics/").status_code == 200


def test_metrics_content_type_names_each_parameter_once(client):
    # A media type with a parameter given twice is invalid (RFC 9110); Prometheus 3
    # parses it with Go's mime.ParseMediaType, which refuses it, and fails the scrape.
    content_type = client.get("/metrics").headers["Content-Type"]
    media_type, *params = [part.strip() for part in content_type.split(";")]
    names = [param.partition("=")[0].lower() for param in params]
    assert media_type == "text/plain"
    assert len(names) == len(set(names)), content_type
    assert "charset=utf-8" in params


def test_every_request_is_timed_once_under_its_route(client):
    def count(endpoint: str) -> float:
        return sample("counter_request_seconds_count", endpoint=endpoint)

    routes = {"stats": "/api/v1/sites/<site_id>/stats", "hits": "/api/v1/sites/<site_id>/hits",
              "healthz": "/healthz", "none": "unmatched"}
    before = {name: count(rule) for name, rule in routes.items()}
    client.get("/healthz")
    client.get("/api/v1/sites/demo/stats")
    client.get("/no/such/page")
    client.post("/api/v1/sites/demo/hits", json={"visitor": "a" * 16})  # answered in front of Flask
    client.post("/api/v1/sites/demo/hits", data="{not json", content_type="application/json")  # by Flask
    assert {name: count(rule) - before[name] for name, rule in routes.items()} == {
        "stats": 1, "hits": 2, "healthz": 1, "none": 1}
