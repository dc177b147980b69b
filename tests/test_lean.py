"""The lean path (counter/lean.py) answers hits and heartbeats exactly as Flask's views would.

Every other test that posts a hit or a heartbeat goes through it too; these
compare it, answer by answer, with the Flask view behind it, which a URL with
a trailing slash reaches directly.
"""

from __future__ import annotations

import re
import time

import pytest
from helpers import browser

from counter.store import StoreUnavailable

ORIGIN = "https://portal.gov.vn"
TIMED = re.compile(r'counter_request_seconds_(count|sum)\{endpoint="/api/v1/sites/<site_id>/hits"\} (\S+)')


def timed(c) -> dict[str, float]:
    """Return the count and sum of the hits' latency metric (of this process, all tests)."""
    return {k: float(v) for k, v in TIMED.findall(c.get("/metrics").get_data(as_text=True))} or \
        {"count": 0.0, "sum": 0.0}


@pytest.fixture
def lean_app(make_app, tmp_path):
    """Return an app whose site `demo` takes writes from ORIGIN only."""
    sites = tmp_path / "sites.toml"
    sites.write_text(f'[demo]\norigins = ["{ORIGIN}"]\n')
    return make_app(COUNTER_SITES_FILE=str(sites), COUNTER_RATE_LIMIT="6")


def both(c, kind: str, **kwargs):
    """Send the same write through the lean path and through Flask; return both answers."""
    return (c.post(f"/api/v1/sites/demo/{kind}", **kwargs),
            c.post(f"/api/v1/sites/demo/{kind}/", **kwargs))


def same(lean, flask) -> None:
    """Assert two answers agree in status, headers and body shape (numbers may move)."""
    assert lean.status_code == flask.status_code
    drop = {"Content-Length"}
    assert ({k: v for k, v in lean.headers.items() if k not in drop}
            == {k: v for k, v in flask.headers.items() if k not in drop})
    lean_body, flask_body = lean.get_json(), flask.get_json()
    if "error" in lean_body:
        assert lean_body == flask_body
    else:
        assert lean_body.keys() == flask_body.keys()


def test_a_hit_skips_flask_and_is_timed(lean_app, monkeypatch):
    c = browser(lean_app)
    before = timed(c)
    entered = []
    dispatch = lean_app.full_dispatch_request
    monkeypatch.setattr(lean_app, "full_dispatch_request", lambda: entered.append(1) or dispatch())
    r = c.post("/api/v1/sites/demo/hits", json={"visitor": "v" * 16, "hit": "h" * 8, "path": "/a"},
               headers={"Origin": ORIGIN})
    assert r.status_code == 200 and r.get_json()["counted"] is True
    assert r.get_json()["page"] == {"path": "/a", "pageviews": 1, "today": 1}
    assert entered == []
    monkeypatch.undo()
    assert timed(c)["count"] == before["count"] + 1


@pytest.mark.parametrize("kind", ["hits", "heartbeat"])
@pytest.mark.parametrize("headers, body", [
    ({"Origin": ORIGIN}, {"json": {"visitor": "v" * 16}}),  # counted, with the site's origin
    ({}, {"json": {}}),  # no Origin: a server-side or same-origin write
    ({"Origin": "https://evil.example"}, {"json": {}}),  # refused origin
    ({}, {"data": b"{nope", "content_type": "application/json"}),
    ({}, {"data": b"[]", "content_type": "text/plain"}),
    ({}, {"data": b"{}", "content_type": "application/xml"}),
    ({}, {"data": b"{" + b" " * 5000 + b"}", "content_type": "application/json"}),
    ({}, {"json": {"visitor": "short"}}),
    ({}, {"json": {"visitor": "v" * 16, "hit": "no spaces"}}),
    ({}, {"json": {"visitor": "v" * 16, "path": "/\x00"}}),
])
def test_answers_match_flask(lean_app, kind, headers, body):
    same(*both(browser(lean_app), kind, headers=headers, **body))


def test_unknown_and_malformed_sites_match_flask(lean_app):
    c = browser(lean_app)
    for site in ("nope", "Bad_Id", "%C3%A9"):
        same(c.post(f"/api/v1/sites/{site}/hits", json={}), c.post(f"/api/v1/sites/{site}/hits/", json={}))


def test_a_limited_client_and_a_bot_match_flask(lean_app):
    c = browser(lean_app)
    for _ in range(3):
        same(*both(c, "hits", json={}))  # six hits: the limit
    lean, flask = both(c, "hits", json={})  # over it
    same(lean, flask)
    assert lean.status_code == 429 and int(lean.headers["Retry-After"]) >= 1
    bot = browser(lean_app, "203.0.113.9")
    bot.environ_base["HTTP_USER_AGENT"] = "Googlebot/2.1"
    lean, flask = both(bot, "hits", json={"path": "/a"})
    same(lean, flask)
    assert lean.status_code == 200 and lean.get_json()["counted"] is False  # recorded as a bot's


def test_a_failed_store_matches_flask_and_is_timed_from_the_start(lean_app, monkeypatch):
    counter = lean_app.extensions["counter"]

    def fail(*args, **kwargs):
        time.sleep(0.05)  # as a Redis that times out, briefly
        raise StoreUnavailable("down")

    monkeypatch.setattr(counter, "hit", fail)
    c = browser(lean_app)
    before = timed(c)
    lean = c.post("/api/v1/sites/demo/hits", json={})
    after = timed(c)
    assert lean.status_code == 503 and lean.headers["Retry-After"] == "1"
    assert after["count"] == before["count"] + 1 and after["sum"] - before["sum"] >= 0.05
    same(lean, c.post("/api/v1/sites/demo/hits/", json={}))


def test_other_methods_and_urls_go_to_flask(lean_app):
    c = browser(lean_app)
    assert c.get("/api/v1/sites/demo/hits").status_code == 405
    assert c.options("/api/v1/sites/demo/hits", headers={
        "Origin": ORIGIN, "Access-Control-Request-Method": "POST"}).headers[
        "Access-Control-Allow-Origin"] == ORIGIN
    assert c.post("/api/v1/sites/demo/hits/extra", json={}).status_code == 404


def test_the_client_address_is_the_one_trusted_proxies_tell(make_app):
    c = browser(make_app(COUNTER_TRUSTED_PROXIES="1", COUNTER_RATE_LIMIT="1"), "127.0.0.1")
    first = c.post("/api/v1/sites/demo/hits", json={}, headers={"X-Forwarded-For": "198.51.100.1"})
    other = c.post("/api/v1/sites/demo/hits", json={}, headers={"X-Forwarded-For": "198.51.100.2"})
    again = c.post("/api/v1/sites/demo/hits", json={}, headers={"X-Forwarded-For": "198.51.100.1"})
    assert (first.status_code, other.status_code, again.status_code) == (200, 200, 429)


def test_a_debug_app_answers_as_its_json_provider_writes(lean_app):
    lean_app.debug = True  # `flask run --debug`: Flask's provider indents its answers
    lean, flask = both(browser(lean_app), "hits", json={})
    assert lean.get_data(as_text=True).startswith('{\n  "site": "demo",\n')
    same(lean, flask)
