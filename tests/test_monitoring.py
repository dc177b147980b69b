"""The Grafana dashboard and the alert rules in deploy/ use only metrics the service exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from conftest import browser
from prometheus_client.parser import text_string_to_metric_families

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
DASHBOARD = DEPLOY / "grafana-dashboard.json"
ALERTS = DEPLOY / "prometheus-alerts.yml"
PROMQL_WORDS = {"sum", "max", "min", "avg", "count", "rate", "increase", "irate", "histogram_quantile",
                "absent", "by", "without", "on", "ignoring", "unless", "and", "or", "label_values",
                "group_left", "group_right", "bool"}
# Labels that Prometheus itself adds to every series it scrapes.
SCRAPE_LABELS = {"job", "instance"}
PER_PROMETHEUS = {"up"}


def exported(app) -> dict[str, set[str]]:
    """Return every sample name of a live /metrics, with the labels it carries."""
    web = browser(app)
    web.post("/api/v1/sites/demo/hits", json={"visitor": "v" * 22, "path": "/a"})
    browser(app).post("/api/v1/sites/demo/hits", json={}, headers={"User-Agent": "curl/8.0"})
    web.get("/api/v1/sites/demo/stats")
    response = web.get("/metrics")
    assert response.status_code == 200
    names: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            names.setdefault(sample.name, set()).update(sample.labels)
    return names


def expressions() -> list[str]:
    """Return every PromQL expression of the dashboard and the alert rules."""
    board = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in board["panels"] for t in p.get("targets", [])]
    exprs += [v["definition"] for v in board["templating"]["list"] if v["type"] == "query"]
    rules = yaml.safe_load(ALERTS.read_text())
    exprs += [r["expr"] for g in rules["groups"] for r in g["rules"]]
    return exprs


def selectors(expr: str) -> list[tuple[str, set[str]]]:
    """Return (metric name, label names in its matcher) for each series an expression reads."""
    expr = re.sub(r"label_values\((\w+),\s*(\w+)\)", r'\1{\2=""}', expr)  # Grafana's variables
    expr = re.sub(r"\[[^\]]*\]", "", expr)                       # range selectors
    expr = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", expr)  # grouping labels
    found = []
    for name, matcher in re.findall(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{[^}]*\})?", expr):
        if name in PROMQL_WORDS or re.fullmatch(r"\d[\d.e]*", name):
            continue
        labels = set(re.findall(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)", matcher))
        found.append((name, labels))
    return found


def test_every_metric_in_the_dashboard_and_alerts_is_exported(make_app):
    names = exported(make_app())
    used = set()
    for expr in expressions():
        stripped = re.sub(r'"[^"]*"', '""', expr)  # label values are not names
        for name, labels in selectors(stripped):
            if name in PER_PROMETHEUS:
                continue
            assert name in names, f"{name} (in {expr!r}) is not among {sorted(names)}"
            assert labels - SCRAPE_LABELS <= names[name], f"{name} has no label {labels - names[name]}"
            used.add(name)
    # Hits by result, latency, Redis errors, the breaker and online per site are all on view.
    assert {"counter_hits_total", "counter_request_seconds_bucket", "counter_redis_errors_total",
            "counter_breaker_open", "counter_online"} <= used


def test_the_hit_results_the_dashboard_and_alerts_name_are_ones_the_service_records():
    source = (Path(__file__).resolve().parent.parent / "counter" / "service.py").read_text()
    recorded = set(re.findall(r'HITS\.labels\([^)]*?"(\w+)"', source))
    recorded |= set(re.findall(r'"(\w+)" if counts\.status == OK else "(\w+)"', source)[0])
    named = {v for e in expressions() for v in re.findall(r'result="(\w+)"', e)}
    assert named and named <= recorded, (named, recorded)


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
     [("counter_request_seconds_bucket", {"job"})]),
    ("label_values(counter_online, site)", [("counter_online", {"site"})]),
    ('max(up{job="counter"}) == 1 unless on() count(counter_online) > 0',
     [("up", {"job"}), ("counter_online", set())]),
])
def test_selectors_are_read_as_prometheus_does(expr, read):
    assert selectors(re.sub(r'"[^"]*"', '""', expr)) == read
