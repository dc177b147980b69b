"""Pages: per-page counts in the hit's one script call, the pages calls, the bound, the badge."""

from __future__ import annotations

import random
import string
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markupsafe import escape

from counter.pages import OTHER
from counter.store import PAGES_ALL, Store
from tests.helpers import browser, flush

V1 = "visitor-aaaaaaaaaaaa1"
V2 = "visitor-bbbbbbbbbbbb2"
V3 = "visitor-cccccccccccc3"


def hit(client, path=None, visitor=V1, **extra) -> dict:
    """Post a hit with a path and return its body."""
    body = {"visitor": visitor, **extra}
    if path is not None:
        body["path"] = path
    response = client.post("/api/v1/sites/demo/hits", json=body)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def pages(client, query="") -> dict:
    """Return the pages call's body."""
    response = client.get(f"/api/v1/sites/demo/pages{query}")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_a_hit_with_a_path_counts_its_page_and_answers_its_numbers(client, clock):
    body = hit(client, "/news/a/?utm=x#top")
    assert body["counted"] is True
    assert body["page"] == {"path": "/news/a", "pageviews": 1, "today": 1}
    clock.advance(60)
    body = hit(client, "news//a", V2)
    assert body["page"] == {"path": "/news/a", "pageviews": 2, "today": 2}
    assert (body["today"], body["pageviews_today"]) == (2, 2)
    clock.set("2026-11-26T08:00:00+07:00")  # the next day
    body = hit(client, "/news/a")
    assert body["page"] == {"path": "/news/a", "pageviews": 3, "today": 1}
    assert "page" not in hit(client, visitor=V3)  # no path: the site only


def test_a_hit_without_a_path_writes_no_page_table(client, redis):
    hit(client)
    assert not [k for k in redis.scan_iter("*") if ":pages:" in k]


def test_repeated_bot_and_limited_hits_count_no_page_view(make_app, clock):
    c = browser(make_app(COUNTER_RATE_LIMIT="5"))  # the repeat and the bot below use one each too
    assert hit(c, "/a", hit="hit-00000001")["page"]["pageviews"] == 1
    again = hit(c, "/a", hit="hit-00000001")
    assert again["counted"] is False and again["page"] == {"path": "/a", "pageviews": 1, "today": 1}
    bot = c.post("/api/v1/sites/demo/hits", json={"path": "/a"}, headers={"User-Agent": "Googlebot/2.1"})
    assert bot.get_json()["counted"] is False
    assert bot.get_json()["page"] == {"path": "/a", "pageviews": 1, "today": 1}
    hit(c, "/a")
    hit(c, "/a")
    limited = c.post("/api/v1/sites/demo/hits", json={"visitor": V1, "path": "/a"})
    assert limited.status_code == 429
    views = c.get("/api/v1/sites/demo/pages/views?path=/a").get_json()
    assert (views["pageviews"], views["today"]) == (3, 3)


def test_pages_lists_most_viewed_first_and_ties_in_path_order(client, clock):
    for path, n in (("/b", 2), ("/a", 2), ("/c", 5), ("/d", 1), ("/", 2), ("/e", 1)):
        for _ in range(n):
            hit(client, path)
            clock.advance(1)
    body = pages(client)
    assert body == {"site": "demo", "period": "all", "other": 0, "pages": [
        {"path": "/c", "pageviews": 5}, {"path": "/", "pageviews": 2}, {"path": "/a", "pageviews": 2},
        {"path": "/b", "pageviews": 2}, {"path": "/d", "pageviews": 1}, {"path": "/e", "pageviews": 1}]}
    # A cut through equal counts keeps the first paths, whatever the limit.
    for limit in range(1, 7):
        assert pages(client, f"?limit={limit}")["pages"] == body["pages"][:limit]
    assert pages(client, "?period=today")["pages"] == body["pages"]
    assert pages(client, "?period=2026-11")["pages"] == body["pages"]
    assert pages(client, "?period=2026-11-25")["pages"] == body["pages"]
    assert pages(client, "?period=2026-10")["pages"] == []
    csv = client.get("/api/v1/sites/demo/pages?format=csv&limit=2")
    assert csv.mimetype == "text/csv"
    assert csv.get_data(as_text=True) == "path,pageviews\n/c,5\n/,2\n"


def test_periods_of_days_months_and_all_time(client, clock):
    clock.set("2026-10-22T10:00:00+07:00")  # 34 days before 25 November
    hit(client, "/old")
    clock.set("2026-10-31T23:59:59+07:00")
    hit(client, "/old", V2)
    clock.set("2026-11-25T09:00:00+07:00")
    hit(client, "/new")
    assert pages(client, "?period=2026-10")["pages"] == [{"path": "/old", "pageviews": 2}]
    assert pages(client, "?period=2026-10-22")["pages"] == [{"path": "/old", "pageviews": 1}]
    assert pages(client, "?period=2026-11")["pages"] == [{"path": "/new", "pageviews": 1}]
    assert pages(client, "?period=today")["pages"] == [{"path": "/new", "pageviews": 1}]
    assert [p["path"] for p in pages(client, "?period=all")["pages"]] == ["/old", "/new"]
    clock.set("2026-11-26T09:00:00+07:00")  # now 35 days later: the day is no longer kept
    assert pages(client, "?period=2026-10-22") == {"site": "demo", "period": "2026-10-22",
                                                    "pages": [], "other": 0}
    assert pages(client, "?period=today")["pages"] == []
    assert pages(client, "?period=2026-10")["pages"] == [{"path": "/old", "pageviews": 2}]


@pytest.mark.parametrize(("query", "code"), [
    ("?period=yesterday", "invalid_period"), ("?period=2026-13", "invalid_period"),
    ("?period=2026-02-30", "invalid_period"), ("?period=", "invalid_period"),
    ("?limit=0", "invalid_limit"), ("?limit=1001", "invalid_limit"), ("?limit=x", "invalid_limit"),
    ("?limit=-1", "invalid_limit"), ("?limit=²", "invalid_limit"), ("?limit=١٠", "invalid_limit"),
    ("?limit=9999999999", "invalid_limit"), ("?format=xml", "invalid_format"),
])
def test_pages_refuses_bad_queries(client, redis, query, code):
    response = client.get(f"/api/v1/sites/demo/pages{query}")
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == code
    assert redis.dbsize() == 0


def test_page_views_of_one_page(client, redis):
    hit(client, "/tin-t%E1%BB%A9c")
    body = client.get("/api/v1/sites/demo/pages/views?path=/tin-tức/").get_json()
    assert body == {"site": "demo", "path": "/tin-tức", "pageviews": 1, "today": 1}
    keys = redis.dbsize()
    unknown = client.get("/api/v1/sites/demo/pages/views?path=/nowhere?x=1").get_json()
    assert unknown == {"site": "demo", "path": "/nowhere", "pageviews": 0, "today": 0}
    assert redis.dbsize() == keys


def test_an_empty_path_is_the_front_page_as_for_a_hit(client, redis):
    hit(client, "")
    body = client.get("/api/v1/sites/demo/pages/views?path=").get_json()
    assert body == {"site": "demo", "path": "/", "pageviews": 1, "today": 1}


@pytest.mark.parametrize("query", ["", "?path=" + "a" * 513, "?path=/a%0Ab"])
def test_page_views_refuses_a_missing_or_bad_path(client, redis, query):
    response = client.get("/api/v1/sites/demo/pages/views" + query)
    assert redis.dbsize() == 0
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_path"


def test_unknown_site_pages_calls_are_404(client, redis):
    assert client.get("/api/v1/sites/nosuch/pages").status_code == 404
    assert client.get("/api/v1/sites/nosuch/pages/views?path=/").status_code == 404
    assert redis.dbsize() == 0


@pytest.mark.parametrize("raw", ['{"path": "/a\\ud800"}', '{"path": "/a\\u0000"}', '{"path": 5}',
                                 '{"path": "' + "a" * 513 + '"}'])
def test_a_hit_with_a_bad_path_is_refused_and_writes_nothing(client, redis, raw):
    response = client.post("/api/v1/sites/demo/hits", data=raw, content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_path"
    assert redis.dbsize() == 0


def test_made_up_paths_cannot_grow_the_tables_or_push_real_pages_out(make_app, redis, clock):
    app = make_app(COUNTER_MAX_PATHS="20", COUNTER_RATE_LIMIT="1000000", COUNTER_NEW_VISIT_LIMIT="1000000")
    c = browser(app)
    real = [f"/real/{i}" for i in range(5)]
    for path in real:
        hit(c, path)
    store, zone = app.extensions["counter"].store, app.extensions["counter"].sites["demo"].zone
    rng = random.Random(13)
    made_up = ["/" + "".join(rng.choices(string.ascii_letters, k=40)) for _ in range(2000)]
    store.hit("demo", zone, clock.now(), "attacker", "client", "", made_up[0])
    keys = redis.dbsize()  # the site's keys and the attacker's rate-limit windows
    for i, path in enumerate(made_up[1:], 1):
        store.hit("demo", zone, clock.now(), "attacker", "client", "", path)
        if i % 500 == 0:
            assert hit(c, real[0])["page"]["pageviews"] == 1 + i // 500  # real pages keep counting
    assert redis.dbsize() == keys  # nothing but the site's fixed keys
    top = pages(c, "?limit=1000")
    assert len(top["pages"]) == 20  # the 5 real pages and the first 15 made-up ones
    assert top["pages"][0] == {"path": real[0], "pageviews": 4}
    assert {p["path"] for p in top["pages"]} == set(real) | set(made_up[:15])
    assert top["other"] == 2000 - 15
    for period in ("today", "2026-11"):
        listed = pages(c, f"?period={period}&limit=1000")
        assert (len(listed["pages"]), listed["other"]) == (20, 2000 - 15)
    for key in redis.scan_iter("*:pages:*"):
        assert redis.zcard(key) == 22, key  # 20 pages, "(other)" and the member that keeps a skiplist
    # A page beyond the bound is counted under "(other)" and reads zeros on its own.
    late = hit(c, "/real/late")
    assert late["counted"] is True and late["page"] == {"path": "/real/late", "pageviews": 0, "today": 0}
    assert pages(c)["other"] == 2000 - 15 + 1
    assert hit(c, real[4])["page"]["pageviews"] == 2


def test_an_address_names_at_most_its_rate_limit_of_new_pages_an_hour(make_app, redis, clock):
    # Else one address could fill the site's names with made-up paths in minutes, for ever.
    app = make_app(COUNTER_RATE_LIMIT="2", COUNTER_NEW_VISIT_LIMIT="1000000")
    store, zone = app.extensions["counter"].store, app.extensions["counter"].sites["demo"].zone

    def view(client, path, network=""):
        clock.advance(31)  # within each client's 2 hits a minute
        return store.hit("demo", zone, clock.now(), "v-" + client, client, "", path, network).page_views

    assert [view("a", "/1"), view("a", "/2"), view("a", "/3")] == [1, 1, 0]  # the third: "(other)"
    assert view("a", "/1") == 2  # a named page still counts
    assert view("b", "/3") == 1  # another address names it
    clock.advance(3600)
    assert view("a", "/4") == 1  # and the next hour, the first one again
    # An IPv6 network names NETWORK_SHARE (8) times as many: 16 of its 9 addresses' 18 new pages.
    named = [view(f"n{i}", f"/net/{i}/{j}", "net") for i in range(9) for j in range(2)]
    assert named.count(1) == 16 and named[-2:] == [0, 0]
    assert pages(browser(app), "?limit=1000")["other"] == 3
    assert all(0 < redis.ttl(k) <= 3600 for k in redis.scan_iter("*:np:*"))


def test_a_heartbeat_with_a_path_answers_its_page_and_counts_nothing(client, redis):
    hit(client, "/a/")
    hit(client, "/a", V2)
    before = {k: redis.dump(k) for k in redis.scan_iter("*:pages:*")}
    response = client.post("/api/v1/sites/demo/heartbeat", json={"visitor": V1, "path": "/a?x=1"})
    assert response.status_code == 200
    body = response.get_json()
    assert body["page"] == {"path": "/a", "pageviews": 2, "today": 2}
    assert body["pageviews_today"] == 2 and "counted" not in body
    assert {k: redis.dump(k) for k in redis.scan_iter("*:pages:*")} == before
    assert "page" not in client.post("/api/v1/sites/demo/heartbeat", json={"visitor": V1}).get_json()
    assert "page" not in client.get("/api/v1/sites/demo/stats").get_json()  # the cached stats stay plain
    keys = sorted(redis.scan_iter("*"))
    bad = client.post("/api/v1/sites/demo/heartbeat", json={"visitor": V1, "path": "/a\u0000"})
    assert (bad.status_code, bad.get_json()["error"]["code"]) == (400, "invalid_path")
    assert sorted(redis.scan_iter("*")) == keys


def test_a_dashboard_shows_views_counted_only_under_other(make_app, clock):
    c = browser(make_app(COUNTER_MAX_PATHS="1"))
    hit(c, "/kept")
    clock.advance(86400)
    hit(c, "/beyond")  # the next day: its only view is beyond the bound
    html = c.get("/dashboard/demo?period=today").get_data(as_text=True)
    assert "No page views" not in html and "(other pages, beyond the 1 kept)" in html


def test_day_tables_expire_and_month_and_all_time_tables_do_not(client, redis, clock):
    hit(client, "/a")  # 25 November 2026, 09:00 in Hanoi
    tables = {k.rsplit(":", 2)[-2] if ":pages:d:" in k or ":pages:m:" in k else "all": k
              for k in redis.scan_iter("*:pages:*")}
    assert set(tables) == {"all", "m", "d"}
    assert redis.ttl(tables["all"]) == -1 and redis.ttl(tables["m"]) == -1
    # Until local midnight starting 31 December: 36 days from the day's start.
    assert 35 * 86400 + 14 * 3600 < redis.ttl(tables["d"]) <= 35 * 86400 + 15 * 3600
    clock.advance(3600)
    hit(client, "/b", V2)  # a new page on the same day keeps the same deadline
    assert 35 * 86400 + 13 * 3600 < redis.ttl(tables["d"]) <= 35 * 86400 + 14 * 3600


HOSTILE = ['/"><script>alert(1)</script>', "javascript:alert(1)", "/<img src=x onerror=alert(1)>",
           "/a' onmouseover='alert(1)", "/%3Cscript%3Ealert(2)%3C/script%3E"]


@pytest.fixture
def portal(make_app, tmp_path):
    """Return a client of an app with a site that lists its origin and one that does not."""
    sites = tmp_path / "sites.toml"
    sites.write_text('[demo]\nname = "Demo"\n[other]\nname = "Other"\norigins = ["https://portal.example"]\n')
    return browser(make_app(COUNTER_SITES_FILE=str(sites), COUNTER_SITES=""))


def test_badge_shows_one_page_and_counts_it_only_when_asked(portal):
    assert portal.post("/api/v1/sites/demo/hits", json={"path": "/a"}).status_code == 200
    badge = portal.get("/api/v1/sites/demo/badge.svg?path=/a/&lang=en")
    text = badge.get_data(as_text=True)
    assert badge.status_code == 200 and "Page views" in text and ">1<" in text
    assert "Total" not in text  # with a path, the page's views alone unless fields say more
    counted = portal.get("/api/v1/sites/demo/badge.svg?path=/a&count=1&fields=page,total")
    text = counted.get_data(as_text=True)
    assert "Lượt xem trang" in text and ">2<" in text and "Tổng số" in text
    views = portal.get("/api/v1/sites/demo/pages/views?path=/a").get_json()
    assert views["pageviews"] == 2


@pytest.mark.parametrize("query", ["fields=page", "path=" + "a" * 513, "path=/a%00"])
def test_badge_refuses_a_page_field_without_a_page_or_a_bad_path(portal, redis, query):
    response = portal.get(f"/api/v1/sites/demo/badge.svg?{query}")
    assert response.status_code == 400
    assert redis.dbsize() == 0


@pytest.mark.parametrize("path", HOSTILE)
def test_hostile_paths_stay_text_in_the_badge_and_the_dashboard(portal, path):
    for site in ("demo", "other"):
        assert portal.post(f"/api/v1/sites/{site}/hits", json={"path": path}).status_code == 200
        badge = portal.get(f"/api/v1/sites/{site}/badge.svg", query_string={"path": path, "count": "1"})
        assert badge.status_code == 200
        svg = badge.get_data(as_text=True)
        assert "<script" not in svg and "<img" not in svg and "onerror" not in svg
        html = portal.get(f"/dashboard/{site}?period=today").get_data(as_text=True)
        assert "<script>alert" not in html and "<img src=x" not in html
        assert "' onmouseover='" not in html and 'href="javascript' not in html
    html = portal.get("/dashboard/other?period=today").get_data(as_text=True)
    page = portal.get("/api/v1/sites/other/pages").get_json()["pages"][0]["path"]
    assert page.startswith("/")
    # Shown as escaped text; a link only to the site's own origin.
    assert str(escape(page)) in html
    assert 'href="https://portal.example/' in html


def test_dashboard_lists_the_20_most_viewed_pages_of_the_chosen_period(portal, clock):
    for i in range(25):
        for _ in range(i + 1):
            portal.post("/api/v1/sites/other/hits", json={"path": f"/article/{i}"})
            clock.advance(1)
    clock.set("2026-12-01T09:00:00+07:00")
    portal.post("/api/v1/sites/other/hits", json={"path": "/december"})
    html = portal.get("/dashboard/other").get_data(as_text=True)  # this month by default
    assert ">/december</a>" in html and "/article/24" not in html
    html = portal.get("/dashboard/other?period=2026-11").get_data(as_text=True)
    shown = [f"/article/{i}" for i in range(24, 4, -1)]
    positions = [html.index(f'href="https://portal.example{p}"') for p in shown]
    assert positions == sorted(positions)  # most viewed first
    assert "/article/4<" not in html and ">25<" in html
    html = portal.get("/dashboard/other?period=all").get_data(as_text=True)
    assert "/article/24" in html and "/december" not in html  # 1 view: not among the 20
    demo = portal.get("/dashboard/demo?period=all").get_data(as_text=True)
    assert "No page views" in demo
    portal.post("/api/v1/sites/demo/hits", json={"path": "/x"})
    demo = portal.get("/dashboard/demo?period=all").get_data(as_text=True)
    assert "<td class=\"p\">/x</td>" in demo  # no origin listed: text, not a link
    bad = portal.get("/dashboard/demo?period=soon")
    assert bad.status_code == 400 and bad.get_json()["error"]["code"] == "invalid_period"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(views=st.dictionaries(st.sampled_from([f"/{c}" for c in "abcdefghij"] + [OTHER]),
                             st.integers(1, 4), max_size=11),
       limit=st.integers(1, 12), data=st.data())
def test_top_pages_are_the_first_of_the_full_order_at_any_cut(redis_url, redis, views, limit, data):
    flush(redis_url)
    store = Store(redis_url)
    # Some of each page's views in a table of the earlier format (views as they are): summed.
    earlier = {p: data.draw(st.integers(0, n)) for p, n in views.items()}
    table, old = store.key(PAGES_ALL, "demo"), "vc:{demo}:p:all"
    if current := {p: earlier[p] - n for p, n in views.items() if n > earlier[p]}:
        redis.zadd(table, current)  # views are stored negated
    if earlier := {p: n for p, n in earlier.items() if n}:
        redis.zadd(old, earlier)
    try:
        top = store.top_pages("demo", "all", None, limit)
    finally:
        store.client.close()
    named = sorted(((p, n) for p, n in views.items() if p != OTHER), key=lambda r: (-r[1], r[0]))
    assert (top.pages, top.other) == (named[:limit], views.get(OTHER, 0))
    assert not redis.exists(old) and redis.zcard(table) == len(views)  # merged


def test_page_tables_of_the_earlier_format_are_read_then_merged(client, counter, redis, clock):
    # Tables written before views were stored negated: views as they are, under "p:" keys.
    old = {"all": "vc:{demo}:p:all", "month": "vc:{demo}:p:m:2026-11", "day": "vc:{demo}:p:d:2026-11-25",
           "yesterday": "vc:{demo}:p:d:2026-11-24", "october": "vc:{demo}:p:m:2026-10"}
    redis.zadd(old["all"], {"/a": 5, "/b": 3, OTHER: 2})
    redis.zadd(old["month"], {"/a": 4, "/b": 3})
    redis.zadd(old["day"], {"/a": 2})
    redis.zadd(old["yesterday"], {"/b": 1})
    redis.zadd(old["october"], {"/b": 7})
    for key in ("day", "yesterday"):
        redis.expire(old[key], 1000)
    # Read before any hit: the earlier tables answer, and stay.
    views = client.get("/api/v1/sites/demo/pages/views?path=/a").get_json()
    assert (views["pageviews"], views["today"]) == (5, 2)
    read = counter.store.read("demo", ZoneInfo("Asia/Ho_Chi_Minh"), clock.now(), "/a")
    assert (read.page_views, read.page_today) == (5, 2)
    assert redis.exists(*old.values()) == 5
    # A hit of a page new to the current tables merges each of them first.
    assert hit(client, "/a")["page"] == {"path": "/a", "pageviews": 6, "today": 3}
    assert not redis.exists(old["all"], old["month"], old["day"])
    assert redis.ttl("vc:{demo}:pages:d:2026-11-25") > 0  # a day table keeps a deadline
    assert pages(client) == {"site": "demo", "period": "all", "other": 2,
                             "pages": [{"path": "/a", "pageviews": 6}, {"path": "/b", "pageviews": 3}]}
    assert pages(client, "?period=2026-11")["pages"] == [{"path": "/a", "pageviews": 5},
                                                         {"path": "/b", "pageviews": 3}]
    assert pages(client, "?period=today")["pages"] == [{"path": "/a", "pageviews": 3}]
    # Tables no hit writes any more are merged by their first read, deadline and all.
    assert pages(client, "?period=2026-10")["pages"] == [{"path": "/b", "pageviews": 7}]
    assert pages(client, "?period=2026-11-24")["pages"] == [{"path": "/b", "pageviews": 1}]
    assert 990 <= redis.ttl("vc:{demo}:pages:d:2026-11-24") <= 1000
    assert not redis.exists(*old.values())
    assert hit(client, "/b", V2)["page"] == {"path": "/b", "pageviews": 4, "today": 1}


def test_the_bound_counts_the_pages_of_an_earlier_table(make_app, redis):
    c = browser(make_app(COUNTER_MAX_PATHS="2"))
    redis.zadd("vc:{demo}:p:all", {"/a": 1, "/b": 1})
    body = hit(c, "/c")  # the third page: merged first, so beyond the bound
    assert body["page"] == {"path": "/c", "pageviews": 0, "today": 0}
    assert pages(c)["other"] == 1


def test_a_merge_keeps_the_current_day_tables_deadline(client, redis):
    hit(client, "/a")  # today's table, until local midnight 36 days on
    table = "vc:{demo}:pages:d:2026-11-25"
    deadline = redis.ttl(table)
    redis.zadd("vc:{demo}:p:d:2026-11-25", {"/b": 1})
    redis.expire("vc:{demo}:p:d:2026-11-25", 500)  # an earlier table with another lifetime
    assert [p["path"] for p in pages(client, "?period=today")["pages"]] == ["/a", "/b"]
    assert deadline - 5 <= redis.ttl(table) <= deadline
    redis.zadd("vc:{demo}:p:d:2026-11-25", {"/c": 1})  # and one with none
    assert len(pages(client, "?period=today")["pages"]) == 3
    assert deadline - 5 <= redis.ttl(table) <= deadline
