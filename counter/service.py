"""The counter's operations in the contract's words, for the API and the CLI."""

from __future__ import annotations

import threading
from datetime import date, timedelta

from . import privacy, stamps
from .clock import local_date, local_iso
from .config import Site
from .pages import normalise, period_kind
from .store import Counts, Day, Status, Store, StoreUnavailable, TopPages
from .telemetry import HIT_RESULTS

MAX_DAYS = 3700
MAX_COUNT = 2**53 - 1  # the largest whole number every JSON reader keeps exact


class BadRange(ValueError):
    """A daily range the service will not read; `code` names it for the API."""

    def __init__(self, code: str, message: str) -> None:
        """Keep the snake_case code and the sentence."""
        super().__init__(message)
        self.code = code


class RateLimited(Exception):
    """A client went over one of its limits; nothing was counted."""

    def __init__(self, retry_after: int, new_visits: bool) -> None:
        """Keep how long to wait and which limit it was."""
        super().__init__("rate limited")
        self.retry_after = max(1, retry_after)
        self.new_visits = new_visits


class Counter:
    """Counting, reading and administering sites on one store."""

    def __init__(self, store: Store, sites: dict[str, Site], clock, online_window: int,
                 cache_seconds: float = 0, host_stamps: stamps.Stamps | None = None) -> None:
        """Wire the store, the configured sites and the clock together."""
        self.store = store
        self.sites = sites
        self.clock = clock
        self.online_window = online_window
        self.cache_seconds = cache_seconds
        # Every write leaves a stamp there; the cache holds while its site's stamp does.
        self.stamps = host_stamps or stamps.for_this_host()
        # The last stats seen per site and when: for `stale`.
        self._last: dict[str, tuple[float, dict]] = {}
        # The cache: per site, when it was read, the stamp before the read, the stats.
        self._cached: dict[str, tuple[float, int, dict, date]] = {}
        self._lock = threading.Lock()

    # -- reads ------------------------------------------------------------

    def stats(self, site: Site) -> dict:
        """Return the stats object: fresh, cached (when the cache is on) or the last seen, stale.

        A cached read serves while it is younger than the cache's lifetime, of
        the same local day, and no worker of this host wrote to the site since
        (its stamp is unchanged); other hosts' writes show within the lifetime.
        """
        now = self.clock.now()
        stamp = self.stamps.read(site.id)
        cached = self._cached.get(site.id)
        if (cached is not None and cached[1] == stamp and 0 <= now - cached[0] < self.cache_seconds
                and cached[3] == local_date(now, site.zone) and not self.store.redis.breaker_open):
            return cached[2]
        try:
            counts = self.store.read(site.id, site.zone, now)
        except StoreUnavailable:
            with self._lock:
                last = self._last.get(site.id, (None, None))[1]
            if last is None:
                raise
            return dict(last, stale=True)
        fresh = self._remember(site, counts, now)
        self._cached[site.id] = (now, stamp, fresh, local_date(now, site.zone))
        return fresh

    def online(self, site: Site) -> dict:
        """Return the live view: online now, today's peak and the last hour."""
        now = self.clock.now()
        counts = self.store.read(site.id, site.zone, now)
        minutes = self.store.last_hour(site.id, now)
        return {
            "site": site.id,
            "online": counts.online,
            "window_seconds": self.online_window,
            "as_of": local_iso(now, site.zone),
            "peak_today": self._peak(site, counts.peak_today, counts.peak_today_at),
            "last_hour": [
                {"minute": local_iso(m * 60, site.zone), "pageviews": views} for m, views in minutes
            ],
        }

    def daily(self, site: Site, start: date | None, end: date | None) -> list[Day]:
        """Return daily rows from `start` to `end`, defaulting to the last 30 days."""
        today = self.today(site)
        end = end or (today if start is None else max(today, start))
        # Thirty days back, or fewer near the calendar's start (no date before 0001-01-01).
        start = start or end - timedelta(days=min(29, (end - date.min).days))
        if start > end:
            raise BadRange("invalid_range", "`from` must not be after `to`.")
        if (end - start).days + 1 > MAX_DAYS:
            raise BadRange("range_too_large", f"Ask for at most {MAX_DAYS} days at once.")
        return self.store.daily(site.id, start, end, today)

    def stats_and_page(self, site: Site, path: str) -> tuple[dict, dict]:
        """Return the stats object and one page's numbers from one read; never counts."""
        now = self.clock.now()
        page = normalise(path)
        counts = self.store.read(site.id, site.zone, now, page)
        return self._remember(site, counts, now), self._with_page({}, page, counts)["page"]

    def pages(self, site: Site, period: str, limit: int) -> dict:
        """Return the most viewed pages of a period (see counter.pages.period_kind)."""
        try:
            kind, day = period_kind(period, self.today(site))
        except ValueError:
            raise BadRange("invalid_period", "`period` must be all, today, YYYY-MM or YYYY-MM-DD.") from None
        top = (TopPages([], 0) if kind == "gone"
               else self.store.top_pages(site.id, kind, day, limit))
        return {"site": site.id, "period": period,
                "pages": [{"path": p, "pageviews": n} for p, n in top.pages], "other": top.other}

    def page_views(self, site: Site, path: str) -> dict:
        """Return one page's all-time and today's views; zeros for a page never seen."""
        page = normalise(path)
        views, today = self.store.page_views(site.id, site.zone, self.clock.now(), page)
        return {"site": site.id, "path": page, "pageviews": views, "today": today}

    def overview(self, private: bool = True) -> list[dict]:
        """Return total, today and online of every site (of the public ones only, unless `private`)."""
        rows = []
        for site in self.sites.values():
            if not (site.public or private):
                continue
            s = self.stats(site)
            rows.append({"site": site.id, "name": site.name, "total": s["total"],
                         "today": s["today"], "online": s["online"]})
        return rows

    def today(self, site: Site) -> date:
        """Return the site's local date now."""
        return local_date(self.clock.now(), site.zone)

    # -- writes -----------------------------------------------------------

    def hit(self, site: Site, visitor: str | None, hit: str | None,
            ip: str, user_agent: str, path: str | None = None) -> dict:
        """Record a page view; return the stats with `counted`, `new_visit` and, with a path, `page`."""
        now = self.clock.now()
        page = normalise(path) if path is not None else ""
        try:
            client, network = self._client(ip)
            if privacy.is_bot(user_agent):
                counts = self._limited(self.store.bot(site.id, site.zone, now, client, page, network))
                HIT_RESULTS.labels(site.id, "bot").inc()
                return self._with_page(dict(self._remember(site, counts, now), counted=False,
                                            new_visit=False), page, counts)
            salt = self.store.salt(local_date(now, site.zone), now)
            member = self._member(site, visitor, ip, user_agent, salt)
            hit_key = privacy.hit_hash(site.id, hit) if hit else ""
            counts = self._limited(self.store.hit(site.id, site.zone, now, member, client,
                                                  hit_key, page, network))
        except StoreUnavailable:
            HIT_RESULTS.labels(site.id, "error").inc()
            raise
        except RateLimited:
            HIT_RESULTS.labels(site.id, "rate_limited").inc()
            raise
        finally:
            self.stamps.bump(site.id)  # even a write that failed may have been applied
        HIT_RESULTS.labels(site.id, "counted" if counts.status == Status.OK else "duplicate").inc()
        return self._with_page(dict(self._remember(site, counts, now), counted=counts.status == Status.OK,
                                    new_visit=counts.new_visit), page, counts)

    @staticmethod
    def _with_page(body: dict, page: str, counts: Counts) -> dict:
        """Add the hit's `page` answer when a path was sent."""
        if page:
            body["page"] = {"path": page, "pageviews": counts.page_views, "today": counts.page_today}
        return body

    def heartbeat(self, site: Site, visitor: str | None, ip: str, user_agent: str,
                  path: str | None = None) -> dict:
        """Keep a visitor online; a bot's heartbeat keeps nobody online but counts against its limit.

        With a path, the answer carries that page's numbers as a hit's does (read, never counted).
        """
        now = self.clock.now()
        page = normalise(path) if path is not None else ""
        client, network = self._client(ip)
        if privacy.is_bot(user_agent):
            member = ""
        else:
            salt = self.store.salt(local_date(now, site.zone), now)
            member = self._member(site, visitor, ip, user_agent, salt)
        try:
            counts = self._limited(self.store.heartbeat(site.id, site.zone, now, member, client,
                                                        network, page))
        finally:
            self.stamps.bump(site.id)
        body = self._remember(site, counts, now)
        return self._with_page(dict(body), page, counts) if page else body

    def set_total(self, site: Site, total: int) -> int:
        """Set the all-time total; return the old one."""
        try:
            return self.store.set_total(site.id, total)
        finally:
            self._forget(site)

    def set_day(self, site: Site, day: date, visits: int | None,
                pageviews: int | None) -> tuple[tuple[int, int], Day]:
        """Set a day's history; return the old (visits, page views) and the new row."""
        try:
            old = self.store.set_day(site.id, day, visits, pageviews)
        finally:
            self._forget(site)
        return old, self.store.daily(site.id, day, day, self.today(site))[0]

    # -- helpers ----------------------------------------------------------

    def _forget(self, site: Site) -> None:
        """Drop the cached stats of `site` after an admin change, here and in this host's other workers."""
        self.stamps.bump(site.id)
        with self._lock:
            self._last.pop(site.id, None)

    def _client(self, ip: str) -> tuple[str, str]:
        """Return the keyed hashes that a client's limits are kept under: its own and its network's."""
        return privacy.client_keys(self.store.secret(), ip)

    @staticmethod
    def _limited(counts: Counts) -> Counts:
        """Raise RateLimited when the script refused a request over a limit."""
        if counts.status in (Status.RATE_LIMITED, Status.NEW_VISIT_LIMITED):
            raise RateLimited(counts.retry_after, counts.status == Status.NEW_VISIT_LIMITED)
        return counts

    @staticmethod
    def _member(site: Site, visitor: str | None, ip: str, user_agent: str, salt: bytes) -> str:
        """Return the stored stand-in for a visitor."""
        if visitor:
            return privacy.visitor_hash(site.id, visitor)
        return privacy.anonymous_visitor(salt, ip, user_agent, site.id)

    def _peak(self, site: Site, count: int, at: int | None) -> dict:
        """Format a peak as {count, at} in the site's zone."""
        return {"count": count, "at": local_iso(at, site.zone) if at else None}

    def _remember(self, site: Site, c: Counts, now: float) -> dict:
        """Build the stats object and keep it as the last seen."""
        stats = {
            "site": site.id,
            "total": c.total,
            "today": c.today,
            "yesterday": c.yesterday,
            "this_week": c.this_week,
            "this_month": c.this_month,
            "last_week": c.last_week,
            "last_month": c.last_month,
            "online": c.online,
            "pageviews_today": c.pageviews_today,
            "unique_today": c.unique_today,
            "bots_today": c.bots_today,
            "peak_online": {
                "today": self._peak(site, c.peak_today, c.peak_today_at),
                "all_time": self._peak(site, c.peak_all, c.peak_all_at),
            },
            "date": local_date(now, site.zone).isoformat(),
            "timezone": site.timezone,
            "online_window_seconds": self.online_window,
            "as_of": local_iso(now, site.zone),
            "stale": False,
        }
        with self._lock:
            self._last[site.id] = (now, stats)
        return stats
