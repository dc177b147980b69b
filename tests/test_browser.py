"""The widget and the dashboards in headless Chromium, against the real service."""

from __future__ import annotations

import json
import os
import shutil
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
import redis as redis_py
from werkzeug.serving import make_server

from counter import create_app
from tests.helpers import BROWSER_UA, free_port, settings

pytestmark = pytest.mark.browser
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"


@pytest.fixture(scope="module")
def browser():
    """Launch Debian's Chromium through Playwright, or skip (never in CI)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    if CHROMIUM is None or sync_playwright is None:
        if os.environ.get("COUNTER_REQUIRE_BROWSER") == "1":
            pytest.fail("chromium and playwright are required (COUNTER_REQUIRE_BROWSER=1)")
        pytest.skip("chromium or playwright is not installed")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        yield b
        b.close()


class Service:
    """The app on a loopback port, in a thread, with the test's clock."""

    def __init__(self, app) -> None:
        """Bind a free port."""
        self.app = app
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = None

    def start(self) -> Service:
        """Serve until stopped."""
        self.server = make_server("127.0.0.1", self.port, self.app, threaded=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop serving; the port refuses connections afterwards."""
        self.server.shutdown()
        self.server.server_close()


class Pages(BaseHTTPRequestHandler):
    """A portal on another origin: serves the test pages, with CSP where asked."""

    pages: ClassVar[dict[str, tuple[str, str | None]]] = {}

    def do_GET(self):
        """Serve one page."""
        body, csp = self.pages.get(self.path, ("not found", None))
        self.send_response(200 if self.path in self.pages else 404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        if csp:
            self.send_header("Content-Security-Policy", csp)
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args):
        """Keep the test output quiet."""


@pytest.fixture
def service(real_redis, clock, tmp_path):
    """Start the service on an empty real redis-server."""
    redis_py.Redis.from_url(real_redis.url).flushall()
    sites = tmp_path / "sites.toml"
    sites.write_text('[demo]\nname = "Cổng thông tin Demo"\n[other]\nlang = "en"\n'
                     '[xss]\nname = "<script>alert(1)</script><b>x</b>"\n')
    config = settings(COUNTER_SITES_FILE=str(sites), COUNTER_SITES="")
    config.update(REDIS_URL=real_redis.url, CLOCK=clock)
    s = Service(create_app(config)).start()
    yield s
    if s.server:
        s.stop()


@pytest.fixture
def portal(service):
    """Serve the portal's pages on another port; return its base URL."""
    script = f'<script async src="{service.url}/widget.js"></script>'
    Pages.pages = {
        "/two.html": ("<!doctype html><html><head><title>Portal</title></head><body><h1>Portal</h1>"
                      '<div id="a" data-visit-counter="demo"></div>'
                      '<div id="b" data-visit-counter="other" data-lang="en" '
                      'data-fields="today,yesterday,this_week,this_month,total"></div>'
                      f"{script}</body></html>", None),
        "/blocked.html": ("<!doctype html><html><head><title>Blocked</title><script>"
                          "Object.defineProperty(window, 'localStorage', {get: function () {"
                          "throw new DOMException('storage is blocked', 'SecurityError'); }});"
                          "</script></head><body>"
                          '<div id="a" data-visit-counter="demo"></div>'
                          f"{script}</body></html>", None),
        "/strict.html": ("<!doctype html><html><head><title>Strict</title></head><body>"
                         '<div id="a" data-visit-counter="demo" data-lang="en"></div>'
                         f"{script}</body></html>",
                         f"default-src 'none'; script-src {service.url}; connect-src {service.url}"),
    }
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Pages)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def page(browser):
    """Open a desktop-looking page that records errors."""
    context = browser.new_context(user_agent=BROWSER_UA, viewport={"width": 1100, "height": 800})
    p = context.new_page()
    p.errors, p.failed = [], []
    p.on("pageerror", lambda exc: p.errors.append(str(exc)))
    # The browser itself reports failed loads on the console; those are checked as responses.
    p.on("console", lambda msg: msg.type == "error" and not msg.text.startswith("Failed to load resource")
         and p.errors.append(msg.text))
    p.on("response", lambda r: r.status >= 400 and not r.url.endswith("/favicon.ico")
         and p.failed.append(f"{r.status} {r.url}"))
    yield p
    context.close()


def wait_numbers(page, selector: str = "#a") -> None:
    """Wait until a widget shows fresh numbers, or fail saying what the page saw."""
    try:
        page.wait_for_selector(f"{selector} .vc-counter:not(.vc-stale)", timeout=10_000)
    except Exception as exc:
        raise AssertionError(f"no numbers in {selector}: errors={page.errors} failed={page.failed} "
                             f"html={page.content()[:2000]}") from exc


def widget_text(page, selector: str) -> list[tuple[str, str]]:
    """Return (label, value) of each row of a rendered widget."""
    rows = page.eval_on_selector_all(
        f"{selector} .vc-row",
        "rows => rows.map(r => [r.querySelector('.vc-label').textContent,"
        " r.querySelector('.vc-value').textContent])")
    return [tuple(r) for r in rows]


def stats(service, site="demo") -> dict:
    """Read the stats object over HTTP."""
    with urllib.request.urlopen(f"{service.url}/api/v1/sites/{site}/stats") as r:
        return json.load(r)


def test_two_widgets_render_and_count_one_page_view_each(page, service, portal, clock):
    page.goto(f"{portal}/two.html")
    wait_numbers(page, "#a")
    wait_numbers(page, "#b")
    assert page.get_attribute("#a .vc-counter", "aria-label") == "Thống kê truy cập"
    assert page.text_content("#a .vc-title") == "Thống kê truy cập"
    assert widget_text(page, "#a") == [("Tổng số", "1"), ("Trực tuyến", "1"), ("Hôm nay", "1")]
    assert page.text_content("#b .vc-title") == "Visitor statistics"
    assert widget_text(page, "#b") == [("Today", "1"), ("Yesterday", "0"), ("This week", "1"),
                                       ("This month", "1"), ("Total", "1")]
    for site in ("demo", "other"):
        s = stats(service, site)
        assert (s["total"], s["today"], s["pageviews_today"], s["online"]) == (1, 1, 1, 1)
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("#a .vc-counter").screenshot(path=str(ARTIFACTS / "widget-vi.png"))
    page.locator("#b .vc-counter").screenshot(path=str(ARTIFACTS / "widget-en.png"))

    clock.advance(60)
    page.reload()
    wait_numbers(page)
    s = stats(service)
    assert (s["total"], s["today"], s["pageviews_today"]) == (1, 1, 2)  # a page view, not a visit
    assert page.errors == [] and page.failed == []


def test_numbers_are_grouped_per_language(page, service, portal):
    service.app.extensions["counter"].store.set_total("demo", 1672240)
    page.goto(f"{portal}/two.html")
    wait_numbers(page)
    assert widget_text(page, "#a")[0] == ("Tổng số", "1.672.241")
    page.goto(f"{portal}/strict.html")
    wait_numbers(page)
    assert widget_text(page, "#a")[0] == ("Total", "1,672,241")


def test_heartbeat_keeps_the_visitor_online(page, service, portal, clock):
    page.clock.install()
    page.goto(f"{portal}/two.html")
    wait_numbers(page)
    for _ in range(6):  # six minutes with the page open and visible
        clock.advance(60)
        page.clock.run_for(60_000)
        page.wait_for_timeout(100)
    s = stats(service)
    assert s["online"] == 1
    assert (s["total"], s["pageviews_today"]) == (1, 1)  # heartbeats never count
    assert widget_text(page, "#a")[1] == ("Trực tuyến", "1")


def test_service_down_the_page_still_works_and_shows_the_last_numbers(page, service, portal):
    page.goto(f"{portal}/two.html")
    wait_numbers(page)
    shown = widget_text(page, "#a")
    service.stop()
    service.server = None
    page.goto(f"{portal}/two.html")  # widget.js comes from the browser's cache
    page.wait_for_selector("#a .vc-counter.vc-stale")
    page.wait_for_timeout(300)
    assert widget_text(page, "#a") == shown
    assert page.text_content("h1") == "Portal"
    assert page.errors == []


def test_the_widget_counts_when_storage_is_blocked(page, service, portal):
    page.goto(f"{portal}/blocked.html")
    wait_numbers(page)
    assert widget_text(page, "#a")[0] == ("Tổng số", "1")
    assert stats(service)["pageviews_today"] == 1
    assert page.errors == [] and page.failed == []


def test_the_widget_works_under_a_strict_csp(page, service, portal):
    violations = []
    page.on("console", lambda msg: "Content Security Policy" in msg.text and violations.append(msg.text))
    page.goto(f"{portal}/strict.html")
    wait_numbers(page)
    assert widget_text(page, "#a") == [("Total", "1"), ("Online", "1"), ("Today", "1")]
    assert violations == [] and page.errors == [] and page.failed == []


def test_dashboards_render_escape_and_refresh(page, service, portal, clock):
    page.goto(f"{portal}/two.html")
    wait_numbers(page)
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(f"{service.url}/dashboard/demo")
    assert page.text_content("#online") == "1"
    assert page.locator("svg.chart rect.bar").count() == 30 + 60
    downloads = page.locator("a[download]")  # the daily history, then the most viewed pages
    assert downloads.nth(0).get_attribute("href").startswith("/api/v1/sites/demo/daily?")
    assert downloads.nth(1).get_attribute("href").startswith("/api/v1/sites/demo/pages?")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(ARTIFACTS / "dashboard-phone.png"), full_page=True)
    page.goto(f"{service.url}/dashboard")
    assert page.locator("#sites tbody tr").count() == 3
    assert "<script>alert(1)</script><b>x</b>" in page.text_content('tr[data-site="xss"] a')
    page.goto(f"{service.url}/dashboard/xss")
    assert "<script>alert(1)</script>" in page.text_content("header h1")
    assert dialogs == [] and page.errors == [] and page.failed == []
