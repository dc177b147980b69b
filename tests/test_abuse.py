"""A public counter that cannot be pumped, probed or spoofed."""

from __future__ import annotations

import logging

import pytest
import redis as redis_py

from counter import create_app
from tests.helpers import ADMIN, ADMIN_TOKEN, browser, hit, settings


@pytest.mark.redis
def test_ten_thousand_visitor_ids_from_one_address_cannot_pump_the_total(real_redis, clock):
    redis_py.Redis.from_url(real_redis.url).flushall()
    config = settings()
    config.update(REDIS_URL=real_redis.url, CLOCK=clock)
    app = create_app(config)
    attacker, office = browser(app, "203.0.113.66"), browser(app, "198.51.100.7")
    statuses: dict[int, int] = {}
    for i in range(10_000):
        if i % 100 == 0:
            clock.advance(1)
        r = hit(attacker, f"rotating-id-{i:08d}")
        statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
        if i % 1000 == 0:
            assert hit(office, f"office-person-{i:06d}").status_code == 200  # others still count
    assert set(statuses) == {200, 429}
    body = office.get("/api/v1/sites/demo/stats").get_json()
    assert body["total"] - 10 <= 100  # COUNTER_NEW_VISIT_LIMIT per hour for the attacker
    assert statuses[200] <= 100
    limited = hit(attacker, "rotating-id-final000")
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) >= 1
    assert limited.get_json()["error"]["code"] == "rate_limited"


def test_hit_rate_limit_slides_over_the_minute(make_app, clock):
    app = make_app(COUNTER_RATE_LIMIT="10")
    c = browser(app)
    clock.set("2026-11-25T09:00:30+07:00")
    assert [hit(c, "same-visitor-0001").status_code for _ in range(11)] == [200] * 10 + [429]
    clock.set("2026-11-25T09:01:15+07:00")  # 3/4 of the last minute still counts: 7.5 of 10
    assert [hit(c, "same-visitor-0001").status_code for _ in range(4)] == [200, 200, 200, 429]
    clock.set("2026-11-25T09:02:59+07:00")
    assert hit(c, "same-visitor-0001").status_code == 200
    assert browser(app, "203.0.113.1").post("/api/v1/sites/demo/hits").status_code == 200


def test_an_office_behind_one_address_counts_normally(make_app, clock):
    c = browser(make_app())
    for person in range(80):  # 80 colleagues, each opening a few pages within the hour
        for _ in range(3):
            assert hit(c, f"colleague-{person:09d}").status_code == 200
            clock.advance(2)
    assert c.get("/api/v1/sites/demo/stats").get_json()["total"] == 80


def test_ipv6_clients_are_limited_by_their_64(make_app):
    app = make_app(COUNTER_RATE_LIMIT="3")
    results = [hit(browser(app, f"2001:db8:1:2::{i:x}")).status_code for i in range(1, 6)]
    assert results == [200, 200, 200, 429, 429]
    assert hit(browser(app, "2001:db8:1:3::1")).status_code == 200


def test_spoofed_forwarded_for_changes_nothing_without_a_trusted_proxy(make_app):
    c = browser(make_app(COUNTER_RATE_LIMIT="2"))
    for fake in ("1.1.1.1", "2.2.2.2", "3.3.3.3"):
        r = hit(c, headers={"X-Forwarded-For": fake})
        if r.status_code == 200:
            assert r.get_json()["total"] == 1  # one visitor: the socket's address decides
    assert r.status_code == 429


def test_one_trusted_proxy_uses_the_last_forwarded_address(make_app):
    c = browser(make_app(COUNTER_TRUSTED_PROXIES="1", COUNTER_RATE_LIMIT="2"), "127.0.0.1")
    first = hit(c, headers={"X-Forwarded-For": "198.51.100.1"}).get_json()
    second = hit(c, headers={"X-Forwarded-For": "198.51.100.2"}).get_json()
    assert (first["new_visit"], second["new_visit"]) == (True, True)  # two people behind the proxy
    # A client's own spoofed entry stands before the one the proxy appended: it is ignored.
    spoofed = [hit(c, headers={"X-Forwarded-For": f"10.9.9.{i}, 198.51.100.1"}) for i in range(2)]
    assert [r.status_code for r in spoofed] == [200, 429]
    assert spoofed[0].get_json()["new_visit"] is False


def test_two_trusted_proxies_use_the_second_address_from_the_right(make_app):
    c = browser(make_app(COUNTER_TRUSTED_PROXIES="2", COUNTER_RATE_LIMIT="1"), "127.0.0.1")
    first = hit(c, headers={"X-Forwarded-For": "10.9.9.1, 198.51.100.1, 10.0.0.2"})
    assert first.get_json()["new_visit"] is True
    # The same client through another last proxy, with another spoofed entry: one address, limited.
    assert hit(c, headers={"X-Forwarded-For": "10.9.9.2, 198.51.100.1, 10.0.0.3"}).status_code == 429
    assert hit(c, headers={"X-Forwarded-For": "198.51.100.2, 10.0.0.2"}).status_code == 200
    # Fewer entries than trusted proxies: the socket's address decides (here, the third).
    assert [hit(c, headers={"X-Forwarded-For": f"198.51.100.{i}"}).status_code for i in (3, 4)] == [200, 429]


@pytest.mark.parametrize("forwarded", ['"10.9.9.1, 198.51.100.1', '"10.9.9.1", 198.51.100.1',
                                       "10.9.9.1,198.51.100.1", " 198.51.100.1 "])
def test_a_clients_own_entry_cannot_hide_the_one_its_proxy_appended(make_app, forwarded):
    c = browser(make_app(COUNTER_TRUSTED_PROXIES="1", COUNTER_RATE_LIMIT="1"), "127.0.0.1")
    assert hit(c, headers={"X-Forwarded-For": "198.51.100.1"}).status_code == 200
    assert hit(c, headers={"X-Forwarded-For": forwarded}).status_code == 429


def test_an_empty_entry_where_the_proxys_should_be_changes_nothing(make_app):
    c = browser(make_app(COUNTER_TRUSTED_PROXIES="1", COUNTER_RATE_LIMIT="1"), "127.0.0.1")
    assert hit(c).status_code == 200  # from the socket's address
    assert hit(c, headers={"X-Forwarded-For": "198.51.100.1, "}).status_code == 429


@pytest.mark.parametrize(("hops", "forwarded", "scheme"), [
    ("0", "https", "http"), ("1", "https", "https"), ("1", "HTTPS", "https"), ("1", "http, https", "https"),
    ("2", "https, http", "https"), ("1", "javascript", "http"), ("1", "https, ", "http")])
def test_the_scheme_is_the_trusted_proxys(make_app, hops, forwarded, scheme):
    c = browser(make_app(COUNTER_TRUSTED_PROXIES=hops))
    html = c.get("/", headers={"X-Forwarded-Proto": forwarded}).get_data(as_text=True)
    assert f"{scheme}://localhost/widget.js" in html  # the snippet to copy
    assert html.count("://localhost/") == html.count(f"{scheme}://localhost/")


def test_cors_reads_are_open_and_writes_only_for_allowed_origins(make_app, tmp_path):
    sites = tmp_path / "sites.toml"
    sites.write_text('[demo]\norigins = ["https://portal.gov.vn"]\n[open]\n')
    c = browser(make_app(COUNTER_SITES_FILE=str(sites), COUNTER_SITES=""))
    pre = c.options("/api/v1/sites/demo/hits", headers={
        "Origin": "https://portal.gov.vn", "Access-Control-Request-Method": "POST"})
    assert pre.headers["Access-Control-Allow-Origin"] == "https://portal.gov.vn"
    bad_pre = c.options("/api/v1/sites/demo/hits", headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert "Access-Control-Allow-Origin" not in bad_pre.headers  # not even "null"
    assert "Access-Control-Allow-Credentials" not in bad_pre.headers
    anywhere = c.post("/api/v1/sites/open/hits", headers={"Origin": "https://anything.example"})
    assert anywhere.status_code == 200
    read = c.get("/api/v1/sites/demo/stats", headers={"Origin": "https://evil.example"})
    assert read.headers["Access-Control-Allow-Origin"] == "*"
    assert "Set-Cookie" not in read.headers


@pytest.mark.parametrize(("method", "path", "origin", "allowed"), [
    ("GET", "//api/v1/sites/demo/stats", "https://evil.example", "*"),
    ("POST", "//api/v1/sites/demo/hits", "https://portal.gov.vn", "https://portal.gov.vn"),
    ("POST", "///api/v1/sites/open/heartbeat", "https://anything.example", "*")])
def test_an_api_path_with_repeated_leading_slashes_keeps_its_cors_headers(
        make_app, tmp_path, method, path, origin, allowed):
    # A base URL ending in "/" makes "//api/..."; nginx passes it as sent and the API's routes answer it.
    sites = tmp_path / "sites.toml"
    sites.write_text('[demo]\norigins = ["https://portal.gov.vn"]\n[open]\n')
    c = browser(make_app(COUNTER_SITES_FILE=str(sites), COUNTER_SITES=""))
    r = c.open("/", method=method, json={} if method == "POST" else None, headers={"Origin": origin},
               environ_overrides={"PATH_INFO": path})
    assert r.status_code == 200
    assert r.headers["Access-Control-Allow-Origin"] == allowed
    assert r.headers.getlist("Vary") == ["Origin"] and r.headers["X-Content-Type-Options"] == "nosniff"


def test_wrong_admin_tokens_are_limited_and_logged_without_the_token(make_app, caplog):
    c = browser(make_app(COUNTER_ADMIN_TOKEN=ADMIN_TOKEN))
    with caplog.at_level(logging.INFO, logger="counter.admin"):
        for _ in range(10):
            r = c.put("/api/v1/sites/demo/total", json={"total": 1},
                      headers={"Authorization": "Bearer guess"})
            assert r.status_code == 401
        blocked = c.put("/api/v1/sites/demo/total", json={"total": 1}, headers=ADMIN)
        assert blocked.status_code == 429 and blocked.headers["Retry-After"] == "60"
        other = browser(c.application, "203.0.113.5")
        assert other.put("/api/v1/sites/demo/total", json={"total": 7}, headers=ADMIN).status_code == 200
    assert "admin client-" in caplog.text and "set total site=demo old=0 new=7" in caplog.text
    assert ADMIN_TOKEN not in caplog.text and "guess" not in caplog.text
    assert "198.51.100.7" not in caplog.text and "203.0.113.5" not in caplog.text


def test_hostile_path_is_data_never_a_key_name(client, redis):
    r = client.post("/api/v1/sites/demo/hits",
                    json={"visitor": "a" * 16, "path": "/<script>alert(1)</script>"})
    # The page is answered as JSON data, which browsers are told not to sniff as HTML.
    assert r.status_code == 200 and r.mimetype == "application/json"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.get_json()["page"]["path"] == "/<script>alert(1)</script>"
    assert all("script" not in k for k in redis.keys("*"))


def test_headers_on_every_kind_of_answer(client):
    for url in ("/api/v1/sites/demo/stats", "/widget.js", "/dashboard/demo", "/embed/demo", "/nope"):
        r = client.get(url)
        assert r.headers["X-Content-Type-Options"] == "nosniff", url
    for url in ("/dashboard/demo", "/dashboard", "/embed/demo"):
        csp = client.get(url).headers["Content-Security-Policy"]
        assert "default-src 'none'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
