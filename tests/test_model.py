"""The store against a plain reference model of the contract's words."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from counter.clock import last_week_days, previous_month
from counter.pages import OTHER, normalise
from counter.store import Store
from tests.helpers import flush

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
WINDOW, TIMEOUT = 300, 1800
MAX_PATHS = 3  # small, so that the examples reach the bound
START = datetime(2026, 11, 27, 20, 0, tzinfo=ZONE).timestamp()  # Friday evening, near a month end


class Model:
    """What the contract says the numbers are, kept the obvious way."""

    def __init__(self, window: int = WINDOW, timeout: int = TIMEOUT) -> None:
        """Start with nothing seen, with an online window and a visit timeout in seconds."""
        self.window, self.timeout = window, timeout
        self.last_seen: dict[str, float] = {}
        self.visits = defaultdict(int)
        self.pageviews = defaultdict(int)
        self.bots = defaultdict(int)
        self.uniques = defaultdict(set)
        self.hit_days: dict[str, int] = {}
        self.total = 0
        self.peak_day: dict = {}
        self.peak_all = (0, None)
        self.named: set[str] = set()  # pages kept by name, at most MAX_PATHS
        self.page_views = defaultdict(int)  # (period, page) -> views; period "all", (y, m) or a date

    def page_numbers(self, page: str, t: float) -> tuple[int, int]:
        """Return (all-time, today's) views of a page; zeros for a page not kept by name."""
        if page not in self.named:
            return 0, 0
        return self.page_views["all", page], self.page_views[self.day(t), page]

    def view_page(self, page: str, t: float) -> None:
        """Count a page view of `page`, or of "(other)" beyond the bound."""
        if page not in self.named and len(self.named) < MAX_PATHS:
            self.named.add(page)
        name = page if page in self.named else OTHER
        day = self.day(t)
        for period in ("all", (day.year, day.month), day):
            self.page_views[period, name] += 1

    def top(self, period) -> tuple[list[tuple[str, int]], int]:
        """Return the pages of a period, most viewed first and then by path, and "(other)"'s views."""
        rows = [(p, n) for (q, p), n in self.page_views.items() if q == period and p != OTHER and n]
        return sorted(rows, key=lambda r: (-r[1], r[0])), self.page_views[period, OTHER]

    def day(self, t: float):
        """Return the local date at `t`."""
        return datetime.fromtimestamp(t, ZONE).date()

    def online(self, t: float) -> int:
        """Count visitors seen within the window."""
        return sum(1 for seen in self.last_seen.values() if t - seen < self.window)

    def _touch(self, visitor: str, t: float) -> None:
        """Slide a visitor's last-seen time and update the peaks."""
        self.last_seen[visitor] = max(t, self.last_seen.get(visitor, t))
        online, day = self.online(t), self.day(t)
        if online > self.peak_day.get(day, (0, None))[0]:
            self.peak_day[day] = (online, int(t))
        if online > self.peak_all[0]:
            self.peak_all = (online, int(t))

    def heartbeat(self, visitor: str, t: float) -> None:
        """Slide a visitor's last-seen time, as the contract says of every heartbeat (limits aside)."""
        self._touch(visitor, t)

    def hit(self, visitor: str, hit: str | None, t: float, page: str = "") -> tuple[bool, bool]:
        """Record a page view (of `page` when given); return (counted, new_visit)."""
        # A hit id is refused again on its UTC day and the next (so always for 24 h).
        if hit is not None and hit in self.hit_days and int(t // 86400) - self.hit_days[hit] <= 1:
            return False, False
        if hit is not None:
            self.hit_days[hit] = int(t // 86400)
        last = self.last_seen.get(visitor)
        new = last is None or t - last >= self.timeout
        day = self.day(t)
        if new:
            self.visits[day] += 1
            self.total += 1
        self.pageviews[day] += 1
        if page:
            self.view_page(page, t)
        self.uniques[day].add(visitor)
        self._touch(visitor, t)
        return True, new

    def stats(self, t: float) -> dict:
        """Return the numbers of the stats object."""
        today = self.day(t)
        monday = today - timedelta(days=today.weekday())
        return {
            "total": self.total,
            "today": self.visits[today],
            "yesterday": self.visits[today - timedelta(days=1)],
            "this_week": sum(self.visits[monday + timedelta(days=i)] for i in range(today.weekday() + 1)),
            "this_month": sum(v for d, v in self.visits.items()
                              if (d.year, d.month) == (today.year, today.month)),
            "last_week": sum(self.visits[d] for d in last_week_days(today)),
            "last_month": sum(v for d, v in self.visits.items()
                              if d.replace(day=1) == previous_month(today)),
            "online": self.online(t),
            "pageviews_today": self.pageviews[today],
            "unique_today": len(self.uniques[today]),
            "bots_today": self.bots[today],
            "peak_today": self.peak_day.get(today, (0, None)),
            "peak_all": self.peak_all,
        }


def observed(store: Store, t: float) -> dict:
    """Read the same numbers from the store."""
    c = store.read("demo", ZONE, t)
    return {
        "total": c.total, "today": c.today, "yesterday": c.yesterday, "this_week": c.this_week,
        "this_month": c.this_month,
        "last_week": c.last_week, "last_month": c.last_month, "online": c.online,
        "pageviews_today": c.pageviews_today,
        "unique_today": c.unique_today, "bots_today": c.bots_today,
        "peak_today": (c.peak_today, c.peak_today_at), "peak_all": (c.peak_all, c.peak_all_at),
    }


PATHS = st.one_of(st.none(), st.sampled_from(["/", "/a", "/a/?x=1", "//b", "/c#top", "/d", "/%64"]))
STEP = st.sampled_from([1, 30, 119, 120, 121, 299, 300, 301, 1200, 1799, 1800, 3600, 6 * 3600, 86400,
                        3 * 86400])
OPS = st.lists(
    st.one_of(
        st.tuples(st.just("hit"), st.integers(0, 2), st.one_of(st.none(), st.integers(0, 3)), PATHS),
        st.tuples(st.just("beat"), st.integers(0, 2), st.none(), st.none()),
        st.tuples(st.just("bot"), st.none(), st.none(), PATHS),
        st.tuples(st.just("wait"), STEP, st.none(), st.none()),
    ),
    min_size=1, max_size=40,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS)
@pytest.mark.parametrize(("window", "timeout"), [(WINDOW, TIMEOUT), (WINDOW, 120)])
def test_store_matches_the_reference_model(redis_url, ops, window, timeout):
    # The second pair: an online window longer than the visit timeout still counts its whole span online.
    flush(redis_url)
    store = Store(redis_url, online_window=window, visit_timeout=timeout,
                  rate_limit=10**6, new_visit_limit=10**6, max_paths=MAX_PATHS)
    try:
        check_against_model(store, ops, Model(window, timeout))
    finally:
        store.client.close()  # one client per example: close it, not the garbage collector


def check_against_model(store: Store, ops: list, model: Model) -> None:
    """Run the operations on the store and the model, comparing them after each."""
    t = START
    for op, a, b, path in ops:
        page = normalise(path) if path is not None else ""
        if op == "wait":
            t += a
        elif op == "hit":
            visitor, hit = f"v{a}", (f"h{b}" if b is not None else "")
            counts = store.hit("demo", ZONE, t, visitor, "client", hit, page)
            counted, new = model.hit(visitor, hit or None, t, page)
            assert (counts.status == 0, counts.new_visit) == (counted, new)
            if page:
                assert (counts.page_views, counts.page_today) == model.page_numbers(page, t)
        elif op == "beat":
            store.heartbeat("demo", ZONE, t, f"v{a}", "client")
            model.heartbeat(f"v{a}", t)
        else:
            counts = store.bot("demo", ZONE, t, "client", page)
            model.bots[model.day(t)] += 1
            if page:
                assert (counts.page_views, counts.page_today) == model.page_numbers(page, t)
        assert observed(store, t) == model.stats(t)
    today = model.day(t)
    for period, kind, day in (("all", "all", None), ((today.year, today.month), "month", today),
                              (today, "day", today)):
        top = store.top_pages("demo", kind, day, 2)
        assert (top.pages, top.other) == (model.top(period)[0][:2], model.top(period)[1])


def test_the_script_answers_in_the_order_of_counts_fields():
    from dataclasses import fields

    from counter.store import ANSWER, Counts

    assert tuple(f.name for f in fields(Counts))[:len(ANSWER)] == ANSWER
