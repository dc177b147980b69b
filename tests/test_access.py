"""Who may count and who may read: origins on every counting call, CORS, private sites."""

from __future__ import annotations

import base64

import pytest
from helpers import browser

TOKEN = "s3cret-token-of-24-chars!"
SITES = """
[demo]
origins = ["https://portal.gov.vn"]
[hidden]
name = "Internal portal"
public = false
[open]
"""
PORTAL, EVIL = "https://portal.gov.vn", "https://evil.example"


@pytest.fixture
def c(make_app, tmp_path):
    """A browser on an app with a site that lists its origins, a private site and an open one."""
    path = tmp_path / "sites.toml"
    path.write_text(SITES)
    return browser(make_app(COUNTER_SITES_FILE=str(path), COUNTER_SITES="", COUNTER_ADMIN_TOKEN=TOKEN))


def pageviews(c, site: str = "demo") -> int:
    """Read today's page views."""
    return c.get(f"/api/v1/sites/{site}/stats").get_json()["pageviews_today"]


def basic(user: str, password: str) -> dict:
    """Return an HTTP Basic Authorization header."""
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


# -- origins on the counting GETs ------------------------------------------------------------


@pytest.mark.parametrize("url", ["/api/v1/sites/demo/badge.svg?count=1", "/embed/demo?count=1"])
def test_counting_gets_count_only_for_the_sites_origins(c, url):
    cases = [
        ({}, True),  # no Origin, no Referer: a <noscript> image of a page that sends none
        ({"Origin": PORTAL}, True),
        ({"Referer": PORTAL + "/tin-tuc/bai-1?x=1"}, True),
        ({"Origin": EVIL}, False),
        ({"Referer": EVIL + "/copy-of-the-portal"}, False),
        ({"Origin": EVIL, "Referer": PORTAL + "/"}, False),  # Origin decides when it is there
        ({"Referer": "https://portal.gov.vn.evil.example/"}, False),
        ({"Referer": "not a url"}, False),
        ({"Origin": "null"}, False),
    ]
    for headers, counts in cases:
        before = pageviews(c)
        response = c.get(url, headers=headers)
        assert response.status_code == 200, headers
        assert b"Tr\xe1\xbb\xb1c tuy\xe1\xba\xbfn" in response.data or b"Online" in response.data
        assert pageviews(c) == before + counts, headers


def test_a_site_without_origins_counts_from_anywhere(c):
    before = pageviews(c, "open")
    c.get("/api/v1/sites/open/badge.svg?count=1", headers={"Referer": EVIL + "/"})
    assert pageviews(c, "open") == before + 1


# -- CORS -----------------------------------------------------------------------------------


def test_a_refused_origin_gets_no_allow_origin_header_at_all(c):
    preflight = {"Access-Control-Request-Method": "POST"}
    pre = c.options("/api/v1/sites/demo/hits", headers={"Origin": EVIL, **preflight})
    assert "Access-Control-Allow-Origin" not in pre.headers
    post = c.post("/api/v1/sites/demo/hits", json={}, headers={"Origin": EVIL})
    assert post.status_code == 403
    assert "Access-Control-Allow-Origin" not in post.headers
    beat = c.post("/api/v1/sites/demo/heartbeat", json={"visitor": "a" * 16}, headers={"Origin": EVIL})
    assert beat.status_code == 403 and "Access-Control-Allow-Origin" not in beat.headers
    good = c.options("/api/v1/sites/demo/hits", headers={"Origin": PORTAL, **preflight})
    assert good.headers["Access-Control-Allow-Origin"] == PORTAL
    read = c.get("/api/v1/sites/demo/stats", headers={"Origin": EVIL})
    assert read.headers["Access-Control-Allow-Origin"] == "*"


def test_admin_writes_from_a_foreign_origin_are_refused_too(c):
    auth = {"Authorization": f"Bearer {TOKEN}"}
    for url, body in (("/api/v1/sites/demo/total", {"total": 5}),
                      ("/api/v1/sites/demo/daily/2026-11-20", {"visits": 5})):
        bad = c.put(url, json=body, headers={"Origin": EVIL, **auth})
        assert bad.status_code == 403 and bad.get_json()["error"]["code"] == "origin_not_allowed"
        assert "Access-Control-Allow-Origin" not in bad.headers
        assert c.put(url, json=body, headers={"Origin": PORTAL, **auth}).status_code == 200
    other_site = c.put("/api/v1/sites/open/total", json={"total": 7}, headers={"Origin": EVIL, **auth})
    assert other_site.status_code == 200  # it lists no origins
    assert c.put("/api/v1/sites/demo/total", json={"total": 9}, headers=auth).status_code == 200  # no browser
    assert c.get("/api/v1/sites/demo/stats").get_json()["total"] == 9


# -- private sites --------------------------------------------------------------------------

PRIVATE = ["/api/v1/sites/hidden/daily", "/api/v1/sites/hidden/online", "/dashboard/hidden"]
STILL_PUBLIC = ["/api/v1/sites/hidden/stats", "/api/v1/sites/hidden/badge.svg", "/embed/hidden", "/widget.js"]


@pytest.mark.parametrize("url", PRIVATE)
def test_a_private_sites_reads_need_the_admin_token(c, url):
    refused = c.get(url)
    assert refused.status_code == 401
    assert "Basic" in refused.headers["WWW-Authenticate"]
    assert c.get(url, headers={"Authorization": "Bearer wrong-token-wrong-token"}).status_code == 401
    assert c.get(url, headers=basic("anyone", "wrong")).status_code == 401
    assert c.get(url, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    assert c.get(url, headers=basic("anyone", TOKEN)).status_code == 200
    assert c.get(url, headers=basic("", TOKEN)).status_code == 200
    assert c.get(url.replace("hidden", "open")).status_code == 200  # public sites stay open


@pytest.mark.parametrize("url", [*PRIVATE, "/api/v1/sites", "/dashboard"])
def test_an_answer_to_the_admin_token_is_kept_out_of_shared_caches(c, url):
    # nginx caches `online` and `daily` by URL: a private site's numbers read by an operator
    # must not be served from there to the next reader, who has no token.
    for auth in ({"Authorization": f"Bearer {TOKEN}"}, basic("x", TOKEN)):
        answer = c.get(url, headers=auth)
        assert answer.status_code == 200
        assert answer.cache_control.private and answer.cache_control.no_store, answer.headers
        assert "Authorization" in answer.vary


@pytest.mark.parametrize("url", [*PRIVATE, "/api/v1/sites", "/dashboard"])
@pytest.mark.parametrize("header", ["Basic \xff\xff", "Basic w7/Dvw==", "Basic !!!", "Bearer \xff"])
def test_a_malformed_authorization_header_is_a_wrong_token(c, url, header):
    answer = c.get(url, headers={"Authorization": header})
    assert answer.status_code in (200, 401), answer.data  # the lists answer, without the private rows
    if answer.status_code == 200:
        assert b"hidden" not in answer.data.lower()


def test_the_dashboard_asks_the_browser_for_a_password(c):
    refused = c.get("/dashboard/hidden")
    assert refused.headers["WWW-Authenticate"].startswith("Basic ")
    assert "realm=" in refused.headers["WWW-Authenticate"]


@pytest.mark.parametrize("url", STILL_PUBLIC)
def test_a_private_sites_footer_stays_public(c, url):
    assert c.get(url).status_code == 200


def test_a_private_site_is_listed_only_to_the_admin(c):
    ids = [row["site"] for row in c.get("/api/v1/sites").get_json()["sites"]]
    assert ids == ["demo", "open"]
    ids = [row["site"] for row in c.get("/api/v1/sites", headers=basic("x", TOKEN)).get_json()["sites"]]
    assert ids == ["demo", "hidden", "open"]
    assert b"Internal portal" not in c.get("/dashboard").data
    assert b"Internal portal" in c.get("/dashboard", headers=basic("x", TOKEN)).data


def test_guessing_the_token_on_a_private_site_is_limited(c):
    for _ in range(10):
        assert c.get("/dashboard/hidden", headers=basic("x", "guess")).status_code == 401
    assert c.get("/dashboard/hidden", headers=basic("x", TOKEN)).status_code == 429


def test_without_an_admin_token_a_private_site_cannot_be_read(make_app, tmp_path):
    path = tmp_path / "sites.toml"
    path.write_text(SITES)
    c = browser(make_app(COUNTER_SITES_FILE=str(path), COUNTER_SITES=""))
    assert c.get("/dashboard/hidden", headers=basic("x", "")).status_code in (401, 403)
    assert c.get("/api/v1/sites/hidden/stats").status_code == 200


def test_public_must_be_true_or_false(tmp_path):
    from counter.config import ConfigError, from_env

    path = tmp_path / "sites.toml"
    path.write_text('[demo]\npublic = "no"\n')
    with pytest.raises(ConfigError, match="public"):
        from_env({"COUNTER_SITES_FILE": str(path)})


def test_every_private_read_the_app_has_is_guarded(c):
    from counter.auth import PRIVATE_READS

    guarded = [rule for rule in c.application.url_map.iter_rules() if rule.endpoint in PRIVATE_READS]
    assert {"api.daily", "api.online", "dashboard.site_page"} <= {rule.endpoint for rule in guarded}
    for rule in guarded:
        url = rule.rule.replace("<site_id>", "hidden")
        assert c.get(url, query_string={"path": "/"}).status_code == 401, url
        assert c.get(url, query_string={"path": "/"}, headers=basic("x", TOKEN)).status_code == 200, url


def test_an_admin_write_from_the_sites_origin_can_be_preflighted(c):
    # A browser asks first for a PUT with Authorization; the answer must allow the method.
    pre = c.options("/api/v1/sites/demo/total", headers={
        "Origin": PORTAL, "Access-Control-Request-Method": "PUT",
        "Access-Control-Request-Headers": "authorization,content-type"})
    assert pre.headers["Access-Control-Allow-Origin"] == PORTAL
    assert "PUT" in [m.strip() for m in pre.headers["Access-Control-Allow-Methods"].split(",")]
    refused = c.options("/api/v1/sites/demo/total", headers={
        "Origin": EVIL, "Access-Control-Request-Method": "PUT"})
    assert "Access-Control-Allow-Origin" not in refused.headers


def test_a_private_read_can_be_preflighted(c):
    pre = c.options("/api/v1/sites/hidden/daily", headers={
        "Origin": "https://grafana.example", "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization"})
    assert pre.status_code == 200
    assert "Authorization" in pre.headers["Access-Control-Allow-Headers"]
    assert pre.headers["Access-Control-Allow-Origin"] == "*"
