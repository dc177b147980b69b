"""What only a real redis-server can show: command counts, expiries, failures."""

from __future__ import annotations

import random
import threading
import time
from datetime import date, datetime, timedelta
from datetime import time as dtime

import pytest
import redis as redis_py

from counter import create_app
from counter import store as store_module
from counter.clock import local_date
from counter.config import ConfigError
from counter.service import MAX_COUNT
from counter.store import KEEP, SEEN, Store
from tests.helpers import BROWSER_UA, RedisServer, browser, free_port, require_redis_server, settings

pytestmark = pytest.mark.redis
V1 = "visitor-aaaaaaaaaaaa1"
ZONE = settings()["SITES"]["demo"].zone


@pytest.fixture
def real(real_redis):
    """Return a plain client on an empty real redis-server."""
    client = redis_py.Redis.from_url(real_redis.url, decode_responses=True)
    client.flushall()
    yield client
    client.close()


@pytest.fixture
def web(real, real_redis, clock):
    """Return a browser-like client of an app on the real server."""
    config = settings(COUNTER_ADMIN_TOKEN="t" * 24)
    config.update(REDIS_URL=real_redis.url, CLOCK=clock, TESTING=True)
    return browser(create_app(config))


def client_commands(url: str, action) -> list[str]:
    """Run `action` and return the commands clients sent meanwhile (not a script's own)."""
    seen: list[str] = []
    monitor_client = redis_py.Redis.from_url(url, decode_responses=True)
    with monitor_client.monitor() as monitor:
        ready = threading.Event()

        def listen():
            ready.set()
            for event in monitor.listen():
                if "end-of-test" in event["command"]:
                    return
                # Connection set-up (HELLO, CLIENT SETINFO) is once per connection, not per call.
                if event.get("client_type") != "lua" and not event["command"].startswith(("HELLO", "CLIENT")):
                    seen.append(event["command"].split()[0].upper())

        thread = threading.Thread(target=listen)
        thread.start()
        ready.wait()
        time.sleep(0.05)
        action()
        redis_py.Redis.from_url(url).echo("end-of-test")
        thread.join(timeout=5)
    return seen


def test_a_hit_is_exactly_one_script_call(web, real_redis, clock):
    web.post("/api/v1/sites/demo/hits", json={"visitor": V1})  # loads the script and the salt

    def hits():
        for i in range(5):
            clock.advance(1)
            web.post("/api/v1/sites/demo/hits", json={"visitor": f"visitor-{i:016d}", "hit": f"hit-{i:08d}"})
        web.post("/api/v1/sites/demo/hits")  # no visitor id: derived from the address

    assert client_commands(real_redis.url, hits) == ["EVALSHA"] * 6


def test_a_hit_with_a_path_is_one_script_call_too(web, real_redis, real, clock):
    web.post("/api/v1/sites/demo/hits", json={"visitor": V1, "path": "/a"})  # loads the script and the salt

    def hits():
        for i in range(5):
            clock.advance(1)
            body = web.post("/api/v1/sites/demo/hits", json={
                "visitor": f"visitor-{i:016d}", "path": f"/p/{i % 2}", "hit": f"hit-{i:08d}"}).get_json()
            assert body["page"]["pageviews"] >= 1
        web.post("/api/v1/sites/demo/hits", json={"path": "/a?x=1"},
                 headers={"User-Agent": "Googlebot/2.1"})  # a bot: read only
        web.get("/api/v1/sites/demo/badge.svg?path=/a")  # stats and the page, one read

    assert client_commands(real_redis.url, hits) == ["EVALSHA"] * 7
    assert real.zscore("vc:{demo}:pages:all", "/p/0") == -3  # views are stored negated


def test_the_pages_calls_are_one_call_each(web, real_redis):
    web.post("/api/v1/sites/demo/hits", json={"visitor": V1, "path": "/a"})
    web.get("/api/v1/sites/demo/pages")  # loads the script

    def calls():
        assert web.get("/api/v1/sites/demo/pages?period=today&limit=5").status_code == 200

    assert client_commands(real_redis.url, calls) == ["EVALSHA"]
    # One page's numbers: one pipeline, so one round trip (a command per table on one
    # connection: all-time and today's, and the same in the earlier format).
    assert client_commands(real_redis.url, lambda: web.get("/api/v1/sites/demo/pages/views?path=/a")) == [
        "ZSCORE"] * 4


def test_a_stats_read_and_a_heartbeat_are_one_call_each(web, real_redis):
    web.post("/api/v1/sites/demo/heartbeat", json={"visitor": V1})  # loads the script and the salt

    def calls():
        web.get("/api/v1/sites/demo/stats")
        web.post("/api/v1/sites/demo/heartbeat", json={"visitor": V1})

    assert client_commands(real_redis.url, calls) == ["EVALSHA"] * 2


def test_tables_of_pages_are_skiplists_and_list_only_pages(web, real, clock):
    # As listpacks (Redis's form of a small sorted set), every view walked the
    # table twice: 9 % of a hit's cost in Redis at 50 pages (bench/script.py).
    for i in range(3):
        web.post("/api/v1/sites/demo/hits", json={"visitor": V1, "hit": f"hit-{i:08d}", "path": f"/{i % 2}"})
    tables = sorted(real.scan_iter("vc:{demo}:pages:*"))
    assert len(tables) == 3
    assert {real.object("encoding", key) for key in tables} == {"skiplist"}
    for period in ("all", "today", local_date(clock.now(), ZONE).strftime("%Y-%m")):
        body = web.get(f"/api/v1/sites/demo/pages?period={period}").get_json()
        assert body["pages"] == [{"path": "/0", "pageviews": 2}, {"path": "/1", "pageviews": 1}]
        assert body["other"] == 0
    assert web.get("/api/v1/sites/demo/pages/views?path=/0").get_json()["pageviews"] == 2


def test_tables_of_an_earlier_version_become_skiplists_on_the_days_first_view(web, real, clock):
    # Tables written before the long member existed, whose pages are all known.
    month = local_date(clock.now(), ZONE).strftime("%Y-%m")
    tables = ["vc:{demo}:pages:all", "vc:{demo}:pages:m:" + month]
    for key in tables:
        real.zadd(key, {"/known": -5})
    assert {real.object("encoding", key) for key in tables} == {"listpack"}
    web.post("/api/v1/sites/demo/hits", json={"visitor": V1, "path": "/known"})
    assert {real.object("encoding", key) for key in tables} == {"skiplist"}
    body = web.get("/api/v1/sites/demo/pages?period=all").get_json()
    assert body["pages"] == [{"path": "/known", "pageviews": 6}]


def test_a_days_set_of_hit_ids_gets_its_lifetime_whichever_hit_makes_it(web, real, clock):
    # The first page view of a minute gives the day's set its lifetime, so
    # the set must exist by then even when that view carries no hit id.
    clock.set("2026-11-26T00:00:05+00:00")  # the UTC day's first minute: its set of hit ids is new
    hits = [web.post("/api/v1/sites/demo/hits", json={"visitor": V1, **body}).get_json()
            for body in ({}, {"hit": "hit-00000001"}, {"hit": "hit-00000001"})]
    assert [h["counted"] for h in hits] == [True, True, False]
    (ids,) = real.scan_iter("vc:{demo}:hits:*")
    assert 0 < real.ttl(ids) <= 2 * 86400


def test_yesterdays_set_of_hit_ids_left_without_a_lifetime_gets_one(web, real, clock):
    # A set that an older worker made without a lifetime (a rolling upgrade)
    # gets one from the next UTC day's page views, rather than staying for ever.
    clock.set("2026-11-26T00:00:05+00:00")
    yesterday = "vc:{demo}:hits:" + str(int(clock.now()) // 86400 - 1)
    real.sadd(yesterday, "some-hit-hash")
    web.post("/api/v1/sites/demo/hits", json={"visitor": V1})
    assert 0 < real.ttl(yesterday) <= 2 * 86400


def test_every_key_is_tagged_and_only_history_lives_forever(web, real, clock):
    web.post("/api/v1/sites/demo/hits", json={"visitor": V1, "hit": "hit-00000001", "path": "/a"})
    web.post("/api/v1/sites/demo/heartbeat", json={"visitor": V1})
    web.post("/api/v1/sites/demo/hits", headers={"User-Agent": "Googlebot/2.1"})
    web.post("/api/v1/sites/demo/hits")
    web.put("/api/v1/sites/demo/daily/2025-01-01", json={"visits": 3},
            headers={"Authorization": "Bearer " + "t" * 24})
    keys = sorted(real.scan_iter("*"))
    assert keys, "the hits wrote nothing"
    for key in keys:
        assert key.startswith("vc:")
        ttl = real.ttl(key)
        if key.startswith("vc:salt:"):
            assert 0 < ttl <= 2 * 86400
            continue
        if key == "vc:secret":  # the one key of client hashes for limits: 32 bytes, kept
            assert ttl == -1
            continue
        assert key.startswith("vc:{demo}:")
        kind = key.split(":")[2]
        if kind in ("all", "m") or key.startswith(("vc:{demo}:pages:all", "vc:{demo}:pages:m:")):
            assert ttl == -1, key  # all-time numbers, daily history and pages by month: kept for ever
        else:
            assert ttl > 0, key


def test_no_client_address_is_stored(web, real_redis):
    for ip in ("198.51.100.7", "2001:db8:1:2:3:4:5:6", "203.0.113.250"):
        web.post("/api/v1/sites/demo/hits", environ_base={"REMOTE_ADDR": ip})
        web.post("/api/v1/sites/demo/hits", json={"visitor": V1}, environ_base={"REMOTE_ADDR": ip})
    raw = redis_py.Redis.from_url(real_redis.url)
    dump = []
    for key in raw.scan_iter("*"):
        dump.append(key)
        kind = raw.type(key)
        if kind == b"string":
            dump.append(raw.get(key))
        elif kind == b"hash":
            dump.extend(k + b"=" + v for k, v in raw.hgetall(key).items())
        elif kind == b"zset":
            dump.extend(raw.zrange(key, 0, -1))
        elif kind == b"set":
            dump.extend(raw.smembers(key))
    blob = b"\n".join(dump)
    assert len(dump) > 10
    for fragment in ("198.51.100.7", "2001:db8", "203.0.113", V1, "Chrome/131"):
        assert fragment.encode() not in blob


def test_lost_script_cache_is_recovered(web, real, clock):
    web.post("/api/v1/sites/demo/hits", json={"visitor": V1})
    real.script_flush()
    clock.advance(3600)
    response = web.post("/api/v1/sites/demo/hits", json={"visitor": V1})
    assert response.status_code == 200
    assert response.get_json()["total"] == 2


def test_the_client_never_resends_a_write():
    store = Store("redis://127.0.0.1:1/0")
    assert store.client.get_retry().get_retries() == 0


@pytest.mark.redis
def test_a_test_redis_server_moves_off_a_port_taken_meanwhile(tmp_path, real_redis):
    # The first port chosen is held by another redis-server (the session's),
    # which would answer a PING for it.
    ports = iter([real_redis.port])
    server = RedisServer(tmp_path / "moved", choose_port=lambda: next(ports, None) or free_port()).start()
    try:
        assert server.port != real_redis.port
        assert redis_py.Redis(port=server.port).info("server")["process_id"] == server.proc.pid
    finally:
        server.stop()
    # A server that cannot start is not retried into a pass.
    with pytest.raises(RuntimeError, match="exited with 1"):
        RedisServer(tmp_path / "refused", "--no-such-directive", "x").start()


@pytest.fixture
def own_server(tmp_path):
    """Start a redis-server of this test's own, to stop and start."""
    require_redis_server()
    server = RedisServer(tmp_path / "own", "--appendonly", "yes", "--appendfsync", "always").start()
    yield server
    server.stop(kill=True)


def test_redis_down_gives_fast_503_and_stale_stats_then_recovers(own_server, clock):
    config = settings()
    config.update(REDIS_URL=own_server.url, CLOCK=clock, TESTING=True)
    c = create_app(config).test_client()
    c.environ_base.update(HTTP_USER_AGENT=BROWSER_UA)
    assert c.post("/api/v1/sites/demo/hits", json={"visitor": V1}).status_code == 200
    assert c.get("/api/v1/sites/demo/stats").get_json()["total"] == 1

    own_server.stop(kill=True)
    started = time.monotonic()
    down = c.post("/api/v1/sites/demo/hits", json={"visitor": "visitor-bbbbbbbbbbbb2"})
    assert down.status_code == 503
    assert down.get_json()["error"]["code"] == "store_unavailable"
    stale = c.get("/api/v1/sites/demo/stats")
    assert stale.status_code == 200
    assert stale.get_json()["stale"] is True and stale.get_json()["total"] == 1
    assert c.get("/readyz").status_code == 503
    assert c.get("/api/v1/sites/other/stats").status_code == 503  # never seen: nothing to show
    assert time.monotonic() - started < 1.5

    own_server.start()
    time.sleep(1.1)  # the breaker lets the next call through
    clock.advance(10)
    again = c.post("/api/v1/sites/demo/hits", json={"visitor": "visitor-bbbbbbbbbbbb2"})
    assert again.status_code == 200
    assert again.get_json()["total"] == 2 and again.get_json()["stale"] is False


def test_refuses_to_start_on_a_redis_that_evicts(tmp_path):
    require_redis_server()
    server = RedisServer(tmp_path / "lru", "--maxmemory-policy", "allkeys-lru").start()
    try:
        config = settings()
        config.update(REDIS_URL=server.url)
        with pytest.raises(ConfigError, match="maxmemory-policy allkeys-lru"):
            create_app(config)
    finally:
        server.stop()


def test_bulk_hits_count_as_single_hits_do(real, real_redis, clock):
    zone = settings()["SITES"]["demo"].zone
    t = clock.now()
    views = [(t, "v1", "c", "hit-00000001"), (t + 1, "v2", "c", ""), (t + 2, "v1", "c", "hit-00000001"),
             (t + 3, "v1", "c", "hit-00000002"), (t + 4000, "v1", "c", "")]
    bulk = Store(real_redis.url, prefix="bulk")
    assert bulk.hit_many("demo", zone, views, batch=2) == 4  # one repeated hit id
    single = Store(real_redis.url, prefix="single")
    for now, visitor, client, hit in views:
        single.hit("demo", zone, now, visitor, client, hit)
    at = t + 4000
    assert bulk.read("demo", zone, at) == single.read("demo", zone, at)
    assert (single.read("demo", zone, at).today, single.read("demo", zone, at).pageviews_today) == (3, 4)


@pytest.fixture
def stores(real, real_redis):
    """Return a maker of stores on the empty real server, each closed after the test."""
    made: list[Store] = []

    def make() -> Store:
        made.append(Store(real_redis.url))
        return made[-1]

    yield make
    for store in made:
        store.client.close()


def test_past_days_set_elsewhere_show_in_the_next_answer(stores, real, clock):
    host = stores()  # a worker: holds the past days' counts once read
    admin = stores()  # another host, or the command line
    today = local_date(clock.now(), ZONE)
    assert host.hit("demo", ZONE, clock.now(), "v1", "c").yesterday == 0
    # Held now: the script does not read them again while their version stands.
    keys, args, _ = host._script_args("read", "demo", ZONE, clock.now())
    assert host._call(host.redis.script("counter"), keys, args)[4] == ""
    admin.set_day("demo", today - timedelta(days=1), 7, None)
    counts = host.hit("demo", ZONE, clock.now() + 1, "v2", "c")
    assert counts.yesterday == 7 and counts.today == 2
    assert counts.this_week == (9 if today.isoweekday() > 1 else 2)
    admin.set_days("demo", [(today - timedelta(days=7), 5, None)])
    assert host.read("demo", ZONE, clock.now() + 2).last_week == 5
    real.flushall()  # the keys deleted and the same day set again: a new version all the same
    admin.set_day("demo", today - timedelta(days=1), 3, None)
    assert host.read("demo", ZONE, clock.now() + 3).yesterday == 3
    clock.advance(86400)  # the next local day: today's visits become yesterday's
    host.hit("demo", ZONE, clock.now(), "v1", "c")
    assert host.read("demo", ZONE, clock.now() + 86400).yesterday == 1


def test_a_large_sites_hit_reuses_the_days_visitor_count_within_a_second(stores, clock, monkeypatch):
    monkeypatch.setattr(store_module, "UNIQ_REUSE_FROM", 2)
    store = stores()
    t = float(int(clock.now()))
    answers = [store.hit("demo", ZONE, t + n / 10, f"v{n}", "c").unique_today for n in range(4)]
    assert answers == [1, 2, 2, 2]  # from 2 on, counted once in this second
    assert store.read("demo", ZONE, t + 0.5).unique_today == 4  # a read always counts
    assert store.hit("demo", ZONE, t + 1, "v4", "c").unique_today == 5  # a new second counts again


def test_counts_past_2_53_stay_exact(stores, real, clock):
    store = stores()
    store.set_total("demo", MAX_COUNT - 1)
    store.set_day("demo", local_date(clock.now(), ZONE), MAX_COUNT, None)  # this month's visits too
    totals = [store.hit("demo", ZONE, clock.now() + n, f"v{n}", "c") for n in range(3)]
    assert [c.total for c in totals] == [MAX_COUNT, MAX_COUNT + 1, MAX_COUNT + 2]
    assert [c.this_month for c in totals] == [MAX_COUNT + 1, MAX_COUNT + 2, MAX_COUNT + 3]
    assert int(real.hget("vc:{demo}:all", "total")) == MAX_COUNT + 2


def test_past_days_counts_stay_exact_past_2_53(stores, clock):
    store = stores()
    today = local_date(clock.now(), ZONE)  # 2026-11-25, a Wednesday
    days = {date(2026, 10, 1): MAX_COUNT, date(2026, 10, 2): 2,  # last month
            today - timedelta(days=1): MAX_COUNT - 2,  # yesterday, this week
            today - timedelta(days=2): 3,  # this week
            today - timedelta(days=7): MAX_COUNT, today - timedelta(days=8): 4}  # last week
    for day, visits in days.items():
        store.set_day("demo", day, visits, None)
    counts = store.read("demo", ZONE, clock.now())
    assert counts.last_month == MAX_COUNT + 2
    assert counts.yesterday == MAX_COUNT - 2
    assert counts.this_week == MAX_COUNT + 1
    assert counts.last_week == MAX_COUNT + 4


def test_the_days_first_page_view_puts_today_first_in_its_month(stores, real):
    store = stores()
    month = "vc:{demo}:m:2026-11"

    def noon(day: int) -> float:
        return datetime(2026, 11, day, 12, tzinfo=ZONE).timestamp()

    store.set_day("demo", date(2026, 11, 1), MAX_COUNT, 7)  # a count past 2^53, set by an operator
    for day in (27, 28, 29):
        store.hit("demo", ZONE, noon(day), f"v{day}", "c")
        store.bot("demo", ZONE, noon(day) + 1, "c")
    before = real.hgetall(month)
    store.hit("demo", ZONE, noon(30), "v30", "c")
    after = real.hgetall(month)
    assert list(after)[:5] == ["30v", "30p", "30b", "30o", "mv"]
    assert (after["30v"], after["30p"], after["30b"]) == ("1", "1", "0")  # no bots yet: a 0
    assert int(after["mv"]) == int(before.pop("mv")) + 1
    assert list(after.items())[5:] == list(before.items())  # the other days, as they were, in order
    assert real.ttl(month) == -1  # kept for ever, as before
    real.config_resetstat()
    later = store.hit("demo", ZONE, noon(30) + 60, "v31", "c")  # the day's later page views leave it
    assert "cmdstat_hgetall" not in real.info("commandstats")
    assert (later.today, later.pageviews_today, later.bots_today) == (2, 2, 0)
    first = date(2026, 11, 1)
    assert store.daily("demo", first, first, date(2026, 11, 30))[0].visits == MAX_COUNT
    store.set_day("demo", date(2026, 11, 2), 0, None)  # an operator's 0
    store.hit("demo", ZONE, noon(3), "v3", "c")  # the first page view of another day of the month
    kept = real.hgetall(month)
    assert list(kept)[:2] == ["3v", "3p"]
    assert "30b" not in kept and "2v" not in kept  # other days' zeros are not kept: a 0 reads as none
    second = date(2026, 11, 2)
    assert kept["30v"] == "2" and store.daily("demo", second, second, date(2026, 11, 30))[0].visits == 0


def test_visit_and_keep_sets_are_renewed_once_a_minute_and_when_created(stores, real, clock):
    store = stores()
    seen, keep = store.key(SEEN, "demo"), store.key(KEEP, "demo", client="c")
    t = clock.now() - clock.now() % 60  # the start of a minute
    store.hit("demo", ZONE, t, "v1", "c")
    assert real.pttl(seen) > 1000 * 1000 and real.pttl(keep) > 300 * 1000
    real.pexpire(seen, 5000)
    real.pexpire(keep, 5000)
    store.hit("demo", ZONE, t + 10, "v1", "c")  # the same minute, a returning visitor
    assert real.pttl(seen) <= 5000 and real.pttl(keep) <= 5000
    store.hit("demo", ZONE, t + 20, "v2", "c")  # a new visitor: the minute's renewal covers it too
    assert real.pttl(seen) <= 5000 and real.pttl(keep) <= 5000
    real.pexpire(seen, 5000)
    store.heartbeat("demo", ZONE, t + 30, "v1", "c")  # heartbeats renew `seen`, and begin their window
    assert real.pttl(seen) > 5000 and real.pttl(keep) > 5000
    real.pexpire(seen, 5000)
    real.pexpire(keep, 5000)
    store.hit("demo", ZONE, t + 60, "v1", "c")  # the next minute's first page view renews both
    assert real.pttl(seen) > 5000 and real.pttl(keep) > 5000
    real.delete(keep)
    store.hit("demo", ZONE, t + 70, "v1", "c")  # a set made again mid-minute gets its lifetime
    assert real.pttl(keep) > 5000
    real.delete(seen)
    store.hit("demo", ZONE, t + 80, "v3", "c")  # and `seen` made again by a new visitor
    assert real.pttl(seen) > 5000


@pytest.mark.parametrize("seed", range(6))
def test_seen_outlives_every_visitor_within_the_timeout(real_redis, real, clock, seed):
    # Page views and heartbeats at random gaps; Redis's clock stands still, so
    # `seen`'s lifetime is run down by the test clock.
    rng = random.Random(seed)
    store = Store(real_redis.url, online_window=60, visit_timeout=120)
    seen = store.key(SEEN, "demo")
    at = clock.now() - clock.now() % 60
    last: dict[str, float] = {}
    for i in range(300):
        step = rng.choice((0.5, 3, 17, 29, 45, 59, 61, 100))
        left = real.pttl(seen)
        if 0 < left <= step * 1000:
            real.delete(seen)
        elif left > 0:
            real.pexpire(seen, left - int(step * 1000))
        at += step
        within = [v for v, when in last.items() if at - when < 120]
        assert not within or real.exists(seen), (i, within)
        visitor = f"v{rng.randrange(8)}"
        if rng.random() < 0.3 and visitor in last and at - last[visitor] < 120:
            store.heartbeat("demo", ZONE, at, visitor, f"c{i}")
        else:
            store.hit("demo", ZONE, at, visitor, f"c{i}")
        last[visitor] = at


def test_a_late_hit_of_yesterday_shows_in_yesterday(stores, clock):
    # A request stamped just before midnight reaches Redis after one stamped just after.
    store, other = stores(), stores()  # two workers
    today = local_date(clock.now(), ZONE)
    midnight = datetime.combine(today + timedelta(days=1), dtime(), ZONE).timestamp()
    store.hit("demo", ZONE, midnight - 5, "v1", "c")
    assert store.hit("demo", ZONE, midnight + 1, "v2", "c").yesterday == 1
    other.hit("demo", ZONE, midnight - 1, "v3", "c")  # stamped before midnight, answered after
    assert store.read("demo", ZONE, midnight + 2).yesterday == 2
    assert stores().read("demo", ZONE, midnight + 2).yesterday == 2  # every worker says the same
    # Held once the day has settled: not read again while their version stands.
    assert store.read("demo", ZONE, midnight + store_module.PAST_SETTLE).yesterday == 2
    keys, args, _ = store._script_args("read", "demo", ZONE, midnight + store_module.PAST_SETTLE + 1)
    assert store._call(store.redis.script("counter"), keys, args)[4] == ""


def test_the_online_cap_counts_the_visitors_a_worker_of_the_earlier_version_kept(real_redis, real, clock):
    # The earlier version scored the cap's sets by plain times; during a rolling
    # upgrade one set holds both kinds, and the cap still holds.
    store = Store(real_redis.url, rate_limit=2)
    seen, keep = store.key(SEEN, "demo"), store.key(KEEP, "demo", client="c")
    t = clock.now()
    for i, visitor in enumerate(("v1", "v2")):  # seen and kept by an earlier worker
        real.zadd(seen, {visitor: int(t * 1000) + i})
        real.zadd(keep, {visitor: int(t * 1000) + i})
    for n, visitor in enumerate(("v3", "v4")):
        store.hit("demo", ZONE, t + 130 + n, visitor, "c")
        assert store.read("demo", ZONE, t + 130 + n).online == 2
    # Once they are out of the window, new visitors take their places, up to the cap.
    for n, visitor in enumerate(("v5", "v6", "v7")):
        store.hit("demo", ZONE, t + 302 + n, visitor, "c")
    assert store.read("demo", ZONE, t + 305).online == 2
    assert sorted(real.zrange(keep, 0, -1)) == ["v5", "v6"]


def test_the_online_cap_holds_after_a_late_request_of_a_kept_visitor(real_redis, clock):
    # A request stamped by a host with a slower clock arrives after a later one.
    store = Store(real_redis.url, rate_limit=2)
    t = clock.now() - clock.now() % 60  # the start of a minute: two hits in it are within the limit
    store.hit("demo", ZONE, t + 10, "v1", "c")
    store.hit("demo", ZONE, t, "v1", "c")  # late: v1 stays kept as of t + 10, as it is seen
    store.hit("demo", ZONE, t + 130, "v2", "c")
    store.hit("demo", ZONE, t + 305, "v3", "c")  # v1 and v2 are still online
    assert store.read("demo", ZONE, t + 305).online == 2


def test_the_online_cap_holds_when_a_bot_begins_the_minute(real_redis, real, clock):
    # A client's `keep` set must outlive every visitor it keeps online, whatever
    # request begins the client's rate window.
    store = Store(real_redis.url, rate_limit=3)
    keep = store.key(KEEP, "demo", client="c")
    t = clock.now() - clock.now() % 60
    at = t

    def advance_to(when):
        # Redis's own clock stands still: run the set's lifetime down by the test clock.
        nonlocal at
        left = real.pttl(keep)
        if left > 0:
            if left <= (when - at) * 1000:
                real.delete(keep)
            else:
                real.pexpire(keep, left - int((when - at) * 1000))
        at = when

    store.hit("demo", ZONE, t, "v1", "c")
    for minute in range(1, 6):
        advance_to(t + 60 * minute)
        store.bot("demo", ZONE, t + 60 * minute, "c")
        advance_to(t + 60 * minute + 50)
        store.hit("demo", ZONE, t + 60 * minute + 50, "v1", "c")  # v1 kept online until t + 650
    for n, second in enumerate((420, 430, 440), 2):
        advance_to(t + second)
        store.hit("demo", ZONE, t + second, f"v{n}", "c")
    assert store.read("demo", ZONE, t + 440).online <= 3
    store.client.close()
