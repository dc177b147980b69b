"""Every Redis call and every key name of the service.

A site's keys all carry its hash tag `{site}`, so the single script call
behind a hit touches one slot of a Redis Cluster. The script's clock is the
service's (passed in ARGV), never Redis's, so tests can move time freely.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from datetime import time as dtime
from enum import IntEnum
from functools import lru_cache
from importlib import resources
from zoneinfo import ZoneInfo

import redis

from .clock import last_week_days, local_date, week_days
from .transport import TIMEOUT, StoreUnavailable, Transport

__all__ = ["Counts", "Day", "Store", "StoreUnavailable", "TopPages"]

# Key templates; `{{{site}}}` renders as the hash tag `{site}`.
ALL = "{prefix}:{{{site}}}:all"
SEEN = "{prefix}:{{{site}}}:seen"
MONTH = "{prefix}:{{{site}}}:m:{month}"
UNIQ = "{prefix}:{{{site}}}:u:{day}"
MINUTES = "{prefix}:{{{site}}}:min:{hour}"
HITS = "{prefix}:{{{site}}}:hits:{day}"
RATE = "{prefix}:{{{site}}}:rl:{client}:{minute}"
NEW_VISITS = "{prefix}:{{{site}}}:nv:{client}:{hour}"
BEATS = "{prefix}:{{{site}}}:hb:{client}:{minute}"
KEEP = "{prefix}:{{{site}}}:keep:{client}"
NEW_PAGES = "{prefix}:{{{site}}}:np:{client}:{hour}"
SALT = "{prefix}:salt:{day}"
SECRET = "{prefix}:secret"
PAGES_ALL = "{prefix}:{{{site}}}:pages:all"
PAGES_MONTH = "{prefix}:{{{site}}}:pages:m:{month}"
PAGES_DAY = "{prefix}:{{{site}}}:pages:d:{day}"
# The same tables in the earlier format (views not negated): merged into the
# current ones when first touched (counter/lua/merge_pages.lua), read until then.
OLD_PAGES = {PAGES_ALL: "{prefix}:{{{site}}}:p:all", PAGES_MONTH: "{prefix}:{{{site}}}:p:m:{month}",
             PAGES_DAY: "{prefix}:{{{site}}}:p:d:{day}"}

# How long keys live. Each is named here once and passed to the script.
DAY = 86400
UNIQ_DAYS = 400  # daily HyperLogLogs older than this have expired
# 400 calendar days may hold one more hour than 400 x 86,400 s (a DST fall-back more than springs forward).
UNIQ_TTL = UNIQ_DAYS * DAY + 2 * 3600
HITS_TTL = 2 * DAY  # hit ids: today's and yesterday's (UTC) sets are read
MINUTES_TTL = 2 * 3600  # per-minute page views: the last hour spans two hour keys
RATE_TTL = 2 * 60  # sliding windows read the current and the previous window
NEW_VISITS_TTL = 2 * 3600
NEW_PAGES_TTL = 3600  # a fixed window of one hour: only the current one is read
SEEN_GRACE = 60  # seconds `seen` outlives what it holds after a renewal (one a minute while written)
# A date begins in UTC+14 and ends in UTC-12, 50 hours later; sites in both zones share its
# salt, so it is kept until the date has ended in UTC-12, and an hour more (clocks of hosts differ).
LAST_ZONE = timezone(timedelta(hours=-12))
SALT_GRACE = 3600
SALT_DAYS_KEPT = 4  # local dates in use at one instant: at most three (UTC-12 to UTC+14)
PAGES_DAY_DAYS = 36  # a day's table of pages lives until the local midnight 36 days after the day began
LUA = resources.files("counter").joinpath("lua")
MERGE_PAGES = LUA.joinpath("merge_pages.lua").read_text()  # a function of counter.lua and pages.lua
SCRIPT = MERGE_PAGES + LUA.joinpath("counter.lua").read_text()
HISTORY = LUA.joinpath("history.lua").read_text()
SET_DAY = LUA.joinpath("set_day.lua").read_text()
TOP_PAGES = MERGE_PAGES + LUA.joinpath("pages.lua").read_text()
OTHER_PAGE = "(other)"  # where views of pages beyond the bound go; no page starts with "("
# In every table of pages, with no views: longer than Redis's zset-max-listpack-value (64 bytes), it keeps
# the table a skiplist: a view is a lookup and a short move, not walks of the table (counter.lua, "Pages").
SKIPLIST_PAGE = "(this member over 64 bytes keeps the table a skiplist, not a listpack)"

# An IPv6 /48 network gets this many times each limit of one of its /64 clients.
NETWORK_SHARE = 8
KEEP_GRACE = 60  # seconds a client's `keep` set outlives the online window after a renewal (the same)
# From this many visitors a day (the HyperLogLog's error, 0.81 %, is then wider than a
# second's new visitors), a hit's answer reuses the day's count made within the same second.
UNIQ_REUSE_FROM = 10_000
# The past days' counts are held only once the local day is this many seconds old:
# a hit stamped before midnight (another worker's, or a slower host's) may still
# reach Redis after the first of the new day and add to yesterday's visits.
PAST_SETTLE = 60


class Status(IntEnum):
    """What the counter script did."""

    OK = 0  # counted, or recorded a heartbeat, a bot or a read
    DUPLICATE = 1  # a hit id seen before: nothing counted
    RATE_LIMITED = 2  # over the hits per client and minute: nothing written
    NEW_VISIT_LIMITED = 3  # over the new visits per client and hour: nothing written


# The counter script's answer, field by field, in the order counter.lua returns them;
# it says the days of this week before today where Counts has this_week, and ends with
# the version of the past days' counts.
ANSWER = ("status", "new_visit", "total", "today", "yesterday", "this_week", "this_month",
          "online", "pageviews_today", "unique_today", "bots_today", "peak_today",
          "peak_today_at", "peak_all", "peak_all_at", "last_week", "last_month",
          "page_views", "page_today")
PAST = (4, 5, 15, 16)  # the answer's places of the past days' counts: yesterday ... last_month
PAGE_COUNTS = (17, 18)  # the answer's places of the page's views, which come negated
LIMITED_ANSWER = ("status", "new_visit", "retry_after")  # a limited hit's answer


@dataclass
class Counts:
    """What one script call tells about a site at one instant."""

    status: Status = Status.OK
    new_visit: bool = False
    total: int = 0
    today: int = 0
    yesterday: int = 0
    this_week: int = 0
    this_month: int = 0
    online: int = 0
    pageviews_today: int = 0
    unique_today: int = 0
    bots_today: int = 0
    peak_today: int = 0
    peak_today_at: int | None = None
    peak_all: int = 0
    peak_all_at: int | None = None
    last_week: int = 0
    last_month: int = 0
    page_views: int = 0  # of the page sent with the call, all-time
    page_today: int = 0  # and today
    retry_after: int = 0


@dataclass
class TopPages:
    """The most viewed pages of one table, and the views of pages beyond the bound."""

    pages: list[tuple[str, int]]
    other: int = 0


@dataclass
class Day:
    """One row of daily history."""

    date: date
    visits: int = 0
    pageviews: int = 0
    unique_visitors: int = 0
    peak_online: int = 0


def _pairs(flat: list) -> dict:
    """Turn a flat HGETALL reply from a script into a dict."""
    return dict(zip(flat[::2], flat[1::2], strict=True))


@lru_cache(maxsize=4096)
def _day_parts(prefix: str, site: str, today: date) -> tuple[tuple[str, ...], tuple, tuple]:
    """Return the script's read keys, date arguments and last week's fields for `site` on `today`.

    They change once a day, so they are built once a day and not per request.
    """
    yesterday = today - timedelta(days=1)
    other = today.replace(day=1) - timedelta(days=1)  # the previous month

    def ref(day: date) -> str:
        return ("c" if day.month == today.month else "o") + str(day.day)

    keys = (
        ALL.format(prefix=prefix, site=site),
        SEEN.format(prefix=prefix, site=site),
        MONTH.format(prefix=prefix, site=site, month=today.strftime("%Y-%m")),
        MONTH.format(prefix=prefix, site=site, month=other.strftime("%Y-%m")),
        UNIQ.format(prefix=prefix, site=site, day=today.isoformat()),
    )
    # The previous ISO week starts at most 13 days back: in this month or the previous one.
    last_week = last_week_days(today)
    fields = (" ".join(f"{d.day}v" for d in last_week if d.month == today.month),
              " ".join(f"{d.day}v" for d in last_week if d.month != today.month))
    return keys, (today.day, ref(yesterday), " ".join(ref(d) for d in week_days(today)[:-1])), fields


@lru_cache(maxsize=4096)
def _page_parts(prefix: str, site: str, today: date, zone: ZoneInfo) -> tuple[tuple[str, ...], float]:
    """Return the page tables' keys of `site` on `today`, and when its day table's life ends.

    The three tables (all-time, month, day), then the same in the earlier format.
    Like the day's keys, they change once a day and are built once a day.
    """
    tables = ((PAGES_ALL, {}), (PAGES_MONTH, {"month": today.strftime("%Y-%m")}),
              (PAGES_DAY, {"day": today.isoformat()}))
    keys = tuple(t.format(prefix=prefix, site=site, **parts) for t, parts in tables)
    keys += tuple(OLD_PAGES[t].format(prefix=prefix, site=site, **parts) for t, parts in tables)
    return keys, datetime.combine(today + timedelta(days=PAGES_DAY_DAYS), dtime(), zone).timestamp()


class Store:
    """The counter's data in Redis, one instance per process."""

    def __init__(self, url: str, prefix: str = "vc", online_window: int = 300,
                 visit_timeout: int = 1800, rate_limit: int = 120,
                 new_visit_limit: int = 100, timeout: float = TIMEOUT, max_paths: int = 10000) -> None:
        """Remember the settings; the client is opened on first use."""
        self.url = url
        self.prefix = prefix
        self.online_window = online_window
        self.visit_timeout = visit_timeout
        self.rate_limit = rate_limit
        self.new_visit_limit = new_visit_limit
        self.max_paths = max_paths
        self._salts: dict[str, bytes] = {}
        self._secret: bytes | None = None
        # Per site: the local day, the version (`hv`, random) and the past days' counts last read.
        self._past: dict[str, tuple[date, str, tuple[int, ...]]] = {}
        self.redis = Transport(url, timeout, {"counter": self._counter_script(), "history": HISTORY,
                                              "set_day": SET_DAY, "pages": TOP_PAGES},
                               on_open=self._forget_salts)
        self._call = self.redis.call

    @property
    def client(self):
        """Return this process's Redis client."""
        return self.redis.client

    def _counter_script(self) -> str:
        """Return counter.lua with this store's settings as locals on its first line."""
        held = max(self.online_window, self.visit_timeout)  # seconds `seen` holds a visitor
        numbers = {"WINDOW": self.online_window * 1000, "TIMEOUT": self.visit_timeout * 1000,
                   "HELD": held * 1000, "RATE": self.rate_limit, "NEW_VISITS": self.new_visit_limit,
                   "NETWORK_SHARE": NETWORK_SHARE, "UNIQ_REUSE_FROM": UNIQ_REUSE_FROM,
                   "MAX_PATHS": self.max_paths}
        # Lifetimes go to Redis as they are: strings, which Redis need not format.
        strings = {"UNIQ_TTL": UNIQ_TTL, "HITS_TTL": HITS_TTL, "MINUTES_TTL": MINUTES_TTL,
                   "RATE_TTL": RATE_TTL, "NEW_VISITS_TTL": NEW_VISITS_TTL, "NEW_PAGES_TTL": NEW_PAGES_TTL,
                   "SEEN_TTL": (held + SEEN_GRACE) * 1000,
                   "KEEP_TTL": (self.online_window + KEEP_GRACE) * 1000}
        values = [str(int(v)) for v in numbers.values()] + [f"'{int(v)}'" for v in strings.values()]
        names, values = [*numbers, *strings, "SKIPLIST"], [*values, f"'{SKIPLIST_PAGE}'"]
        return f"local {', '.join(names)} = {', '.join(values)}\n{SCRIPT}"

    def _forget_salts(self) -> None:
        """Drop salts cached before a fork; Redis has the day's salt."""
        self._salts = {}

    def key(self, template: str, site: str, **parts) -> str:
        """Render a key template for a site."""
        return template.format(prefix=self.prefix, site=site, **parts)

    # -- counting ---------------------------------------------------------

    def _script_args(self, mode: str, site: str, zone: ZoneInfo, now: float,
                     writes: tuple[list, list] = ((), ()), page: str = "") -> tuple[list, list, tuple]:
        """Return the counter script's keys and arguments for `site` at `now`, and the past days' counts held.

        The version of the past days' counts held for today, last week's fields
        and the page's keys and arguments come last, in every mode.
        """
        today = local_date(now, zone)
        keys, day_args, last_week = _day_parts(self.prefix, site, today)
        page_keys, page_ttl = (), 0
        if page:
            page_keys, ends = _page_parts(self.prefix, site, today, zone)
            page_ttl = max(1, int(ends - now))
        held = self._past.get(site)
        if held is not None and held[0] != today:
            held = None
        ms = int(now * 1000)
        return ([*keys, *writes[0], *page_keys],
                [mode, ms, ms - self.online_window * 1000, ms // 1000, *day_args, *writes[1],
                 "" if held is None else held[1], *last_week, page, page_ttl],
                (site, today, held, zone, now))

    def _run(self, keys: list, args: list, past: tuple) -> Counts:
        """Call the counter script once and unpack its answer, with the past days' counts held or read."""
        raw = self._call(self.redis.script("counter"), keys, args)
        values = [int(x) if x != "" else None for x in raw[:len(ANSWER)]]
        values[0] = Status(values[0])
        values[1] = bool(values[1])
        if values[0] in (Status.RATE_LIMITED, Status.NEW_VISIT_LIMITED):
            return Counts(**dict(zip(LIMITED_ANSWER, values, strict=True)))
        if len(raw) != len(ANSWER) + 1:
            raise ValueError(f"the counter script answered {len(raw)} fields, not {len(ANSWER) + 1}")
        site, today, held, zone, now = past
        if values[PAST[0]] is None:  # the script found the version held: not read again
            counts = held[2]
        else:
            counts = tuple(values[i] for i in PAST)
            if now - datetime.combine(today, dtime(), zone).timestamp() >= PAST_SETTLE:
                self._past[site] = (today, raw[-1], counts)
        for i, count in zip(PAST, counts, strict=True):
            values[i] = count
        for i in PAGE_COUNTS:  # stored negated: counter.lua, "Pages"
            values[i] = -values[i]
        values[5] += values[3]  # this week: the days before today, and today
        return Counts(*values)  # ANSWER's order is Counts's

    def _write_keys(self, site: str, now: float, client: str, network: str) -> list[str]:
        """Return the keys that a hit, heartbeat or bot may write, beyond the read set."""
        minute, hour, day = int(now // 60), int(now // 3600), int(now // 86400)
        # The client's limit keys, then its network's when it has one (IPv6).
        return [
            self.key(MINUTES, site, hour=hour),
            self.key(HITS, site, day=day),
            self.key(HITS, site, day=day - 1),
            *self._limit_keys(site, client, minute, hour),
            *(self._limit_keys(site, network, minute, hour) if network else ()),
        ]

    def _limit_keys(self, site: str, who: str, minute: int, hour: int) -> list[str]:
        """Return the keys of one client's (or network's) limits at `minute` of `hour`."""
        return [
            self.key(RATE, site, client=who, minute=minute),
            self.key(RATE, site, client=who, minute=minute - 1),
            self.key(NEW_VISITS, site, client=who, hour=hour),
            self.key(NEW_VISITS, site, client=who, hour=hour - 1),
            self.key(BEATS, site, client=who, minute=minute),
            self.key(BEATS, site, client=who, minute=minute - 1),
            self.key(KEEP, site, client=who),
            self.key(NEW_PAGES, site, client=who, hour=hour),
        ]

    def _hit_args(self, site: str, zone: ZoneInfo, now: float, visitor: str,
                  client: str, hit: str = "", page: str = "", network: str = "",
                  mode: str = "hit") -> tuple[list, list, tuple]:
        """Return the script's keys and arguments for a page view, heartbeat or bot, and the past held."""
        args = [visitor, hit, int(now // 60) % 60]
        return self._script_args(mode, site, zone, now,
                                 (self._write_keys(site, now, client, network), args), page)

    def hit(self, site: str, zone: ZoneInfo, now: float, visitor: str,
            client: str, hit: str = "", page: str = "", network: str = "") -> Counts:
        """Record a page view by `visitor` from `client` in `network` (hashes), of `page` when given."""
        return self._run(*self._hit_args(site, zone, now, visitor, client, hit, page, network))

    def hit_many(self, site: str, zone: ZoneInfo, views, batch: int = 1000) -> int:
        """Record (time, visitor, client, hit) page views in pipelines; return how many counted.

        For bulk loads such as the memory benchmark: one round trip per batch.
        """
        counted = 0
        script = self.redis.script("counter")
        pipe = self.client.pipeline(transaction=False)
        for n, (now, visitor, client, hit) in enumerate(views, 1):
            keys, args, _ = self._hit_args(site, zone, now, visitor, client, hit)
            script(keys, args, client=pipe)
            if n % batch == 0:
                counted += sum(r[0] == Status.OK for r in self._call(pipe.execute))
        return counted + sum(r[0] == Status.OK for r in self._call(pipe.execute))

    def heartbeat(self, site: str, zone: ZoneInfo, now: float, visitor: str,
                  client: str, network: str = "", page: str = "") -> Counts:
        """Keep `visitor` online, counting nothing ("": a bot's, only limited); read `page` if given."""
        return self._run(*self._hit_args(site, zone, now, visitor, client, "", page, network, "beat"))

    def bot(self, site: str, zone: ZoneInfo, now: float, client: str, page: str = "",
            network: str = "") -> Counts:
        """Tally a bot's request for today within its client's hit limit; read `page`'s numbers if given."""
        return self._run(*self._hit_args(site, zone, now, "", client, "", page, network, "bot"))

    def read(self, site: str, zone: ZoneInfo, now: float, page: str = "") -> Counts:
        """Return the counts of `site` (and of `page` when given) without changing anything."""
        return self._run(*self._script_args("read", site, zone, now, page=page))

    # -- pages ------------------------------------------------------------

    def top_pages(self, site: str, period: str, day: date | None, limit: int) -> TopPages:
        """Return the `limit` most viewed pages of a period: "all", "month" or "day" (of `day`).

        Most viewed first; pages with equal views in path order, also at the cut.
        """
        if period == "all":
            table, parts = PAGES_ALL, {}
        elif period == "month":
            table, parts = PAGES_MONTH, {"month": day.strftime("%Y-%m")}
        else:
            table, parts = PAGES_DAY, {"day": day.isoformat()}
        keys = [self.key(table, site, **parts), self.key(OLD_PAGES[table], site, **parts)]
        raw = self._call(self.redis.script("pages"), keys, [limit, OTHER_PAGE, SKIPLIST_PAGE])
        # Views are stored negated (counter.lua, "Pages"); the order is the table's.
        found = [(raw[i], -int(float(raw[i + 1]))) for i in range(0, len(raw) - 1, 2)]
        return TopPages(found, -int(float(raw[-1] or 0)))

    def page_views(self, site: str, zone: ZoneInfo, now: float, page: str) -> tuple[int, int]:
        """Return (all-time, today's) views of one page; zeros for a page never seen."""
        keys, _ = _page_parts(self.prefix, site, local_date(now, zone), zone)
        tables = (keys[0], keys[2], keys[3], keys[5])  # all-time and today's, then in the earlier format

        def fetch():
            # One round trip; every key carries the site's tag, so one slot of a cluster.
            pipe = self.client.pipeline(transaction=False)
            for key in tables:
                pipe.zscore(key, page)
            return pipe.execute()

        views, on_day, old_views, old_on_day = (int(x or 0) for x in self._call(fetch))
        return old_views - views, old_on_day - on_day  # views are stored negated

    # -- history and live detail ------------------------------------------

    def last_hour(self, site: str, now: float) -> list[tuple[int, int]]:
        """Return (epoch minute, page views) for the 60 minutes up to `now`."""
        hour = int(now // 3600)

        def fetch():
            pipe = self.client.pipeline(transaction=False)
            pipe.hgetall(self.key(MINUTES, site, hour=hour - 1))
            pipe.hgetall(self.key(MINUTES, site, hour=hour))
            return pipe.execute()

        before, current = self._call(fetch)
        minute = int(now // 60)
        rows = []
        for m in range(minute - 59, minute + 1):
            source = current if m // 60 == hour else before
            rows.append((m, int(source.get(str(m % 60), 0))))
        return rows

    def daily(self, site: str, start: date, end: date, today: date) -> list[Day]:
        """Return one row per day from `start` to `end`, zero-filled."""
        days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
        months = sorted({d.strftime("%Y-%m") for d in days})
        sketched = [d for d in days if 0 <= (today - d).days < UNIQ_DAYS]

        keys = [self.key(MONTH, site, month=m) for m in months]
        keys += [self.key(UNIQ, site, day=d.isoformat()) for d in sketched]
        answers = self._call(self.redis.script("history"), keys, [len(months)]) if days else []
        by_month = {m: _pairs(raw) for m, raw in zip(months, answers[: len(months)], strict=True)}
        uniques = dict(zip(sketched, answers[len(months):], strict=True))
        rows = []
        for d in days:
            fields = by_month[d.strftime("%Y-%m")]
            prefix = str(d.day)
            rows.append(Day(
                date=d,
                visits=int(fields.get(prefix + "v", 0)),
                pageviews=int(fields.get(prefix + "p", 0)),
                unique_visitors=int(uniques.get(d, 0)),
                peak_online=int(fields.get(prefix + "o", "0@0").split("@")[0]),
            ))
        return rows

    # -- admin ------------------------------------------------------------

    def set_total(self, site: str, total: int) -> int:
        """Set the all-time total; return the old one."""
        key = self.key(ALL, site)

        def swap():
            pipe = self.client.pipeline(transaction=True)
            pipe.hget(key, "total")
            pipe.hset(key, "total", total)
            return pipe.execute()[0]

        return int(self._call(swap) or 0)

    def _set_day_call(self, site: str, day: date, visits: int | None,
                      pageviews: int | None) -> tuple[list[str], list]:
        """Return set_day.lua's keys and arguments for one day, with a new version of the past days."""
        return ([self.key(MONTH, site, month=day.strftime("%Y-%m")), self.key(ALL, site)],
                [day.day, "" if visits is None else visits, "" if pageviews is None else pageviews,
                 secrets.token_hex(8)])

    def set_day(self, site: str, day: date, visits: int | None,
                pageviews: int | None) -> tuple[int, int]:
        """Set one day's visits and/or page views; return the old pair."""
        old = self._call(self.redis.script("set_day"), *self._set_day_call(site, day, visits, pageviews))
        return int(old[0]), int(old[1])

    def set_days(self, site: str, rows, batch: int = 1000) -> list[tuple[int, int]]:
        """Set (date, visits, page views) rows, one pipeline per `batch`; return the old pairs.

        Each day is set atomically by the script; the pipeline is not a
        transaction, so a failure part-way leaves the earlier days set (setting
        them again is harmless). A site's keys share one slot, so on a cluster
        every batch goes to one node.
        """
        rows = list(rows)
        # redis-py's cluster pipeline neither loads scripts nor takes Script calls, so the
        # script is loaded on every primary first and queued as a plain EVALSHA.
        sha = self._call(self.client.script_load, SET_DAY)
        old: list[tuple[int, int]] = []
        for start in range(0, len(rows), batch):
            pipe = self.client.pipeline(transaction=False)
            for row in rows[start:start + batch]:
                keys, args = self._set_day_call(site, *row)
                pipe.execute_command("EVALSHA", sha, len(keys), *keys, *args)
            old += [(int(v), int(p)) for v, p in self._call(pipe.execute)]
        return old

    # -- operations -------------------------------------------------------

    def salt(self, day: date, now: float) -> bytes:
        """Return the random salt of `day` (a local date at `now`), creating it once for everybody."""
        name = day.isoformat()
        if name not in self._salts:
            key = SALT.format(prefix=self.prefix, day=name)
            mine = secrets.token_hex(16)
            # Deleted an hour after the last local `day` (UTC-12) has ended, whichever zone made it.
            ttl = max(1, int(datetime.combine(day + timedelta(days=1), dtime(), LAST_ZONE).timestamp() - now))
            # SET NX GET: one call that either stores ours or returns the one there.
            theirs = self._call(lambda: self.client.set(key, mine, ex=ttl + SALT_GRACE, nx=True, get=True))
            # Sites in zones on different local dates use two or three days' salts at
            # once: keep the last few, not only the last one.
            salts = dict(self._salts)
            salts[name] = bytes.fromhex(theirs or mine)
            self._salts = dict(sorted(salts.items())[-SALT_DAYS_KEPT:])
        return self._salts[name]

    def secret(self) -> bytes:
        """Return the service's random key for client hashes, creating it once for everybody.

        Unlike the daily salt it does not rotate, so a client's limits hold
        across midnight; the keys it names expire within two hours.
        """
        if self._secret is None:
            mine = secrets.token_hex(32)
            theirs = self._call(lambda: self.client.set(SECRET.format(prefix=self.prefix), mine,
                                                        nx=True, get=True))
            self._secret = bytes.fromhex(theirs or mine)
        return self._secret

    def ping(self) -> bool:
        """Return whether Redis answers."""
        return bool(self._call(self.client.ping))

    def eviction_policy(self) -> str | None:
        """Return Redis's maxmemory-policy; None where it cannot be read.

        Asked without the breaker: a Redis that is down at start-up is not a
        reason to refuse requests once it is back.
        """
        try:
            answer = self.client.config_get("maxmemory-policy")
        except (redis.RedisError, StoreUnavailable):
            return None
        if "maxmemory-policy" not in answer:  # a cluster answers per node
            answer = next(iter(answer.values()), {}) if answer else {}
        return answer.get("maxmemory-policy") if isinstance(answer, dict) else None
