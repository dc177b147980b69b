"""The widget and the dashboards in headless Chromium, against the real service."""

from __future__ import annotations

import json
import os
import shutil
import threading
import urllib.request
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
import redis as redis_py
from werkzeug.serving import make_server

from counter import create_app
from counter.store import StoreUnavailable
from tests.helpers import BROWSER_UA, settings

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
        """Bind a port the system chooses (no free_port(): nothing can take it between look and bind)."""
        self.app = app
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.port = self.server.server_port
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self) -> Service:
        """Serve until stopped."""
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
                     '[xss]\nname = "<script>alert(1)</script><b>x</b>"\n'
                     '[locked]\norigins = ["https://www.portal.example"]\n')
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
    server = ThreadingHTTPServer(("127.0.0.1", 0), Pages)
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


def test_a_reader_with_storage_blocked_is_one_visit_not_one_per_page(page, service, portal, clock):
    # No id can be kept: the widget sends none, and the service derives the day's id from address and browser.
    sent = []
    page.on("request", lambda r: r.url.endswith(("/hits", "/heartbeat"))
            and sent.append(json.loads(r.post_data)))
    page.clock.install()
    for _ in range(3):
        page.goto(f"{portal}/blocked.html")
        wait_numbers(page)
        clock.advance(60)
    s = stats(service)
    assert (s["total"], s["today"], s["pageviews_today"], s["online"]) == (1, 1, 3, 1)
    page.clock.run_for(60_000)
    wait_for(page, lambda: len(sent) == 4, "the heartbeat")
    assert all("visitor" not in body for body in sent), sent
    assert stats(service)["online"] == 1
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
    assert page.locator("#sites tbody tr").count() == 4
    assert "<script>alert(1)</script><b>x</b>" in page.text_content('tr[data-site="xss"] a')
    page.goto(f"{service.url}/dashboard/xss")
    assert "<script>alert(1)</script>" in page.text_content("header h1")
    assert dialogs == [] and page.errors == [] and page.failed == []



def test_the_dashboards_say_when_their_live_numbers_could_not_be_refreshed(page, service, monkeypatch):
    counter_ = service.app.extensions["counter"]
    counter_.hit(counter_.sites["demo"], "visitor-000000000001", None, "198.51.100.1", BROWSER_UA)
    page.clock.install()
    page.goto(f"{service.url}/dashboard/demo")
    assert page.text_content("#online") == "1"
    assert page.text_content("#online-note") == ""

    def down(*args, **kwargs):
        raise StoreUnavailable("down")

    monkeypatch.setattr(counter_, "online", down)
    monkeypatch.setattr(counter_, "overview", down)
    page.clock.fast_forward(11_000)  # the refresh every 10 s now fails (503)
    page.wait_for_selector("#online.stale", timeout=5000)  # drawn muted, no longer as live
    assert page.text_content("#online-note") == "Chưa cập nhật được · Not refreshed"
    monkeypatch.undo()
    page.clock.fast_forward(10_000)
    page.wait_for_selector("#online:not(.stale)", timeout=5000)
    assert page.text_content("#online-note") == ""
    page.goto(f"{service.url}/dashboard")
    monkeypatch.setattr(counter_, "overview", down)
    page.clock.fast_forward(11_000)
    page.wait_for_selector("#sites td.stale", timeout=5000)
    assert page.locator("#sites td.stale").count() == 4 * 3
    assert page.text_content("#sites-note") == "Chưa cập nhật được · Not refreshed"
    assert page.errors == []


# --- Diagnostics, themes, title, language, contrast; the start page; dashboards on a phone.

DOCS = Path(__file__).resolve().parent.parent / "docs"
# Screenshots go to artifacts/; with COUNTER_DOCS_SCREENSHOTS=1 also to docs/ for the README.
SHOTS = [ARTIFACTS, DOCS] if os.environ.get("COUNTER_DOCS_SCREENSHOTS") == "1" else [ARTIFACTS]

CONTRAST_JS = """els => els.map(el => {
  const rgb = s => { const m = s.match(/[\\d.]+/g).map(Number); return m.length > 3 ? m : m.concat([1]); };
  const lum = c => { const a = c.slice(0, 3).map(v => { v /= 255;
    return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
    return 0.2126 * a[0] + 0.7152 * a[1] + 0.0722 * a[2]; };
  let back = [255, 255, 255, 1], opacity = 1;
  for (let e = el; e; e = e.parentElement) { opacity *= Number(getComputedStyle(e).opacity); }
  for (let e = el; e; e = e.parentElement) {
    const c = rgb(getComputedStyle(e).backgroundColor);
    if (c[3] > 0) { back = c; break; }
  }
  const fg = lum(rgb(getComputedStyle(el).color)), bg = lum(back);
  return { text: el.textContent, opacity: opacity,
           ratio: (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05) };
})"""


def shot(locator_or_page, name: str, docs: bool = True, **kwargs) -> None:
    """Save a screenshot under artifacts/ (and docs/ when asked)."""
    for folder in SHOTS if docs else [ARTIFACTS]:
        folder.mkdir(exist_ok=True)
        locator_or_page.screenshot(path=str(folder / name), **kwargs)


def serve(path: str, body: str, script_of) -> None:
    """Add a portal page with the widget script of the service."""
    Pages.pages[path] = ("<!doctype html><html><head><meta charset='utf-8'><title>Portal</title></head>"
                         f"<body><h1>Portal</h1>{body}"
                         f'<script async src="{script_of.url}/widget.js"></script></body></html>', None)


def watch(page) -> tuple[list[str], list[str]]:
    """Record the page's console warnings and the URLs of its requests to the service's API."""
    warnings, calls = [], []
    page.on("console", lambda msg: msg.type == "warning" and warnings.append(msg.text))
    page.on("request", lambda r: ("/api/" in r.url or "/widget/" in r.url) and calls.append(
        f"{r.method} {r.url.split('?')[0].split('/', 3)[3]}"))
    return warnings, calls


def settle(page, minutes: int = 10) -> None:
    """Let the page's timers run for some minutes of its clock."""
    for _ in range(minutes * 2):
        page.clock.run_for(30_000)
        page.wait_for_timeout(20)


def tick_until(page, check, what: str) -> None:
    """Move the page's clock a second at a time (real requests finish between) until `check()`."""
    for _ in range(60):
        if check():
            return
        page.clock.run_for(1000)
        page.wait_for_timeout(100)
    raise AssertionError(f"timed out waiting for {what}")


def wait_for(page, check, what: str) -> None:
    """Wait up to 10 s for `check()` to hold."""
    for _ in range(200):
        if check():
            return
        page.wait_for_timeout(50)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.parametrize(("body", "message"), [
    ('<div id="a" data-visit-counter="nosuch"></div>', "There is no site 'nosuch'."),
    ('<div id="a" data-visit-counter=""></div>', "A site id is 1-63 characters"),
    ('<div id="a" data-visit-counter="demo" data-lang="fr"></div>', "`lang` must be vi or en, not 'fr'."),
    ('<div id="a" data-visit-counter="demo" data-fields="total,visits"></div>', "'visits' is not one"),
    ('<div id="a" data-visit-counter="demo" data-theme="pink"></div>', "`theme` must be light, dark or auto"),
    ('<div id="a" data-visit-counter="locked"></div>', "origin may not write to this site. This page is at "
     "http://127.0.0.1:"),
])
def test_a_refused_widget_warns_once_with_the_services_message_and_never_retries(
        page, service, portal, body, message):
    serve("/refused.html", body, service)
    warnings, calls = watch(page)
    page.clock.install()
    page.goto(f"{portal}/refused.html")
    wait_for(page, lambda: warnings, "a console warning")
    settle(page)
    assert len(warnings) == 1, warnings
    assert message in warnings[0] and warnings[0].startswith('Visit counter "')
    assert not any("/hits" in c or "/heartbeat" in c for c in calls), calls
    assert len(calls) == 1, calls  # the settings, read once
    shown = page.eval_on_selector_all("#a .vc-value", "vs => vs.map(v => v.textContent)")
    assert shown and set(shown) == {"—"}
    assert page.text_content("h1") == "Portal" and page.errors == []
    assert stats(service)["pageviews_today"] == 0


def test_a_refused_widget_of_an_english_site_speaks_english_in_a_fresh_browser(page, service, portal):
    serve("/refused-en.html", '<div id="a" data-visit-counter="other" data-theme="pink"></div>', service)
    warnings, _ = watch(page)
    page.goto(f"{portal}/refused-en.html")
    wait_for(page, lambda: warnings, "a console warning")
    page.wait_for_selector("#a .vc-label")
    assert page.text_content("#a .vc-row-total .vc-label") == "Total"
    assert page.get_attribute("#a .vc-counter", "lang") == "en"


def test_the_origin_refusal_is_found_even_when_the_settings_said_yes(page, service, portal):
    """The browser hides the 403 of a refused write; the widget asks the settings again, uncached."""
    serve("/stale-settings.html", '<div id="a" data-visit-counter="locked" data-lang="en"></div>', service)
    warnings, calls = watch(page)
    answered = []

    def first_says_yes(route):
        response = route.fetch()
        body = response.json()
        if not answered:
            body["refused"] = None  # as a cached answer from before the sites file changed would
        answered.append(body)
        route.fulfill(response=response, json=body)

    page.route("**/widget/sites/locked*", first_says_yes)
    page.clock.install()
    page.goto(f"{portal}/stale-settings.html")
    wait_for(page, lambda: warnings, "a console warning")
    settle(page)
    assert calls == ["GET widget/sites/locked", "POST api/v1/sites/locked/hits", "GET widget/sites/locked"]
    assert len(warnings) == 1 and answered[1]["refused"]["message"] in warnings[0]
    assert "origin_not_allowed" in warnings[0]
    assert page.text_content("#a .vc-row-total .vc-value") == "—"


@pytest.mark.parametrize("trouble", [429, 503, "network"])
def test_the_widget_retries_after_429_503_and_network_errors(page, service, portal, trouble):
    serve("/retry.html", '<div id="a" data-visit-counter="demo"></div>', service)
    warnings, calls = watch(page)
    failed = []

    def fail_once(route):
        if failed:
            route.continue_()
            return
        failed.append(1)
        if trouble == "network":
            route.abort("connectionreset")
        else:
            route.fulfill(status=trouble, headers={"Retry-After": "2", "Access-Control-Allow-Origin": "*"},
                          json={"error": {"code": "x", "message": "try later"}})

    page.route("**/api/v1/sites/demo/hits", fail_once)
    page.clock.install()
    page.goto(f"{portal}/retry.html")
    wait_for(page, lambda: failed, "the first hit")
    page.wait_for_selector("#a .vc-counter.vc-stale")
    tick_until(page, lambda: page.locator("#a .vc-counter:not(.vc-stale)").count(), "fresh numbers")
    assert warnings == []
    assert calls.count("POST api/v1/sites/demo/hits") == 2
    assert stats(service)["pageviews_today"] == 1  # the retry carries the same hit id


def test_the_widget_keeps_retrying_through_an_outage_longer_than_retry_after(page, service, portal):
    # Every 503 says "Retry-After: 1"; a failover takes longer than five such seconds.
    serve("/outage.html", '<div id="a" data-visit-counter="demo"></div>', service)
    attempts = []

    def outage(route):
        attempts.append(1)
        if len(attempts) > 3:
            route.continue_()
            return
        route.fulfill(status=503, headers={"Retry-After": "1", "Access-Control-Allow-Origin": "*",
                                           "Access-Control-Expose-Headers": "ETag, Retry-After"},
                      json={"error": {"code": "store_unavailable", "message": "try later"}})

    page.route("**/api/v1/sites/demo/hits", outage)
    page.clock.install()
    page.goto(f"{portal}/outage.html")
    wait_for(page, lambda: attempts, "the first hit")
    for _ in range(10):  # ten seconds of the page's clock: tries at 0, 3 and 9 s
        page.clock.run_for(1000)
        page.wait_for_timeout(100)
    assert len(attempts) == 3 and stats(service)["pageviews_today"] == 0
    tick_until(page, lambda: page.locator("#a .vc-counter:not(.vc-stale)").count(), "fresh numbers")
    assert len(attempts) == 4 and stats(service)["pageviews_today"] == 1


def test_numbers_the_service_marks_stale_are_shown_as_old(page, service, portal):
    # With Redis unreachable, `stats` answers the last numbers it saw with "stale": true.
    serve("/stale.html", '<div id="a" data-visit-counter="demo" data-count="false"></div>', service)

    def stale(route):
        response = route.fetch()
        route.fulfill(response=response, json=dict(response.json(), stale=True))

    page.route("**/api/v1/sites/demo/stats", stale)
    page.goto(f"{portal}/stale.html")
    wait_for(page, lambda: page.locator("#a .vc-row-total .vc-value").text_content() == "0", "the numbers")
    assert page.get_attribute("#a .vc-counter", "class") == "vc-counter vc-light vc-stale"
    assert page.errors == []


def test_themes_title_and_the_sites_language(page, service, portal):
    service.app.extensions["counter"].store.set_total("other", 1233)
    serve("/themes.html", '<div id="light" data-visit-counter="other"></div>'
          '<div id="dark" data-visit-counter="other" data-theme="dark" data-title="Lượt truy cập"></div>'
          '<div id="auto" data-visit-counter="other" data-theme="auto" data-title=""></div>', service)
    page.goto(f"{portal}/themes.html")
    for w in ("#light", "#dark", "#auto"):
        wait_numbers(page, w)
    # No data-lang: the sites file's `lang = "en"` for this site.
    assert widget_text(page, "#light") == [("Total", "1,234"), ("Online", "1"), ("Today", "1")]
    assert page.text_content("#light .vc-title") == "Visitor statistics"
    assert page.text_content("#dark .vc-title") == "Lượt truy cập"
    assert page.locator("#auto .vc-title").count() == 0
    assert page.get_attribute("#auto .vc-counter", "aria-label") == "Visitor statistics"
    colours = page.eval_on_selector_all(".vc-counter",
                                        "bs => bs.map(b => getComputedStyle(b).backgroundColor)")
    assert colours == ["rgb(255, 255, 255)", "rgb(13, 17, 23)", "rgb(255, 255, 255)"]
    page.emulate_media(color_scheme="dark")
    assert page.eval_on_selector("#auto .vc-counter", "b => getComputedStyle(b).backgroundColor") == \
        "rgb(13, 17, 23)"
    assert page.eval_on_selector("#light .vc-counter", "b => getComputedStyle(b).backgroundColor") == \
        "rgb(255, 255, 255)"
    page.emulate_media(color_scheme="light")
    shot(page.locator("#dark .vc-counter"), "widget-dark.png")
    assert page.errors == [] and page.failed == []


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_state_and_theme_keeps_aa_contrast(browser, service, portal, scheme):
    context = browser.new_context(user_agent=BROWSER_UA, color_scheme=scheme)
    page = context.new_page()
    last = json.dumps({"total": 1672241, "online": 11, "today": 140})
    page.add_init_script(f"try {{ localStorage.setItem('vc:last:other', {last!r}); }} catch (e) {{}}")
    themes = ("light", "dark", "auto")
    serve("/contrast.html", "".join(
        f'<div id="fresh-{t}" data-visit-counter="demo" data-theme="{t}"></div>'
        f'<div id="stale-{t}" data-visit-counter="other" data-theme="{t}"></div>'
        f'<div id="dash-{t}" data-visit-counter="nosuch" data-theme="{t}"></div>' for t in themes), service)
    page.route("**/api/v1/sites/other/hits", lambda route: route.abort())
    page.goto(f"{portal}/contrast.html")
    for t in themes:
        wait_numbers(page, f"#fresh-{t}")
        page.wait_for_selector(f"#stale-{t} .vc-counter.vc-stale")
        page.wait_for_function(f"document.querySelector('#dash-{t} .vc-value') !== null")
        assert page.text_content(f"#stale-{t} .vc-row-total .vc-value") == "1,672,241"
        assert page.text_content(f"#dash-{t} .vc-row-total .vc-value") == "—"
    texts = page.eval_on_selector_all(".vc-title, .vc-label, .vc-value", CONTRAST_JS)
    assert len(texts) == 3 * 3 * 7
    low = [t for t in texts if t["ratio"] < 4.5 or t["opacity"] != 1]
    assert low == [], low
    context.close()


def test_page_and_last_period_rows(page, service, portal, clock):
    """`page` is the hit's page views; last_week and last_month come from the stats."""
    counter_ = service.app.extensions["counter"]
    demo = counter_.sites["demo"]
    today = counter_.today(demo)
    counter_.set_day(demo, today - timedelta(days=7), 8810, 9000)     # last week (a Wednesday)
    counter_.set_day(demo, today.replace(day=1) - timedelta(days=1), 38402, 40000)  # last month
    serve("/articles/one", '<div id="a" data-visit-counter="demo" data-lang="en" '
          'data-fields="page,last_week,last_month,total"></div>', service)
    sent = []
    page.on("request", lambda r: r.url.endswith("/hits") and sent.append(json.loads(r.post_data)))
    page.goto(f"{portal}/articles/one")
    wait_numbers(page)
    assert sent[0]["path"] == "/articles/one"
    assert widget_text(page, "#a") == [("Page views", "1"), ("Last week", "8,810"),
                                       ("Last month", "38,402"), ("Total", "1")]
    clock.advance(60)
    page.goto(f"{portal}/articles/one")
    wait_numbers(page)
    assert dict(widget_text(page, "#a"))["Page views"] == "2"
    serve("/articles/two", '<div id="a" data-visit-counter="demo" data-fields="page"></div>', service)
    page.goto(f"{portal}/articles/two")
    wait_numbers(page)
    assert widget_text(page, "#a") == [("Lượt xem trang", "1")]
    assert page.errors == [] and page.failed == []


def test_the_page_row_counts_the_normalised_page_once_per_load(page, service, portal, clock):
    """Two widgets on one article: one page view, under the page's normal form, shown by both."""
    counter_ = service.app.extensions["counter"]
    demo = counter_.sites["demo"]
    assert counter_.today(demo) == date(2026, 11, 25)  # a Wednesday
    counter_.set_day(demo, date(2026, 11, 22), 5, None)  # last Sunday: last week
    counter_.set_day(demo, date(2026, 11, 15), 7, None)  # the Sunday before: not
    counter_.set_day(demo, date(2026, 10, 31), 1234, None)  # last month
    serve("/tin-tuc/bai-1/", '<div id="a" data-visit-counter="demo" data-fields="page,last_week,last_month">'
          '</div><div id="b" data-visit-counter="demo" data-lang="en" data-fields="last_month,page"></div>',
          service)
    page.goto(f"{portal}/tin-tuc/bai-1/#comments")
    wait_numbers(page, "#a")
    wait_numbers(page, "#b")
    assert widget_text(page, "#a") == [("Lượt xem trang", "1"), ("Tuần trước", "5"), ("Tháng trước", "1.234")]
    assert widget_text(page, "#b") == [("Last month", "1,234"), ("Page views", "1")]
    clock.advance(60)
    page.reload()
    wait_numbers(page, "#a")
    assert widget_text(page, "#a")[0] == ("Lượt xem trang", "2")
    with urllib.request.urlopen(f"{service.url}/api/v1/sites/demo/pages?period=today") as r:
        assert json.load(r)["pages"] == [{"path": "/tin-tuc/bai-1", "pageviews": 2}]
    assert stats(service)["pageviews_today"] == 2  # one page view per load, whatever the rows
    assert page.errors == [] and page.failed == []


def test_the_start_page_lists_sites_and_previews_the_options(page, service, portal):
    service.app.extensions["counter"].store.set_total("demo", 1672240)
    page.goto(f"{service.url}/")
    assert page.locator("#sites tbody tr").count() == 4
    assert page.text_content('tr[data-site="demo"] [data-field="total"]') == "1.672.240"
    assert page.get_attribute('tr[data-site="demo"] a', "href") == "/dashboard/demo"
    page.wait_for_selector("#preview .vc-counter:not(.vc-stale)")
    assert widget_text(page, "#preview") == [("Tổng số", "1.672.240"), ("Trực tuyến", "0"), ("Hôm nay", "0")]
    page.select_option('select[name="theme"]', "dark")
    page.select_option('select[name="lang"]', "en")
    page.uncheck('input[value="online"]')
    page.check('input[value="yesterday"]')
    page.fill('input[name="title"]', "Lượt truy cập")
    page.wait_for_selector("#preview .vc-counter.vc-dark:not(.vc-stale)")
    assert page.text_content("#preview .vc-title") == "Lượt truy cập"
    assert widget_text(page, "#preview") == [("Total", "1,672,240"), ("Today", "0"), ("Yesterday", "0")]
    snippet = page.text_content("#snippet")
    assert snippet == ('<div data-visit-counter="demo" data-lang="en" data-fields="total,today,yesterday" '
                       'data-theme="dark" data-title="Lượt truy cập"></div>\n'
                       f'<script async src="{service.url}/widget.js"></script>')
    assert stats(service)["pageviews_today"] == 0  # the preview never counts
    shot(page, "home.png", full_page=True)
    assert page.errors == [] and page.failed == []
    page.set_viewport_size({"width": 375, "height": 812})
    wide = page.evaluate("Array.from(document.querySelectorAll('body *')).filter(e => "
                         "e.getBoundingClientRect().right > 376 && !e.closest('.scroll, pre'))"
                         ".map(e => e.tagName + '.' + e.className)")
    assert wide == [] and page.evaluate("document.documentElement.scrollWidth") <= 375  # usable on a phone

    # What a webmaster does next: paste it into a page of the portal.
    Pages.pages["/pasted.html"] = (f"<!doctype html><html><head><meta charset='utf-8'><title>P</title></head>"
                                   f"<body><h1>Portal</h1>{snippet}</body></html>", None)
    page.goto(f"{portal}/pasted.html")
    page.wait_for_selector("[data-visit-counter] .vc-counter.vc-dark:not(.vc-stale)")
    assert widget_text(page, "[data-visit-counter]") == [("Total", "1,672,241"), ("Today", "1"),
                                                         ("Yesterday", "0")]


def assert_labels_apart(page, days: int) -> None:
    """Check that the charts' axis labels neither touch each other nor leave their chart."""
    overlaps = page.eval_on_selector_all("svg.plot", """svgs => svgs.map(svg => {
      const box = svg.getBoundingClientRect();
      const r = Array.from(svg.querySelectorAll('text.xlabel')).map(t => t.getBoundingClientRect())
        .filter(b => b.width > 0).sort((a, b) => a.left - b.left);
      const bad = r.filter((b, i) => (i && b.left < r[i - 1].right + 2) ||
                                      b.left < box.left - 1 || b.right > box.right + 1);
      return {labels: r.length, bad: bad.length};
    })""")
    assert len(overlaps) == 2 and all(o["labels"] >= 3 and o["bad"] == 0 for o in overlaps), (days, overlaps)


@pytest.mark.parametrize("width", [601, 800, 1100, 1600])
def test_chart_labels_never_overlap_at_any_width(page, service, width):
    page.set_viewport_size({"width": width, "height": 900})
    for days in (7, 30, 31, 90, 92, 93, 180, 366):
        page.goto(f"{service.url}/dashboard/demo?days={days}")
        assert_labels_apart(page, days)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_dashboards_on_a_phone(browser, service, portal, clock, scheme):
    counter_ = service.app.extensions["counter"]
    counter_.store.set_total("demo", 1672240)
    for days_ago in range(0, 366, 7):  # a year of history, so every axis has numbers
        clock_day = counter_.today(counter_.sites["demo"])
        counter_.set_day(counter_.sites["demo"], clock_day.fromordinal(clock_day.toordinal() - days_ago),
                         1000 + 37 * days_ago, 2000)
    for n, path in enumerate(["/tin-tuc/ket-qua-tuyen-sinh-2026", "/tin-tuc/ket-qua-tuyen-sinh-2026",
                              "/thu-tuc-hanh-chinh/cap-can-cuoc-cong-dan-cho-nguoi-tu-du-14-tuoi", "/"]):
        counter_.hit(counter_.sites["demo"], f"visitor-{n:012d}", None, f"198.51.100.{n}", BROWSER_UA, path)
    context = browser.new_context(user_agent=BROWSER_UA, viewport={"width": 375, "height": 812},
                                  device_scale_factor=2, color_scheme=scheme)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    for days in (30, 90, 366):
        page.goto(f"{service.url}/dashboard/demo?days={days}")
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        sizes = page.eval_on_selector_all(
            "svg text", "ts => ts.filter(t => t.getBoundingClientRect().width > 0)"
            ".map(t => parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a)")
        assert sizes and min(sizes) >= 11, sizes
        assert_labels_apart(page, days)
        texts = page.eval_on_selector_all("h2, .cards .n, .cards .l, .muted, svg text, a", CONTRAST_JS)
        low = [t for t in texts if t["ratio"] < 4.5]
        assert low == [], low
    assert page.text_content(".cards li:first-child .n") == "1.672.244"  # and the four visits above
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == ("rgb(13, 17, 23)" if scheme == "dark" else "rgb(246, 248, 250)")
    page.goto(f"{service.url}/dashboard/demo?days=30")
    shot(page, f"dashboard-phone-{scheme}.png", docs=scheme == "dark", full_page=True)
    page.goto(f"{service.url}/dashboard")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    assert errors == []
    context.close()


def test_switching_tabs_sends_at_most_one_heartbeat_a_minute(page, service, portal, clock):
    # A reader flicking between tabs must not spend the address's heartbeat budget.
    serve("/tabs.html", '<div id="a" data-visit-counter="demo"></div>', service)
    page.add_init_script("window.__hidden = false; Object.defineProperty(document, 'visibilityState',"
                         " {get: function () { return window.__hidden ? 'hidden' : 'visible'; }});")
    warnings, calls = watch(page)
    page.clock.install()
    page.goto(f"{portal}/tabs.html")
    wait_numbers(page)

    def switch(hidden: bool) -> None:
        page.evaluate(f"window.__hidden = {'true' if hidden else 'false'};"
                      " document.dispatchEvent(new Event('visibilitychange'))")

    beats = lambda: calls.count("POST api/v1/sites/demo/heartbeat")  # noqa: E731
    for _ in range(10):  # ten tab switches within the first half minute
        switch(True)
        page.clock.run_for(1000)
        switch(False)
        page.clock.run_for(1000)
    page.wait_for_timeout(300)
    assert beats() == 0
    page.clock.run_for(40_000)  # the minute's heartbeat
    wait_for(page, lambda: beats() == 1, "the minute's heartbeat")
    switch(True)
    clock.advance(150)
    page.clock.run_for(150_000)  # hidden: no heartbeats
    page.wait_for_timeout(300)
    assert beats() == 1
    switch(False)  # back after more than a minute: one at once
    wait_for(page, lambda: beats() == 2, "the heartbeat on coming back")
    page.clock.run_for(20_000)
    page.wait_for_timeout(300)
    assert beats() == 2
    assert stats(service)["online"] == 1
    assert warnings == [] and page.errors == []


def test_the_heartbeat_refreshes_the_page_row_too(page, service, portal, clock):
    """Every number of the block is refreshed after a heartbeat, the page's views included."""
    serve("/articles/live", '<div id="a" data-visit-counter="demo" data-lang="en" '
          'data-fields="total,today"></div><div id="b" data-visit-counter="demo" data-lang="en" '
          'data-fields="page,online"></div>', service)
    page.clock.install()
    page.goto(f"{portal}/articles/live")
    wait_numbers(page, "#b")
    assert widget_text(page, "#b") == [("Page views", "1"), ("Online", "1")]
    counter_ = service.app.extensions["counter"]
    counter_.hit(counter_.sites["demo"], None, None, "192.0.2.7", BROWSER_UA, "/articles/live")
    clock.advance(60)
    page.clock.run_for(60_000)
    wait_for(page, lambda: widget_text(page, "#b") == [("Page views", "2"), ("Online", "2")],
             f"the page row refreshed, not {widget_text(page, '#b')}")
    assert stats(service)["pageviews_today"] == 2  # the refresh reads, it never counts
    assert page.errors == [] and page.failed == []
