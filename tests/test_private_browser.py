"""A private site's dashboard in a real browser: opened with the token, its numbers refresh."""

from __future__ import annotations

import pytest
import redis as redis_py
from helpers import BROWSER_UA, browser, settings
from test_browser import Service, portal, serve  # noqa: F401 - the portal fixture
from test_browser import browser as chromium  # noqa: F401 - the module's Chromium fixture

from counter import create_app

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api").expect
TOKEN = "s3cret-token-of-24-chars!"


@pytest.fixture
def service(real_redis, clock, tmp_path):
    """Serve an app with a private site on an empty real redis-server."""
    redis_py.Redis.from_url(real_redis.url).flushall()
    sites = tmp_path / "sites.toml"
    sites.write_text('[hidden]\nname = "Internal portal"\npublic = false\n[demo]\n')
    config = settings(COUNTER_SITES_FILE=str(sites), COUNTER_SITES="", COUNTER_ADMIN_TOKEN=TOKEN)
    config.update(REDIS_URL=real_redis.url, CLOCK=clock)
    s = Service(create_app(config)).start()
    yield s
    s.stop()


def test_a_private_dashboard_opens_with_the_token_and_refreshes(chromium, service):  # noqa: F811
    # As a browser does once its reader typed the token into the Basic prompt.
    credentials = {"username": "operator", "password": TOKEN}
    context = chromium.new_context(user_agent=BROWSER_UA, http_credentials=credentials)
    page = context.new_page()
    answers: list[tuple[int, str]] = []
    page.on("response", lambda r: answers.append((r.status, r.url.removeprefix(service.url))))
    page.clock.install()
    response = page.goto(f"{service.url}/dashboard/hidden")
    assert response.status == 200
    assert "Internal portal" in page.text_content("header h1")
    c = browser(service.app, "198.51.100.9")
    c.post("/api/v1/sites/hidden/hits", json={"visitor": "private-reader-0001"})
    page.clock.fast_forward(11_000)  # the dashboard refreshes every 10 s
    expect(page.locator("#online")).to_have_text("1", timeout=5000)
    assert (200, "/api/v1/sites/hidden/online") in answers
    assert not [a for a in answers if a[0] >= 400]
    context.close()


def test_a_private_sites_page_row_refreshes_with_the_heartbeat(chromium, service, portal, clock):  # noqa: F811
    # The widget is public on a private site too; pages/views is not, so the heartbeat answers the row.
    serve("/articles/private", '<div id="b" data-visit-counter="hidden" data-lang="en" '
          'data-fields="page,online"></div>', service)
    context = chromium.new_context(user_agent=BROWSER_UA)
    page = context.new_page()
    answers: list[tuple[int, str]] = []
    page.on("response", lambda r: answers.append((r.status, r.url.removeprefix(service.url))))
    page.clock.install()
    page.goto(f"{portal}/articles/private")
    expect(page.locator("#b .vc-value").first).to_have_text("1", timeout=10_000)
    counter_ = service.app.extensions["counter"]
    counter_.hit(counter_.sites["hidden"], None, None, "192.0.2.7", BROWSER_UA, "/articles/private")
    clock.advance(60)
    page.clock.run_for(60_000)
    expect(page.locator("#b .vc-value")).to_have_text(["2", "2"], timeout=10_000)
    assert not [a for a in answers if a[0] >= 400]
    assert not [a for a in answers if "/pages/views" in a[1]]  # one request a minute, not two
    context.close()
