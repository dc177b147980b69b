"""The widget script, the badge, the iframe page and the dashboards, over HTTP."""

from __future__ import annotations

import gzip
import itertools
import re
import xml.etree.ElementTree as ET
from html import unescape

import pytest

from counter.dashboard import _label_slots
from tests.helpers import browser

SVG = "{http://www.w3.org/2000/svg}"


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


BAD_OPTIONS = [("lang=fr", "invalid_lang", "`lang` must be vi or en"),
               ("fields=total,hits", "invalid_fields", "'hits' is not one"),
               ("fields=visits", "invalid_fields", "`fields` takes some of total"),
               ("fields=,", "invalid_fields", "none is given"),
               ("theme=pink", "invalid_theme", "`theme` must be light, dark or auto"),
               ("lang=", "invalid_lang", "`lang` must be vi or en, not ''"),
               ("theme=", "invalid_theme", "`theme` must be light, dark or auto"),
               ("title=" + "t" * 101, "invalid_title", "at most 100 characters"),
               ("title=a%0Ab", "invalid_title", "on one line"),
               ("count=yes", "invalid_count", "`count` must be 1")]


@pytest.mark.parametrize(("query", "code", "says"), BAD_OPTIONS)
def test_badge_refuses_bad_options_with_an_svg_that_says_why(web, redis, query, code, says):
    response = web.get(f"/api/v1/sites/demo/badge.svg?{query}&count=1")
    assert response.status_code == 400
    assert response.mimetype == "image/svg+xml"
    assert response.headers["X-Error-Code"] == code
    svg = ET.fromstring(response.data)
    text = " ".join(t.text for t in svg.iter(f"{SVG}text"))
    assert code in text and says in text
    assert "no-store" in response.headers["Cache-Control"]
    assert redis.dbsize() == 0


@pytest.mark.parametrize(("site", "status", "code"), [("nosuch", 404, "unknown_site"),
                                                      ("Bad*Id", 400, "invalid_site")])
def test_badge_and_embed_of_a_bad_site_say_so_where_they_are_shown(web, redis, site, status, code):
    badge = web.get(f"/api/v1/sites/{site}/badge.svg?count=1")
    assert (badge.status_code, badge.mimetype) == (status, "image/svg+xml")
    assert code in badge.get_data(as_text=True)
    embed = web.get(f"/embed/{site}?count=1")
    assert (embed.status_code, embed.mimetype) == (status, "text/html")
    assert code in embed.get_data(as_text=True)
    assert redis.dbsize() == 0


@pytest.mark.parametrize(("query", "code", "says"), BAD_OPTIONS)
def test_embed_refuses_bad_options_with_a_page_a_person_can_read(web, redis, query, code, says):
    response = web.get(f"/embed/demo?{query}&count=1")
    assert response.status_code == 400
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert "<!doctype html>" in html and code in html and says in unescape(html)
    assert "<script" not in html
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert redis.dbsize() == 0


def test_badge_and_embed_take_theme_title_and_the_new_rows(web, counter):
    counter.store.set_total("demo", 1234)
    svg = web.get("/api/v1/sites/demo/badge.svg?theme=dark&title=&fields=total,last_week,last_month")
    assert svg.status_code == 200
    text = svg.get_data(as_text=True)
    assert 'fill="#0d1117"' in text and "Thống kê truy cập" not in text
    auto = web.get("/api/v1/sites/demo/badge.svg?theme=auto").get_data(as_text=True)
    assert 'fill="#ffffff"' in auto and "prefers-color-scheme: dark" in auto
    assert "Tuần trước" in text and "Tháng trước" in text and ">1.234<" in text
    html = web.get("/embed/demo?theme=auto&title=Lượt truy cập&fields=this_month").get_data(as_text=True)
    assert 'class="vc-counter vc-auto' in html and "Lượt truy cập" in html and "Tháng này" in html
    assert "vc-title" in web.get("/embed/demo").get_data(as_text=True)
    assert "vc-title" not in web.get("/embed/demo?title=").get_data(as_text=True)


def test_widget_settings_give_the_sites_language_and_check_the_attributes(web, redis):
    demo = web.get("/widget/sites/demo", headers={"Origin": "https://portal.example"})
    assert demo.status_code == 200
    assert demo.get_json() == {"site": "demo", "lang": "vi", "fields": ["total", "online", "today"],
                               "theme": "light", "title": "Thống kê truy cập", "refused": None}
    assert demo.headers["Access-Control-Allow-Origin"] == "*"
    assert demo.headers["Cache-Control"] == "public, max-age=300"
    evil = web.get("/widget/sites/evil?fields=page,last_month&theme=dark&title=",
                   headers={"Origin": "https://evil.example"}).get_json()
    assert (evil["lang"], evil["fields"], evil["theme"], evil["title"]) == (
        "en", ["page", "last_month"], "dark", "")
    assert evil["refused"] is None
    assert web.get("/widget/sites/evil?lang=vi").get_json()["title"] == "Thống kê truy cập"
    assert redis.dbsize() == 0


def test_widget_settings_explain_a_refused_origin_that_the_hit_cannot(web, redis):
    # A refused write carries no Access-Control-Allow-Origin, so the page cannot read its message.
    headers = {"Origin": "https://www.evil.example"}
    settings = web.get("/widget/sites/evil", headers=headers)
    assert settings.status_code == 200
    assert settings.headers["Access-Control-Allow-Origin"] == "*"
    assert settings.headers["Cache-Control"] == "no-cache"
    hit = web.post("/api/v1/sites/evil/hits", data="{}", content_type="text/plain", headers=headers)
    assert hit.status_code == 403
    error = hit.get_json()["error"]
    refused = settings.get_json()["refused"]
    assert refused["code"] == error["code"] == "origin_not_allowed"
    assert refused["message"] == (f"{error['message']} This page is at https://www.evil.example; "
                                  "the site takes https://evil.example (`origins` in the sites file).")
    assert redis.dbsize() == 0


@pytest.mark.parametrize(("url", "status", "code"), [
    ("/widget/sites/nosuch", 404, "unknown_site"),
    ("/widget/sites/Nope!", 400, "invalid_site"),
    ("/widget/sites/", 400, "invalid_site"),  # data-visit-counter=""
    ("/widget/sites/demo?lang=fr", 400, "invalid_lang"),
    ("/widget/sites/demo?fields=total,visits", 400, "invalid_fields"),
    ("/widget/sites/demo?theme=blue", 400, "invalid_theme"),
])
def test_widget_settings_refusals_are_readable_from_any_page(web, redis, url, status, code):
    response = web.get(url, headers={"Origin": "https://portal.example"})
    assert response.status_code == status
    assert response.get_json()["error"]["code"] == code
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.headers["Cache-Control"] == "no-cache"
    assert redis.dbsize() == 0


def test_a_bad_option_of_a_known_site_answers_its_language_too(web):
    # The widget then draws its "—" block in the site's language, not the default one.
    response = web.get("/widget/sites/evil?theme=blue", headers={"Origin": "https://evil.example"})
    body = response.get_json()
    assert response.status_code == 400 and body["error"]["code"] == "invalid_theme" and body["lang"] == "en"


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


BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@pytest.mark.parametrize(("url", "status", "code"), [
    ("/dashboard/demo?days=367", 400, "invalid_days"),
    ("/dashboard/demo?days=abc", 400, "invalid_days"),
    ("/dashboard/nosuch", 404, "unknown_site"),
    ("/dashboard/Bad%20Id", 400, "invalid_site"),
    ("/dashboard/demo?period=<b>x</b>", 400, None),
    ("/dashboard/demo/extra", 404, "not_found"),
])
def test_dashboard_errors_are_a_page_for_a_browser(web, url, status, code):
    response = web.get(url, headers={"Accept": BROWSER_ACCEPT})
    assert response.status_code == status
    assert response.mimetype == "text/html"
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    html = response.get_data(as_text=True)
    assert html.startswith("<!doctype html>") and 'role="alert"' in html
    assert f"Error {status}" in html and "<b>" not in html
    assert "Accept" in response.headers["Vary"]
    if code:
        assert f"<code>{code}</code>" in html
    # A program asking for JSON (or anything) still gets the contract's error object.
    for accept in ("application/json", "*/*"):
        answer = web.get(url, headers={"Accept": accept})
        assert answer.status_code == status and answer.mimetype == "application/json"
        assert answer.get_json()["error"]["code"]


def test_api_errors_stay_json_for_a_browser(web):
    response = web.get("/api/v1/sites/nosuch/stats", headers={"Accept": BROWSER_ACCEPT})
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "unknown_site"


def test_dashboards_write_numbers_in_the_sites_language(web, counter):
    counter.store.set_total("demo", 1672241)
    counter.store.set_total("evil", 1672241)
    assert ">1.672.241<" in web.get("/dashboard/demo").get_data(as_text=True)
    assert ">1,672,241<" in web.get("/dashboard/evil").get_data(as_text=True)
    listing = web.get("/dashboard").get_data(as_text=True)
    assert re.search(r'data-site="demo" data-lang="vi">.*?>1\.672\.241<', listing, re.S)
    assert re.search(r'data-site="evil" data-lang="en">.*?>1,672,241<', listing, re.S)
    assert '<html lang="en">' in web.get("/dashboard/evil").get_data(as_text=True)


def test_dashboard_charts_have_tables_for_screen_readers(web):
    html = web.get("/dashboard/demo?days=366").get_data(as_text=True)
    tables = re.findall(r'<div class="sr-only"><table>(.*?)</table>', html, re.S)
    assert len(tables) == 2
    assert tables[0].count("<tr>") == 366 + 1 and tables[1].count("<tr>") == 60 + 1
    assert "<th scope=\"row\">2026-11-25</th><td>0</td><td>0</td>" in tables[0]
    assert html.count('<rect class="bar"') == 366 + 60


@pytest.mark.parametrize("most", [4, 7])
def test_chart_labels_are_few_and_end_at_both_edges(most):
    for n in range(1, 400):
        slots = sorted(_label_slots(n, most))
        assert len(slots) <= most and slots[0] == 0 and slots[-1] == n - 1, n
        if n > most:
            every = -(-(n - 1) // (most - 1))
            gaps = [b - a for a, b in itertools.pairwise(slots)]
            assert min(gaps) >= every, (n, slots)  # the edge labels, drawn inwards, need as much room
