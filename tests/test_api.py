"""The HTTP calls of the contract, on fakeredis and on a real redis-server."""

from __future__ import annotations

import csv
import io

from counter.stamps import Stamps
from counter.store import StoreUnavailable
from tests.helpers import ADMIN, ADMIN_TOKEN, BROWSER_UA, browser, hit, stats

V1 = "visitor-aaaaaaaaaaaa1"
V2 = "visitor-bbbbbbbbbbbb2"


def test_first_hit_counts_a_visit_and_a_page_view(client):
    body = hit(client, visitor=V1, path="/tin-tuc?id=1#top").get_json()
    assert body["counted"] is True and body["new_visit"] is True
    assert (body["total"], body["today"], body["pageviews_today"], body["online"]) == (1, 1, 1, 1)
    assert body["unique_today"] == 1
    assert body["peak_online"]["today"] == {"count": 1, "at": "2026-11-25T09:00:00+07:00"}
    assert body["date"] == "2026-11-25"
    assert body["timezone"] == "Asia/Ho_Chi_Minh"
    assert body["as_of"] == "2026-11-25T09:00:00+07:00"
    assert body["online_window_seconds"] == 300
    assert body["stale"] is False


def test_stats_object_has_every_field_of_the_contract(client):
    body = stats(client)
    assert list(body) == [
        "site", "total", "today", "yesterday", "this_week", "this_month", "last_week", "last_month", "online",
        "pageviews_today", "unique_today", "bots_today", "peak_online", "date", "timezone",
        "online_window_seconds", "as_of", "stale",
    ]
    assert body["peak_online"] == {"today": {"count": 0, "at": None},
                                   "all_time": {"count": 0, "at": None}}


def test_second_page_view_in_the_visit_is_not_a_new_visit(client, clock):
    hit(client, visitor=V1)
    clock.advance(60)
    body = hit(client, visitor=V1).get_json()
    assert body["counted"] is True and body["new_visit"] is False
    assert (body["total"], body["today"], body["pageviews_today"]) == (1, 1, 2)


def test_repeated_hit_id_is_not_counted_again(client, clock):
    first = hit(client, visitor=V1, hit="load-0001").get_json()
    clock.advance(5)
    again = hit(client, visitor=V1, hit="load-0001").get_json()
    assert first["counted"] is True
    assert again["counted"] is False and again["new_visit"] is False
    assert again["pageviews_today"] == 1
    clock.advance(23 * 3600)
    assert hit(client, visitor=V1, hit="load-0001").get_json()["counted"] is False


def test_hit_without_visitor_id_uses_address_and_agent(client):
    assert hit(client).get_json()["new_visit"] is True
    assert hit(client).get_json()["new_visit"] is False
    other = client.post("/api/v1/sites/demo/hits", environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert other.get_json()["new_visit"] is True


def test_send_beacon_text_plain_body_is_accepted(client):
    response = client.post("/api/v1/sites/demo/hits", data=f'{{"visitor": "{V1}"}}',
                           content_type="text/plain;charset=UTF-8")
    assert response.status_code == 200
    assert response.get_json()["counted"] is True


def test_bot_is_answered_not_counted_and_tallied(client):
    response = client.post("/api/v1/sites/demo/hits", json={"visitor": V1},
                           headers={"User-Agent": "Mozilla/5.0 (compatible; Googlebot/2.1)"})
    body = response.get_json()
    assert response.status_code == 200
    assert body["counted"] is False and body["new_visit"] is False
    assert (body["total"], body["pageviews_today"], body["bots_today"]) == (0, 0, 1)
    headless = client.post("/api/v1/sites/demo/hits", headers={"User-Agent": "HeadlessChrome/120"})
    assert headless.get_json()["bots_today"] == 2
    empty = client.post("/api/v1/sites/demo/hits", headers={"User-Agent": ""})
    assert empty.get_json()["bots_today"] == 3


def test_heartbeat_keeps_online_and_never_counts(client, clock):
    hit(client, visitor=V1)
    for _ in range(5):
        clock.advance(240)
        body = client.post("/api/v1/sites/demo/heartbeat", json={"visitor": V1}).get_json()
        assert body["online"] == 1
    assert (body["total"], body["pageviews_today"]) == (1, 1)
    assert "counted" not in body
    clock.advance(301)
    assert stats(client)["online"] == 0


def test_heartbeat_of_any_visitor_keeps_it_online_and_slides_its_visit(client, clock):
    # The contract: online is whoever's last page view or heartbeat is within the
    # window, and every heartbeat slides the last-seen time; none counts a visit.
    body = client.post("/api/v1/sites/demo/heartbeat", json={"visitor": V1}).get_json()
    assert (body["online"], body["total"], body["today"], body["pageviews_today"]) == (1, 0, 0, 0)
    assert hit(client, visitor=V1).get_json()["new_visit"] is False  # seen by its heartbeat
    clock.advance(1800)  # the visit is over, and a heartbeat (a tab woken up) is seen again
    body = client.post("/api/v1/sites/demo/heartbeat", json={"visitor": V1}).get_json()
    assert (body["online"], body["total"]) == (1, 0)
    assert hit(client, visitor=V1).get_json()["new_visit"] is False


def test_online_counts_distinct_visitors_in_the_window(client, clock):
    hit(client, visitor=V1)
    clock.advance(200)
    hit(client, visitor=V2)
    hit(client, visitor=V2)
    assert stats(client)["online"] == 2
    clock.advance(100)  # V1 seen exactly 300 s ago: out of the window
    assert stats(client)["online"] == 1
    clock.advance(199)
    assert stats(client)["online"] == 1
    clock.advance(1)
    assert stats(client)["online"] == 0


def test_stats_never_counts_and_supports_etag(client):
    hit(client, visitor=V1)
    first = client.get("/api/v1/sites/demo/stats")
    assert first.headers["Cache-Control"] == "public, max-age=5"
    etag = first.headers["ETag"]
    again = client.get("/api/v1/sites/demo/stats", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.headers["ETag"] == etag
    assert stats(client)["pageviews_today"] == 1
    hit(client, visitor=V2)
    changed = client.get("/api/v1/sites/demo/stats", headers={"If-None-Match": etag})
    assert changed.status_code == 200


def test_stats_if_none_match_uses_the_weak_comparison(client):
    # nginx's gzip turns the ETag weak, and the browser sends W/"..." back: still the same numbers.
    hit(client, visitor=V1)
    etag = client.get("/api/v1/sites/demo/stats").headers["ETag"]
    weak = client.get("/api/v1/sites/demo/stats", headers={"If-None-Match": "W/" + etag})
    assert weak.status_code == 304
    listed = client.get("/api/v1/sites/demo/stats", headers={"If-None-Match": f'"other", W/{etag}'})
    assert listed.status_code == 304


def test_a_stale_answer_never_matches_the_etag_of_a_fresh_one(client, counter, clock, monkeypatch):
    # A browser that kept a stale answer must not be told by a 304 to keep showing it once Redis is back.
    hit(client, visitor=V1)
    fresh = client.get("/api/v1/sites/demo/stats")
    clock.advance(1)  # past the stats cache

    def unavailable(*args, **kwargs):
        raise StoreUnavailable("down")

    monkeypatch.setattr(counter.store, "read", unavailable)
    stale = client.get("/api/v1/sites/demo/stats")
    assert stale.get_json()["stale"] is True
    assert stale.headers["ETag"] != fresh.headers["ETag"]
    assert client.get("/api/v1/sites/demo/stats",
                      headers={"If-None-Match": fresh.headers["ETag"]}).status_code == 200
    monkeypatch.undo()
    clock.advance(1)
    again = client.get("/api/v1/sites/demo/stats", headers={"If-None-Match": stale.headers["ETag"]})
    assert again.status_code == 200 and again.get_json()["stale"] is False


def test_without_the_cache_a_hit_through_another_worker_shows_at_once(make_app):
    reader = browser(make_app(COUNTER_STATS_CACHE_MS="0"))
    writer = browser(make_app(COUNTER_STATS_CACHE_MS="0"))
    assert stats(reader)["today"] == 0
    hit(writer, visitor=V1)
    assert stats(reader)["today"] == 1


def test_with_the_cache_every_write_through_this_host_shows_at_once(make_app, clock):
    reader_app = make_app(COUNTER_STATS_CACHE_MS="5000")
    reader = browser(reader_app)
    writer = browser(make_app(COUNTER_STATS_CACHE_MS="5000", COUNTER_ADMIN_TOKEN=ADMIN_TOKEN))
    assert stats(reader)["today"] == 0
    hit(writer, visitor=V1)
    assert stats(reader)["today"] == 1
    writer.post("/api/v1/sites/demo/heartbeat", json={"visitor": V2})
    writer.post("/api/v1/sites/demo/hits", json={}, headers={"User-Agent": "Googlebot/2.1"})
    assert stats(reader)["bots_today"] == 1
    assert writer.put("/api/v1/sites/demo/total", json={"total": 500}, headers=ADMIN).status_code == 200
    assert stats(reader)["total"] == 500
    counter = reader_app.extensions["counter"]
    demo = counter.sites["demo"]
    assert counter.stats(demo) is counter.stats(demo)  # with nothing written, the cache answers


def test_the_stats_cache_keeps_another_hosts_numbers_for_its_ttl_only(make_app, clock):
    reader = browser(make_app(COUNTER_STATS_CACHE_MS="1000"))
    other_host = make_app(COUNTER_STATS_CACHE_MS="1000")
    other_host.extensions["counter"].stamps = Stamps()  # its workers' stamps are not this host's
    writer = browser(other_host)
    assert stats(reader)["today"] == 0
    hit(writer, visitor=V1)
    assert stats(reader)["today"] == 0  # within the TTL: this worker's cached read
    clock.advance(0.999)
    assert stats(reader)["today"] == 0
    clock.advance(0.001)
    assert stats(reader)["today"] == 1


def test_the_stats_cache_shows_this_workers_own_writes_at_once(make_app, clock):
    c = browser(make_app(COUNTER_STATS_CACHE_MS="5000", COUNTER_ADMIN_TOKEN=ADMIN_TOKEN))
    assert stats(c)["today"] == 0
    hit(c, visitor=V1)
    assert stats(c)["today"] == 1
    assert c.put("/api/v1/sites/demo/total", json={"total": 500}, headers=ADMIN).get_json()["total"] == 500
    assert stats(c)["total"] == 500
    assert c.put("/api/v1/sites/demo/daily/2026-11-25", json={"visits": 9},
                 headers=ADMIN).status_code == 200
    assert stats(c)["today"] == 9


def test_sites_list(client):
    hit(client, visitor=V1)
    body = client.get("/api/v1/sites").get_json()
    assert body == {"sites": [
        {"site": "demo", "name": "demo", "total": 1, "today": 1, "online": 1},
        {"site": "other", "name": "other", "total": 0, "today": 0, "online": 0},
    ]}


def test_online_call_has_sixty_minutes(client, clock):
    hit(client, visitor=V1)
    clock.advance(120)
    hit(client, visitor=V2)
    hit(client, visitor=V2)
    body = client.get("/api/v1/sites/demo/online").get_json()
    assert body["online"] == 2 and body["window_seconds"] == 300
    assert body["peak_today"]["count"] == 2
    rows = body["last_hour"]
    assert len(rows) == 60
    assert rows[-1] == {"minute": "2026-11-25T09:02:00+07:00", "pageviews": 2}
    assert rows[-3] == {"minute": "2026-11-25T09:00:00+07:00", "pageviews": 1}
    assert rows[0]["minute"] == "2026-11-25T08:03:00+07:00"
    assert sum(r["pageviews"] for r in rows) == 3
    clock.advance(3600)
    later = client.get("/api/v1/sites/demo/online").get_json()
    assert sum(r["pageviews"] for r in later["last_hour"]) == 0


def test_daily_defaults_to_thirty_days_zero_filled(client, clock):
    hit(client, visitor=V1)
    body = client.get("/api/v1/sites/demo/daily").get_json()
    assert body["site"] == "demo" and body["timezone"] == "Asia/Ho_Chi_Minh"
    days = body["days"]
    assert len(days) == 30
    assert days[0]["date"] == "2026-10-27" and days[-1]["date"] == "2026-11-25"
    assert days[-1] == {"date": "2026-11-25", "visits": 1, "pageviews": 1,
                        "unique_visitors": 1, "peak_online": 1}
    assert all(d["visits"] == 0 for d in days[:-1])


def test_daily_csv_by_parameter_and_by_accept(client):
    hit(client, visitor=V1)
    for response in (
        client.get("/api/v1/sites/demo/daily?from=2026-11-24&to=2026-11-25&format=csv"),
        client.get("/api/v1/sites/demo/daily?from=2026-11-24&to=2026-11-25",
                   headers={"Accept": "text/csv"}),
    ):
        assert response.status_code == 200
        assert response.mimetype == "text/csv"
        rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
        assert rows == [["date", "visits", "pageviews", "unique_visitors", "peak_online"],
                        ["2026-11-24", "0", "0", "0", "0"], ["2026-11-25", "1", "1", "1", "1"]]


def test_daily_accepts_the_longest_range(client):
    response = client.get("/api/v1/sites/demo/daily?from=2016-10-09&to=2026-11-25")
    assert response.status_code == 200
    assert len(response.get_json()["days"]) == 3700


def test_a_whole_number_written_with_a_fraction_point_is_a_whole_number(client):
    # JSON does not tell 42.0 from 42, and the OpenAPI document's integer admits both.
    response = client.put("/api/v1/sites/demo/total", data='{"total": 42.0}',
                          content_type="application/json", headers=ADMIN)
    assert response.status_code == 200 and response.get_json()["total"] == 42
    day = client.put("/api/v1/sites/demo/daily/2026-11-24", data='{"visits": 7.0}',
                     content_type="application/json", headers=ADMIN)
    assert day.status_code == 200 and day.get_json()["visits"] == 7


def test_admin_sets_total_and_a_past_day(client, clock):
    hit(client, visitor=V1)
    response = client.put("/api/v1/sites/demo/total", json={"total": 1672240}, headers=ADMIN)
    assert response.status_code == 200
    assert response.get_json()["total"] == 1672240
    clock.advance(3600)
    assert hit(client, visitor=V2).get_json()["total"] == 1672241
    day = client.put("/api/v1/sites/demo/daily/2026-11-24", json={"visits": 1203, "pageviews": 4100},
                     headers=ADMIN)
    assert day.status_code == 200
    assert day.get_json() == {"date": "2026-11-24", "visits": 1203, "pageviews": 4100,
                              "unique_visitors": 0, "peak_online": 0}
    body = stats(client)
    assert body["yesterday"] == 1203 and body["total"] == 1672241
    assert body["this_week"] == 1205 and body["this_month"] == 1205


def test_setting_a_day_again_keeps_the_month_right(client):
    hit(client, visitor=V1)
    for visits in (1203, 1000, 0, 2**53 - 1):
        r = client.put("/api/v1/sites/demo/daily/2026-11-02", json={"visits": visits}, headers=ADMIN)
        assert r.get_json()["visits"] == visits
        assert stats(client)["this_month"] == visits + 1
    client.put("/api/v1/sites/demo/daily/2026-11-02", json={"pageviews": 7}, headers=ADMIN)
    assert stats(client)["this_month"] == 2**53  # page views alone leave visits be


def test_admin_needs_the_token(make_app):
    closed = make_app().test_client()
    assert closed.put("/api/v1/sites/demo/total", json={"total": 5}).status_code == 403
    assert closed.put("/api/v1/sites/demo/total", json={"total": 5},
                      headers=ADMIN).get_json()["error"]["code"] == "admin_disabled"
    open_ = make_app(COUNTER_ADMIN_TOKEN=ADMIN_TOKEN).test_client()
    assert open_.put("/api/v1/sites/demo/total", json={"total": 5}).status_code == 401
    wrong = open_.put("/api/v1/sites/demo/total", json={"total": 5},
                      headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert wrong.get_json()["error"]["code"] == "unauthorized"


def test_writes_from_a_foreign_origin_are_refused(make_app, tmp_path):
    sites = tmp_path / "sites.toml"
    sites.write_text('[ninhbinh]\nname = "Ninh Bình"\norigins = ["https://ninhbinh.gov.vn"]\n')
    c = make_app(COUNTER_SITES_FILE=str(sites), COUNTER_SITES="").test_client()
    c.environ_base["HTTP_USER_AGENT"] = BROWSER_UA
    ok = c.post("/api/v1/sites/ninhbinh/hits", json={"visitor": V1},
                headers={"Origin": "https://ninhbinh.gov.vn"})
    assert ok.status_code == 200
    assert ok.headers["Access-Control-Allow-Origin"] == "https://ninhbinh.gov.vn"
    bad = c.post("/api/v1/sites/ninhbinh/hits", json={"visitor": V1},
                 headers={"Origin": "https://evil.example"})
    assert bad.status_code == 403
    assert bad.get_json()["error"]["code"] == "origin_not_allowed"
    read = c.get("/api/v1/sites/ninhbinh/stats", headers={"Origin": "https://evil.example"})
    assert read.status_code == 200 and read.headers["Access-Control-Allow-Origin"] == "*"
    assert read.get_json()["pageviews_today"] == 1


def test_health_and_readiness(client):
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200


def test_every_answer_is_nosniff(client):
    assert client.get("/healthz").headers["X-Content-Type-Options"] == "nosniff"
    assert client.get("/nowhere").headers["X-Content-Type-Options"] == "nosniff"
