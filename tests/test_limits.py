"""Limits that hold: bots, heartbeats, online per address, midnight, IPv6 networks, big totals."""

from __future__ import annotations

import hashlib
import logging
import re

import pytest
from helpers import BROWSER_UA, browser

from counter import privacy
from counter.store import NETWORK_SHARE

ADMIN = {"Authorization": "Bearer s3cret-token-of-24-chars!"}
# The contract's non-browser clients, as they really introduce themselves.
HTTP_CLIENTS = [
    "curl/8.5.0", "Wget/1.21.4", "python-requests/2.32.3", "Python/3.11 aiohttp/3.9.1",
    "Go-http-client/2.0", "okhttp/4.12.0", "Java/17.0.2", "libwww-perl/6.72",
    "PostmanRuntime/7.36.0", "HTTPie/3.2.2", "axios/1.6.7",
    "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)", "Python-urllib/3.11",
    "python-httpx/0.27.0", "undici", "Deno/1.40.0", "Bun/1.1.0", "Guzzle/7", "node", "Java",
    "Apache-HttpClient/4.5.14 (Java/17.0.9)", "Scrapy/2.11 (+https://scrapy.org)",
]
OTHER_BOTS = [
    "", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "facebookexternalhit/1.1", "Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome/120.0 Safari/537.36",
    "Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)", "Zabbix",
]
PEOPLE = [
    BROWSER_UA,
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Mobile Safari/537.36 Zalo",
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131 "
    "Mobile Safari/537.36 coc_coc_browser/120.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
    "Mozilla/5.0 (Linux; Android 13; Cubot X30 Build/TP1A) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0 Mobile Safari/537.36",
]


def hit(c, visitor: str | None = None, site: str = "demo", **kw):
    """Post a hit."""
    return c.post(f"/api/v1/sites/{site}/hits", json={"visitor": visitor} if visitor else {}, **kw)


def beat(c, visitor: str, **kw):
    """Post a heartbeat."""
    return c.post("/api/v1/sites/demo/heartbeat", json={"visitor": visitor}, **kw)


def stats(c) -> dict:
    """Read the stats."""
    return c.get("/api/v1/sites/demo/stats").get_json()


# -- bots -------------------------------------------------------------------


@pytest.mark.parametrize("agent", HTTP_CLIENTS + OTHER_BOTS)
def test_http_clients_crawlers_and_empty_agents_are_bots(agent):
    assert privacy.is_bot(agent) is True


@pytest.mark.parametrize("agent", PEOPLE)
def test_browsers_are_people(agent):
    assert privacy.is_bot(agent) is False


def test_a_curl_hit_is_answered_and_tallied_not_counted(client):
    for n, agent in enumerate(("curl/8.5.0", "python-requests/2.32.3", "Go-http-client/2.0"), 1):
        body = hit(client, "scripted-visitor-0001", headers={"User-Agent": agent}).get_json()
        assert (body["counted"], body["total"], body["pageviews_today"], body["bots_today"]) == (
            False, 0, 0, n)


def test_bots_are_rate_limited_like_any_other_client(make_app):
    c = browser(make_app(COUNTER_RATE_LIMIT="5"))
    answers = [hit(c, headers={"User-Agent": "curl/8.5.0"}).status_code for _ in range(8)]
    assert answers == [200] * 5 + [429] * 3
    assert stats(c)["bots_today"] == 5  # refused bots are not tallied either
    # Bots and page views share the client's budget: the browser on that address waits too.
    assert hit(c, "reader-on-the-same-ip").status_code == 429
    assert hit(browser(c.application, "203.0.113.9"), "reader-elsewhere-01").status_code == 200


def test_repeated_hit_ids_share_the_hit_budget(make_app):
    # Each repeat still runs the hit's script: unlimited, one address could keep Redis busy.
    c = browser(make_app(COUNTER_RATE_LIMIT="5"))
    body = {"visitor": "reader-repeating-01", "hit": "load-0001"}
    answers = [c.post("/api/v1/sites/demo/hits", json=body) for _ in range(8)]
    assert [a.status_code for a in answers] == [200] * 5 + [429] * 3
    assert [a.get_json().get("counted") for a in answers[:5]] == [True] + [False] * 4
    assert stats(c)["pageviews_today"] == 1
    assert c.post("/api/v1/sites/demo/hits", json=body,
                  environ_base={"REMOTE_ADDR": "203.0.113.9"}).get_json()["counted"] is False


def test_heartbeats_are_rate_limited_per_address(make_app, clock):
    c = browser(make_app(COUNTER_RATE_LIMIT="5"))
    assert hit(c, "reader-000000000001").status_code == 200
    answers = [beat(c, "reader-000000000001").status_code for _ in range(7)]
    assert answers == [200] * 5 + [429] * 2
    limited = beat(c, "reader-000000000001")
    assert limited.get_json()["error"]["code"] == "rate_limited" and int(limited.headers["Retry-After"]) >= 1
    # A bot's heartbeat keeps nobody online but counts against the limit as well.
    other = browser(c.application, "203.0.113.9")
    bot_beats = [beat(other, "reader-000000000001", headers={"User-Agent": "curl/8"}).status_code
                 for _ in range(6)]
    assert bot_beats == [200] * 5 + [429]
    clock.advance(120)
    assert beat(c, "reader-000000000001").status_code == 200


def test_heartbeats_of_unseen_visitors_join_within_the_new_visits_an_hour(make_app, redis, clock):
    # A heartbeat of anyone is online (the contract), but made-up ids join the
    # visit set no faster than page views' new visits would: 3 an hour here.
    c = browser(make_app(COUNTER_NEW_VISIT_LIMIT="3"))
    answers = [beat(c, f"made-up-visitor-{n:04d}") for n in range(6)]
    assert [a.status_code for a in answers] == [200] * 6
    assert [a.get_json()["online"] for a in answers] == [1, 2, 3, 3, 3, 3]
    assert stats(c)["total"] == 0
    (seen,) = redis.scan_iter("*:seen")
    assert redis.zcard(seen) == 3
    assert beat(c, "made-up-visitor-0000").get_json()["online"] == 3  # one already seen still slides
    clock.advance(7200)  # past the sliding hour
    assert beat(c, "made-up-visitor-0006").get_json()["online"] == 1


def test_an_office_of_a_hundred_readers_behind_one_address_counts_and_stays_online(make_app, clock):
    """Default limits; every reader reads a page every 3 minutes and the widget beats every 60 s."""
    c = browser(make_app())
    readers = [f"office-reader-{n:06d}" for n in range(100)]
    for reader in readers:  # everybody opens the portal in the first minute
        clock.advance(0.6)
        assert hit(c, reader).status_code == 200
    for minute in range(1, 30):
        for n, reader in enumerate(readers):
            clock.advance(0.6)  # 100 requests spread over the minute
            if (minute + n) % 3 == 0:
                assert hit(c, reader).status_code == 200, (minute, n)
            else:
                assert beat(c, reader).status_code == 200, (minute, n)
        assert stats(c)["online"] == 100
    views = 100 + sum((m + n) % 3 == 0 for m in range(1, 30) for n in range(100))
    assert stats(c)["pageviews_today"] == views
    assert stats(c)["total"] == 100


# -- online per address -------------------------------------------------------


def seen_online(redis, visitor: str, now: float, window: int = 300) -> bool:
    """Tell from the store whether a widget visitor id is online at `now`."""
    score = redis.zscore("vc:{demo}:seen", privacy.visitor_hash("demo", visitor))
    return score is not None and score > (now - window) * 1000


def test_one_address_never_keeps_more_than_the_rate_limit_online_in_a_day(make_app, clock, redis):
    """24 simulated hours of an attacker doing its best, next to one real reader's open tab.

    Each minute the attacker sends page views with new visitor ids until it is
    refused; then page views with the ids it was let in with (which start no
    new visit) until refused; then heartbeats for those ids until refused:
    always the least recently refreshed ids first. The reader, elsewhere,
    opened one page and keeps its tab open: a heartbeat every 60 s.
    """
    limit = 10
    app = make_app(COUNTER_RATE_LIMIT=str(limit), COUNTER_NEW_VISIT_LIMIT="40")
    attacker, reader = browser(app, "203.0.113.66"), browser(app, "198.51.100.7")
    assert hit(reader, "the-real-reader-0001").status_code == 200
    admitted: list[str] = []
    most_online = 0

    def refresh(send) -> None:
        """Refresh admitted ids, least recently refreshed first, until refused."""
        nonlocal admitted
        done = 0
        for visitor in admitted:
            if send(attacker, visitor).status_code != 200:
                break
            done += 1
        admitted = admitted[done:] + admitted[:done]

    for minute in range(24 * 60):
        clock.advance(60)
        assert beat(reader, "the-real-reader-0001").status_code == 200
        while True:
            visitor = f"attacker-{minute:05d}-{len(admitted):07d}"
            if hit(attacker, visitor).status_code != 200:
                break
            admitted.append(visitor)
        refresh(hit)
        refresh(beat)
        online = stats(reader)["online"]
        most_online = max(most_online, online)
        assert online <= limit + 1, (minute, online)  # the attacker's, and the reader
        assert seen_online(redis, "the-real-reader-0001", clock.now()), minute
    assert len(admitted) > 20 * limit  # it did get in with many ids over the day
    assert most_online == limit + 1  # and it reached the bound, but never passed it


def test_a_page_view_over_the_online_cap_still_counts(make_app, clock, redis):
    c = browser(make_app(COUNTER_RATE_LIMIT="3"))
    for n in range(3):
        assert hit(c, f"cap-visitor-{n:08d}").status_code == 200
    clock.advance(61)
    body = hit(c, "cap-visitor-99999999").get_json()
    assert (body["counted"], body["new_visit"], body["online"]) == (True, True, 3)
    assert not seen_online(redis, "cap-visitor-99999999", clock.now())
    clock.advance(300)  # the earlier three have gone: there is room again
    assert hit(c, "cap-visitor-99999999").get_json()["online"] == 1


# -- midnight and IPv6 -----------------------------------------------------------


@pytest.mark.parametrize("which", ["rate", "new visits"])
def test_limits_hold_across_the_midnight_salt_rotation(make_app, clock, which):
    env = {"COUNTER_RATE_LIMIT": "10"} if which == "rate" else {"COUNTER_NEW_VISIT_LIMIT": "10"}
    c = browser(make_app(**env))
    clock.set("2026-11-25T16:59:59+00:00")  # 23:59:59 in Hanoi
    accepted = 0
    for n in range(20):
        accepted += hit(c, f"before-midnight-{n:05d}").status_code == 200
    assert accepted == 10
    clock.set("2026-11-25T17:00:01+00:00")  # 00:00:01 in Hanoi: a new day and a new salt
    after = sum(hit(c, f"after-midnight-{n:05d}").status_code == 200 for n in range(10))
    assert after <= 1  # the sliding window lets in what 2 s of a minute (or hour) frees, no more


def test_ipv6_clients_are_limited_per_64_and_their_48_in_aggregate(make_app):
    app = make_app(COUNTER_RATE_LIMIT="3")
    one_64 = [hit(browser(app, f"2001:db8:1:2::{i:x}")).status_code for i in range(1, 6)]
    assert one_64 == [200, 200, 200, 429, 429]
    # 40 /64s of one /48 share NETWORK_SHARE times one /64's limit.
    accepted = sum(hit(browser(app, f"2001:db8:1:{net:x}::1")).status_code == 200
                   for net in range(3, 43))
    assert accepted == 3 * NETWORK_SHARE - 3
    assert hit(browser(app, "2001:db8:2:1::1")).status_code == 200  # another /48
    assert hit(browser(app, "198.51.100.20")).status_code == 200  # IPv4 has no network limit


def test_ipv6_networks_keep_at_most_their_share_online(make_app, clock):
    app = make_app(COUNTER_RATE_LIMIT="2", COUNTER_ONLINE_WINDOW="3600")
    for net in range(30):  # 30 /64s of one /48, slowly enough for the rate limits
        clock.advance(30)
        c = browser(app, f"2001:db8:7:{net:x}::1")
        assert [hit(c, f"v6-visitor-{net:04d}-{n:04d}").status_code for n in range(2)] == [200, 200]
    assert stats(browser(app))["online"] == 2 * NETWORK_SHARE


# -- admin log and big totals ----------------------------------------------------------


def test_the_admin_log_names_clients_by_a_keyed_hash(make_app, caplog):
    token = ADMIN["Authorization"].split()[1]
    with caplog.at_level(logging.INFO, logger="counter.admin"):
        c = browser(make_app(COUNTER_ADMIN_TOKEN=token), "198.51.100.7")
        assert c.put("/api/v1/sites/demo/total", json={"total": 5}, headers=ADMIN).status_code == 200
        assert c.put("/api/v1/sites/demo/total", json={"total": 6},
                     headers={"Authorization": "Bearer wrong"}).status_code == 401
        first = caplog.text
        caplog.clear()
        other = browser(make_app(COUNTER_ADMIN_TOKEN="another-token-of-24-chars"), "198.51.100.7")
        other.put("/api/v1/sites/demo/total", json={"total": 7},
                  headers={"Authorization": "Bearer another-token-of-24-chars"})
        second = caplog.text
    names = set(re.findall(r"client-[0-9a-f]+", first))
    assert len(names) == 1  # one client, one name, in both lines
    name = names.pop()
    assert name not in second  # another key, another name: it is keyed
    for unkeyed in (hashlib.blake2b(b"198.51.100.7", digest_size=6).hexdigest(),
                    hashlib.sha256(b"198.51.100.7").hexdigest()[:16],
                    hashlib.md5(b"198.51.100.7").hexdigest()[:16]):
        assert unkeyed not in first
    assert "198.51.100.7" not in first + second


def test_totals_stay_exact_past_two_to_the_53(make_app):
    c = browser(make_app(COUNTER_ADMIN_TOKEN=ADMIN["Authorization"].split()[1]))
    start = 2**53 - 2
    assert c.put("/api/v1/sites/demo/total", json={"total": start}, headers=ADMIN).status_code == 200
    totals = [hit(c, f"big-total-visitor-{n}").get_json()["total"] for n in range(3)]
    assert totals == [2**53 - 1, 2**53, 2**53 + 1]
    assert stats(c)["total"] == 2**53 + 1
    assert c.get("/api/v1/sites").get_json()["sites"][0]["total"] == 2**53 + 1
