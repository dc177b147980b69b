"""The widget script, the badge, the iframe page and the dashboards, over HTTP."""

from __future__ import annotations

import gzip

import pytest

from tests.helpers import browser


@pytest.fixture
def web(make_app, tmp_path):
    """Return a browser-like client with a site whose name is hostile."""
    sites = tmp_path / "sites.toml"
    sites.write_text('[demo]\nname = "Demo"\n[evil]\nname = "<script>alert(1)</script>&amp;"\n'
                     'origins = ["https://evil.example"]\nlang = "en"\n')
    return browser(make_app(COUNTER_SITES_FILE=str(sites), COUNTER_SITES=""))


def test_widget_script_is_small_cached_and_versioned(web):
    response = web.get("/widget.js")
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert response.headers["Cache-Control"] == "public, max-age=86400"
    assert len(gzip.compress(response.data)) < 5 * 1024
    assert b"document.write" not in response.data and b"innerHTML" not in response.data
    assert b"eval(" not in response.data
    again = web.get("/widget.js", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304


def test_badge_reads_and_counts_only_when_asked(web):
    response = web.get("/api/v1/sites/demo/badge.svg")
    assert response.status_code == 200
    assert response.mimetype == "image/svg+xml"
    assert "no-store" in response.headers["Cache-Control"]
    text = response.get_data(as_text=True)
    assert "Thống kê truy cập" in text and "Tổng số" in text
    assert web.get("/api/v1/sites/demo/stats").get_json()["pageviews_today"] == 0
    counted = web.get("/api/v1/sites/demo/badge.svg?count=1&lang=en&fields=total,this_month")
    text = counted.get_data(as_text=True)
    assert "Visitor statistics" in text and "This month" in text and "Online" not in text
    assert web.get("/api/v1/sites/demo/stats").get_json()["pageviews_today"] == 1


def test_badge_groups_numbers_per_language(web, counter):
    counter.store.set_total("demo", 1672241)
    assert ">1.672.241<" in web.get("/api/v1/sites/demo/badge.svg").get_data(as_text=True)
    assert ">1,672,241<" in web.get("/api/v1/sites/demo/badge.svg?lang=en").get_data(as_text=True)


@pytest.mark.parametrize("query", ["lang=fr", "fields=total,hits", "fields=,"])
def test_badge_refuses_bad_options(web, redis, query):
    response = web.get(f"/api/v1/sites/demo/badge.svg?{query}")
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] in ("invalid_lang", "invalid_fields")
    assert redis.dbsize() == 0


def test_embed_page_shows_the_block_without_javascript(web):
    response = web.get("/embed/demo?fields=today,total")
    assert response.status_code == 200 and response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert "<script" not in html
    assert "Hôm nay" in html and "Tổng số" in html and "Trực tuyến" not in html
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "frame-ancestors *" in csp
    evil = web.get("/embed/evil")
    assert "frame-ancestors https://evil.example" in evil.headers["Content-Security-Policy"]
    assert "<script>alert(1)" not in evil.get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&amp;amp;" in evil.get_data(as_text=True)


def test_dashboards_escape_every_value_and_send_a_strict_csp(web):
    for url in ("/dashboard", "/dashboard/evil", "/dashboard/demo?days=366"):
        response = web.get(url)
        assert response.status_code == 200, url
        html = response.get_data(as_text=True)
        assert "<script>alert" not in html
        csp = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in web.get("/dashboard").get_data(as_text=True)


@pytest.mark.parametrize("days", ["0", "367", "x", "-1", "²", "3" * 5000])
def test_dashboard_refuses_bad_days(web, days):
    response = web.get(f"/dashboard/demo?days={days}")
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_days"
