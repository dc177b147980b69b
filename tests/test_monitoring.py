"""The Grafana dashboard and the alert rules in deploy/ use only metrics the service exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from counter.store import StoreUnavailable
from tests.helpers import browser

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
DASHBOARD = DEPLOY / "grafana-dashboard.json"
ALERTS = DEPLOY / "prometheus-alerts.yml"
PROMQL_WORDS = {"sum", "max", "min", "avg", "count", "rate", "increase", "irate", "histogram_quantile",
                "absent", "by", "without", "on", "ignoring", "unless", "and", "or", "label_values",
                "group_left", "group_right", "bool"}
# Labels that Prometheus itself adds to every series it scrapes.
SCRAPE_LABELS = {"job", "instance"}
PER_PROMETHEUS = {"up"}


def exported(app, monkeypatch) -> dict[str, dict[str, set[str]]]:
    """Make every kind of hit, then return each sample name of a live /metrics with its label values."""
    web = browser(app)
    hit = {"visitor": "v" * 22, "hit": "h" * 12, "path": "/a"}
    web.post("/api/v1/sites/demo/hits", json=hit)                         # counted
    web.post("/api/v1/sites/demo/hits", json=hit)                         # duplicate
    web.post("/api/v1/sites/demo/hits", json={}, headers={"User-Agent": "Googlebot/2.1"})  # bot
    for _ in range(3):
        web.post("/api/v1/sites/demo/hits", json={})                      # then rate_limited
    store = app.extensions["counter"].store

    def down(*args, **kwargs):
        raise StoreUnavailable("down")

    monkeypatch.setattr(store, "hit", down)
    assert web.post("/api/v1/sites/demo/hits", json={}, environ_base={"REMOTE_ADDR": "192.0.2.9"}
                    ).status_code == 503                                   # error
    monkeypatch.undo()
    web.get("/api/v1/sites/demo/stats")
    response = web.get("/metrics")
    assert response.status_code == 200
    names: dict[str, dict[str, set[str]]] = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            labels = names.setdefault(sample.name, {})
            for label, value in sample.labels.items():
                labels.setdefault(label, set()).add(value)
    return names


def expressions() -> list[str]:
    """Return every PromQL expression of the dashboard and the alert rules."""
    board = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in board["panels"] for t in p.get("targets", [])]
    exprs += [v["definition"] for v in board["templating"]["list"] if v["type"] == "query"]
    rules = yaml.safe_load(ALERTS.read_text())
    exprs += [r["expr"] for g in rules["groups"] for r in g["rules"]]
    return exprs


def selectors(expr: str) -> list[tuple[str, dict[str, str | None]]]:
    """Return (metric name, {label: value}) for each series an expression reads.

    A label matched by a pattern or a negation has the value None.
    """
    expr = re.sub(r"label_values\((\w+),\s*(\w+)\)", r'\1{\2=~""}', expr)  # Grafana's variables
    expr = re.sub(r"\[[^\]]*\]", "", expr)                       # range selectors
    expr = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", expr)  # grouping labels
    # Words inside label values are not names: find names with the values blanked, same length.
    blank = re.sub(r'"[^"]*"', lambda m: '"' + " " * (len(m.group()) - 2) + '"', expr)
    found = []
    for m in re.finditer(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{[^}]*\})?", blank):
        name = m.group(1)
        if name in PROMQL_WORDS or re.fullmatch(r"\d[\d.e]*", name):
            continue
        body = expr[m.start(2):m.end(2)] if m.group(2) else ""
        found.append((name, {label: (value if op == "=" else None) for label, op, value in
                             re.findall(r'([a-zA-Z_]\w*)\s*(=~|!~|!=|=)\s*"([^"]*)"', body)}))
    return found


def test_every_metric_label_and_value_in_the_dashboard_and_alerts_is_exported(make_app, monkeypatch):
    names = exported(make_app(COUNTER_RATE_LIMIT="3"), monkeypatch)
    used = set()
    for expr in expressions():
        for name, labels in selectors(expr):
            if name in PER_PROMETHEUS:
                continue
            assert name in names, f"{name} (in {expr!r}) is not among {sorted(names)}"
            for label, value in labels.items():
                if label in SCRAPE_LABELS:
                    continue
                assert label in names[name], f"{name} has no label {label} (in {expr!r})"
                if value is not None:
                    assert value in names[name][label], f"{name}{{{label}={value!r}}} is never exported"
            used.add(name)
    # Hits by result, latency, Redis errors, the breaker and online per site are all on view.
    assert {"counter_hits_total", "counter_request_seconds_bucket", "counter_redis_errors_total",
            "counter_breaker_open", "counter_online"} <= used
    assert names["counter_hits_total"]["result"] == {"counted", "duplicate", "bot", "rate_limited", "error"}


def test_the_alert_rules_are_well_formed():
    rules = yaml.safe_load(ALERTS.read_text())
    alerts = {r["alert"]: r for g in rules["groups"] for r in g["rules"]}
    assert {"CounterStoreDead", "CounterBreakerOpen"} <= set(alerts)
    for name, rule in alerts.items():
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations", "keep_firing_for"}, name
        assert re.fullmatch(r"\d+[smh]", rule["for"]), name
        assert rule["labels"]["severity"] in ("critical", "warning"), name
        assert rule["annotations"]["summary"], name
        assert rule["expr"].count("(") == rule["expr"].count(")"), name


def test_the_dashboard_is_importable():
    board = json.loads(DASHBOARD.read_text())
    assert board["uid"] and board["title"] and board["schemaVersion"] >= 36
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    for p in board["panels"]:
        assert p["datasource"]["uid"] == "${datasource}"
        grid = p["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24
        for t in p["targets"]:
            assert t["expr"].count("(") == t["expr"].count(")"), t["expr"]


@pytest.mark.parametrize(("expr", "read"), [
    ('sum by (le) (rate(counter_request_seconds_bucket{job=~"$job"}[5m]))',
     [("counter_request_seconds_bucket", {"job": None})]),
    ("label_values(counter_online, site)", [("counter_online", {"site": None})]),
    ('max(up{job="counter"}) == 1 unless on() count(counter_online) > 0',
     [("up", {"job": "counter"}), ("counter_online", {})]),
    ('sum(rate(counter_hits_total{job="counter",result="error"}[5m])) / sum(rate(counter_hits_total[5m]))',
     [("counter_hits_total", {"job": "counter", "result": "error"}), ("counter_hits_total", {})]),
])
def test_selectors_are_read_as_prometheus_does(expr, read):
    assert selectors(expr) == read
