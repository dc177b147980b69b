"""Exact behaviour in time: sliding windows, local midnights, weeks, months, years."""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.helpers import ADMIN, BROWSER_UA, browser, stats
from tests.helpers import hit as post_hit

V1 = "visitor-aaaaaaaaaaaa1"
V2 = "visitor-bbbbbbbbbbbb2"
V3 = "visitor-cccccccccccc3"


def hit(client, visitor=V1) -> dict:
    """Post a counted hit and return its body."""
    response = post_hit(client, visitor)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_a_visitor_active_every_20_minutes_for_3_hours_is_one_visit(client, clock):
    for _ in range(10):
        hit(client)
        clock.advance(20 * 60)
    body = stats(client)
    assert (body["total"], body["today"], body["pageviews_today"]) == (1, 1, 10)


def test_a_gap_of_the_visit_timeout_starts_a_new_visit(client, clock):
    hit(client)
    clock.advance(1799)
    assert hit(client)["new_visit"] is False
    clock.advance(1800)
    assert hit(client)["new_visit"] is True
    assert stats(client)["total"] == 2


def test_heartbeats_slide_the_visit_too(client, clock):
    hit(client)
    for _ in range(60):  # an hour with the page open
        clock.advance(60)
        client.post("/api/v1/sites/demo/heartbeat", json={"visitor": V1})
    assert hit(client)["new_visit"] is False


def test_visit_timeout_and_online_window_follow_configuration(make_app, clock):
    c = browser(make_app(COUNTER_VISIT_TIMEOUT="60", COUNTER_ONLINE_WINDOW="30"))
    hit(c)
    clock.advance(29)
    assert stats(c)["online"] == 1
    clock.advance(1)
    body = stats(c)
    assert body["online"] == 0 and body["online_window_seconds"] == 30
    clock.advance(30)
    assert hit(c)["new_visit"] is True


def test_day_turns_at_local_midnight_in_hanoi(client, clock):
    clock.set("2026-11-25T16:59:59+00:00")
    body = hit(client)
    assert body["date"] == "2026-11-25" and body["today"] == 1
    clock.set("2026-11-25T17:00:00+00:00")
    body = stats(client)
    assert body["date"] == "2026-11-26"
    assert (body["today"], body["yesterday"], body["pageviews_today"]) == (0, 1, 0)
    assert body["online"] == 1  # online does not care about the date
    # The visit began yesterday: a page view after midnight is today's, the visit is not.
    body = hit(client)
    assert body["new_visit"] is False
    assert (body["today"], body["yesterday"], body["pageviews_today"], body["total"]) == (0, 1, 1, 1)
    assert body["unique_today"] == 1


@pytest.mark.parametrize(("before", "after", "day_before", "day_after"), [
    # Spring forward: midnight of 8 March is 05:00Z, of 9 March 04:00Z.
    ("2026-03-09T03:59:59+00:00", "2026-03-09T04:00:00+00:00", "2026-03-08", "2026-03-09"),
    # Fall back: midnight of 1 November is 04:00Z, of 2 November 05:00Z.
    ("2026-11-02T04:59:59+00:00", "2026-11-02T05:00:00+00:00", "2026-11-01", "2026-11-02"),
])
def test_day_turns_at_local_midnight_across_dst(make_app, clock, before, after, day_before, day_after):
    c = browser(make_app(COUNTER_TIMEZONE="America/New_York"))
    clock.set(before)
    body = hit(c)
    assert body["date"] == day_before and body["timezone"] == "America/New_York"
    clock.set(after)
    body = hit(c, V2)
    assert body["date"] == day_after
    assert (body["today"], body["yesterday"]) == (1, 1)


def test_iso_week_and_month_across_a_month_end(client, clock):
    clock.set("2026-11-29T10:00:00+07:00")  # Sunday
    hit(client, V1)
    clock.set("2026-11-30T10:00:00+07:00")  # Monday: a new week
    body = hit(client, V2)
    assert (body["today"], body["yesterday"], body["this_week"], body["this_month"]) == (1, 1, 1, 2)
    clock.set("2026-12-01T10:00:00+07:00")  # Tuesday: a new month, the same week
    body = hit(client, V3)
    assert (body["today"], body["yesterday"], body["this_week"], body["this_month"]) == (1, 1, 2, 1)
    assert body["total"] == 3


def test_week_month_and_year_across_new_year(client, clock):
    for day in ("2026-12-27", "2026-12-28", "2026-12-31"):  # Sunday, Monday, Thursday
        clock.set(f"{day}T12:00:00+07:00")
        hit(client, V1)
        clock.advance(3600)
    clock.set("2027-01-01T00:00:00+07:00")  # Friday of ISO week 2026-W53
    body = hit(client, V2)
    assert body["date"] == "2027-01-01"
    assert (body["today"], body["yesterday"], body["this_week"], body["this_month"]) == (1, 1, 3, 1)
    assert body["total"] == 4
    clock.set("2027-01-04T00:00:00+07:00")  # Monday: week 2027-W01
    body = stats(client)
    assert (body["today"], body["this_week"], body["this_month"]) == (0, 0, 1)


def test_yesterday_across_a_month_end_in_a_short_month(client, clock):
    clock.set("2026-02-28T23:59:59+07:00")
    hit(client)
    clock.set("2026-03-01T00:00:00+07:00")  # Sunday
    body = stats(client)
    assert (body["today"], body["yesterday"], body["this_week"], body["this_month"]) == (0, 1, 1, 0)


def test_this_week_on_a_day_early_in_the_month_reaches_back(client, clock):
    clock.set("2026-04-27T10:00:00+07:00")  # Monday
    hit(client, V1)
    clock.set("2026-05-02T10:00:00+07:00")  # Saturday, same week, yesterday in May
    body = hit(client, V2)
    assert (body["yesterday"], body["this_week"], body["this_month"]) == (0, 2, 1)


def test_peak_online_today_and_all_time(client, clock):
    hit(client, V1)
    clock.advance(10)
    hit(client, V2)
    clock.advance(10)
    body = hit(client, V3)
    assert body["peak_online"]["today"] == {"count": 3, "at": "2026-11-25T09:00:20+07:00"}
    clock.advance(3600)
    body = hit(client, V1)
    assert body["online"] == 1
    assert body["peak_online"]["today"]["count"] == 3
    clock.set("2026-11-26T08:00:00+07:00")
    body = hit(client, V2)
    assert body["peak_online"]["today"] == {"count": 1, "at": "2026-11-26T08:00:00+07:00"}
    assert body["peak_online"]["all_time"] == {"count": 3, "at": "2026-11-25T09:00:20+07:00"}
    day = client.get("/api/v1/sites/demo/daily?from=2026-11-25&to=2026-11-26").get_json()["days"]
    assert [d["peak_online"] for d in day] == [3, 1]


def test_todays_peak_is_never_below_online_after_midnight(client, clock):
    # Visitors of the last minutes of the day are online in the first minutes of the next.
    clock.set("2026-11-25T23:59:59.800000+07:00")
    hit(client, V1)
    clock.set("2026-11-26T00:00:01+07:00")
    body = stats(client)
    assert body["online"] == 1
    assert body["peak_online"]["today"] == {"count": 1, "at": "2026-11-26T00:00:01+07:00"}
    online = client.get("/api/v1/sites/demo/online").get_json()
    assert online["peak_today"] == {"count": 1, "at": "2026-11-26T00:00:01+07:00"}


def test_a_cached_stats_answer_never_outlives_its_day(make_app, clock):
    c = browser(make_app(COUNTER_STATS_CACHE_MS="5000"))
    clock.set("2026-11-25T23:59:59.800000+07:00")
    hit(c, V1)
    assert stats(c)["date"] == "2026-11-25"
    clock.set("2026-11-26T00:00:00.100000+07:00")
    body = stats(c)
    assert (body["date"], body["today"], body["yesterday"]) == ("2026-11-26", 0, 1)


def test_unique_today_counts_each_visitor_once(client, clock):
    for visitor in (V1, V2, V1, V3, V2):
        hit(client, visitor)
        clock.advance(3000)  # each a new visit
    body = stats(client)
    assert (body["today"], body["unique_today"], body["pageviews_today"]) == (5, 3, 5)


def test_sites_on_different_local_dates_keep_both_salts(make_app, clock, monkeypatch):
    """Hanoi is on the 25th while New York is on the 24th: each day's salt is fetched once."""
    from counter.clock import local_date
    from counter.config import Site
    from counter.service import Counter

    store = make_app().extensions["counter"].store
    sites = [Site("demo", "Hà Nội", "Asia/Ho_Chi_Minh"), Site("other", "New York", "America/New_York")]
    assert local_date(clock.now(), sites[0].zone) != local_date(clock.now(), sites[1].zone)
    counter = Counter(store, {s.id: s for s in sites}, clock, 300)
    client = store.client
    real_set, salt_calls = client.set, []

    def counting_set(*args, **kwargs):
        salt_calls.append(args[0])
        return real_set(*args, **kwargs)

    monkeypatch.setattr(client, "set", counting_set)
    for i in range(10):
        body = counter.hit(sites[i % 2], f"visitor-{i:012d}", None, "203.0.113.9", BROWSER_UA)
        assert body["counted"] is True
    # Each day's salt once, and the limits' key (not a salt) once for the process.
    assert len([k for k in salt_calls if ":salt:" in k]) <= 2
    assert salt_calls.count("vc:secret") <= 1 and len(salt_calls) <= 3


def test_a_days_salt_lasts_until_that_day_has_ended_in_every_zone(make_app, clock, redis):
    """A date begins in UTC+14 and ends in UTC-12, 50 hours later.

    Sites in both zones share its salt: were it deleted sooner, a worker that
    first asks for it late in the day in UTC-12 would make a new one, and every
    visitor without an id would count again.
    """
    kiritimati = browser(make_app(COUNTER_TIMEZONE="Pacific/Kiritimati"))
    clock.set("2026-11-25T00:00:00+14:00")
    assert post_hit(kiritimati).status_code == 200  # no visitor id: the day's salt is made
    ends = datetime.fromisoformat("2026-11-26T00:00:00-12:00").timestamp() - clock.now()
    assert ends == 50 * 3600
    assert ends < redis.ttl("vc:salt:2026-11-25") <= ends + 3600  # and gone within the hour after


def test_a_days_visitor_sketch_outlives_its_last_read_across_a_fall_back(make_app, clock, redis):
    # `daily` reads a day's HyperLogLog for 400 calendar days; in New York those
    # may hold one more 25-hour day than 23-hour ones, so 400 x 86,400 s is short.
    new_york = browser(make_app(COUNTER_TIMEZONE="America/New_York"))
    clock.set("2026-10-15T00:00:30-04:00")
    assert post_hit(new_york, "visitor-new-york-0001").status_code == 200
    last_read = datetime.fromisoformat("2027-11-19T00:00:00-05:00").timestamp() - clock.now()  # day 400
    assert last_read > 400 * 86400  # the hour given back on 1 November 2026
    assert redis.ttl("vc:{demo}:u:2026-10-15") > last_read


def set_days(client, visits: dict[str, int]) -> None:
    """Import past days' visits through the admin call."""
    for day, n in visits.items():
        response = client.put(f"/api/v1/sites/demo/daily/{day}", json={"visits": n}, headers=ADMIN)
        assert response.status_code == 200, response.get_json()


def last(client) -> tuple[int, int]:
    """Return (last_week, last_month) of the stats."""
    body = stats(client)
    return body["last_week"], body["last_month"]


def test_last_week_and_last_month_across_new_year(client, clock):
    clock.set("2027-01-01T10:00:00+07:00")  # Friday of ISO week 2026-W53
    set_days(client, {"2026-11-30": 10000, "2026-12-20": 1, "2026-12-21": 10, "2026-12-27": 100,
                      "2026-12-28": 1000})
    assert last(client) == (110, 1111)  # W52 is 21-27 December
    hit(client)
    clock.set("2027-01-04T00:00:00+07:00")  # Monday of 2027-W01: last week is 28 Dec to 3 Jan
    assert last(client) == (1001, 1111)
    clock.set("2027-02-01T00:00:00+07:00")
    assert last(client) == (0, 1)


def test_last_week_and_last_month_on_1_march_of_a_leap_year(client, clock):
    clock.set("2028-03-01T00:00:00+07:00")  # Wednesday; February had 29 days
    set_days(client, {"2028-01-31": 5, "2028-02-20": 1, "2028-02-21": 10, "2028-02-27": 100,
                      "2028-02-28": 1000, "2028-02-29": 10000})
    body = stats(client)
    assert (body["last_week"], body["last_month"]) == (110, 11111)
    assert (body["this_week"], body["this_month"]) == (11000, 0)
    hit(client)
    clock.set("2028-03-06T12:00:00+07:00")  # Monday: last week is 28 Feb to 5 Mar
    assert last(client) == (11001, 11111)


def test_last_week_and_last_month_across_dst_in_new_york(make_app, clock):
    c = browser(make_app(COUNTER_TIMEZONE="America/New_York"))
    for visitor, at in ((V1, "2026-02-28T23:59:00-05:00"),   # February
                        (V2, "2026-03-01T23:50:00-05:00"),   # Sunday of the week before
                        (V3, "2026-03-02T00:10:00-05:00"),   # Monday
                        (V1, "2026-03-08T23:30:00-04:00")):  # Sunday, after clocks went forward
        clock.set(at)
        assert hit(c, visitor)["new_visit"] is True
    clock.set("2026-03-09T00:30:00-04:00")  # Monday
    body = stats(c)
    assert (body["last_week"], body["last_month"], body["this_week"], body["this_month"]) == (2, 1, 0, 3)
    clock.set("2026-04-01T00:00:30-04:00")
    assert last(c) == (0, 3)
    # Fall back: Sunday 1 November has 25 hours, and its last one belongs to that week.
    clock.set("2026-11-01T23:30:00-05:00")
    hit(c, V2)
    clock.set("2026-11-02T00:30:00-05:00")
    assert last(c) == (1, 0)
    clock.set("2026-12-01T00:00:00-05:00")
    assert last(c) == (0, 1)


def test_imported_days_change_last_week_and_last_month(client, clock):
    # Wednesday 25 November 2026: last week is 16-22 November, last month October.
    assert last(client) == (0, 0)
    set_days(client, {"2026-11-16": 3, "2026-11-22": 4, "2026-11-15": 50, "2026-10-01": 7, "2026-10-31": 8})
    assert last(client) == (7, 15)
    set_days(client, {"2026-11-22": 1, "2026-10-31": 0})
    assert last(client) == (4, 7)
    hit(client)
    assert last(client) == (4, 7)
