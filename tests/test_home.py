"""The start page `/` and the favicon, over HTTP."""

from __future__ import annotations

import re
from html import unescape

import pytest

from tests.helpers import BROWSER_UA


@pytest.fixture
def web(make_app, tmp_path):
    """Return a browser-like client of a service with two sites in two languages."""
    sites = tmp_path / "sites.toml"
    sites.write_text('[ninhbinh]\nname = "Công an tỉnh Ninh Bình"\n'
                     '[news]\nname = "<b>News</b>"\nlang = "en"\norigins = ["https://news.example"]\n')
    app = make_app(COUNTER_SITES_FILE=str(sites), COUNTER_SITES="")
    c = app.test_client()
    c.environ_base.update(HTTP_USER_AGENT=BROWSER_UA, REMOTE_ADDR="198.51.100.7")
    return c


@pytest.fixture
def counter(web):
    """Return the counter service of `web`'s app."""
    return web.application.extensions["counter"]


def test_start_page_lists_every_site_with_numbers_dashboard_and_snippet(web, counter):
    counter.store.set_total("ninhbinh", 1672241)
    counter.store.set_total("news", 1672241)
    response = web.get("/")
    assert response.status_code == 200 and response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    text = unescape(html)
    assert "What this is" in html and "Công an tỉnh Ninh Bình" in html
    assert "&lt;b&gt;News&lt;/b&gt;" in html and "<b>News</b>" not in html
    assert '<a href="/dashboard/ninhbinh">' in html and '<a href="/dashboard/news">' in html
    assert re.search(r'data-site="ninhbinh".*?data-field="total">1\.672\.241<', html, re.S)
    assert re.search(r'data-site="news".*?data-field="total">1,672,241<', html, re.S)
    assert ('<div data-visit-counter="ninhbinh" data-lang="vi"></div>\n'
            '<script async src="http://localhost/widget.js"></script>') in text
    assert '<div data-visit-counter="news" data-lang="en"></div>' in text
    assert "Counts only on pages at https://news.example" in text


def test_start_page_has_the_dashboards_csp_and_no_inline_script(web):
    response = web.get("/")
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
    html = response.get_data(as_text=True)
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
    assert scripts and all('src="' in attrs and body == "" for attrs, body in scripts)
    assert ' style="' not in html and "<style" not in html
    for src in re.findall(r'<script[^>]* src="([^"]+)"', html):
        with web.get(src) as script:
            assert script.status_code == 200, src


def test_start_page_preview_does_not_count(web, counter):
    html = web.get("/").get_data(as_text=True)
    assert 'data-count="false"' in html
    assert counter.stats(counter.sites["ninhbinh"])["pageviews_today"] == 0


def test_start_page_when_the_store_is_down(web, counter, monkeypatch):
    from counter.store import StoreUnavailable

    def down():
        raise StoreUnavailable("down")

    monkeypatch.setattr(counter, "overview", down)
    response = web.get("/")
    assert response.status_code == 503
    html = response.get_data(as_text=True)
    assert "not answering" in html and 'data-visit-counter="ninhbinh"' in unescape(html)


def test_favicon(web):
    page = web.get("/dashboard").get_data(as_text=True)
    href = re.search(r'<link rel="icon" href="([^"]+)"', page).group(1)
    for url in (href, "/favicon.ico"):
        response = web.get(url)
        assert response.status_code == 200 and response.mimetype == "image/svg+xml"
        assert response.data.startswith(b"<svg")
