"""The store against a plain reference model of the contract's words."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from counter.store import Store
from tests.helpers import flush

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
WINDOW, TIMEOUT = 300, 1800
START = datetime(2026, 11, 27, 20, 0, tzinfo=ZONE).timestamp()  # Friday evening, near a month end


class Model:
    """What the contract says the numbers are, kept the obvious way."""

    def __init__(self) -> None:
        """Start with nothing seen."""
        self.last_seen: dict[str, float] = {}
        self.visits = defaultdict(int)
        self.pageviews = defaultdict(int)
        self.bots = defaultdict(int)
        self.uniques = defaultdict(set)
        self.hit_days: dict[str, int] = {}
        self.total = 0
        self.peak_day: dict = {}
        self.peak_all = (0, None)

    def day(self, t: float):
        """Return the local date at `t`."""
        return datetime.fromtimestamp(t, ZONE).date()

    def online(self, t: float) -> int:
        """Count visitors seen within the window."""
        return sum(1 for seen in self.last_seen.values() if t - seen < WINDOW)

    def _touch(self, visitor: str, t: float) -> None:
        """Slide a visitor's last-seen time and update the peaks."""
        self.last_seen[visitor] = max(t, self.last_seen.get(visitor, t))
        online, day = self.online(t), self.day(t)
        if online > self.peak_day.get(day, (0, None))[0]:
            self.peak_day[day] = (online, int(t))
        if online > self.peak_all[0]:
            self.peak_all = (online, int(t))

    def heartbeat(self, visitor: str, t: float) -> None:
        """Slide a visitor seen within the visit timeout; ignore anyone else."""
        last = self.last_seen.get(visitor)
        if last is not None and t - last < TIMEOUT:
            self._touch(visitor, t)

    def hit(self, visitor: str, hit: str | None, t: float) -> tuple[bool, bool]:
        """Record a page view; return (counted, new_visit)."""
        # A hit id is refused again on its UTC day and the next (so always for 24 h).
        if hit is not None and hit in self.hit_days and int(t // 86400) - self.hit_days[hit] <= 1:
            return False, False
        if hit is not None:
            self.hit_days[hit] = int(t // 86400)
        last = self.last_seen.get(visitor)
        new = last is None or t - last >= TIMEOUT
        day = self.day(t)
        if new:
            self.visits[day] += 1
            self.total += 1
        self.pageviews[day] += 1
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
        "this_month": c.this_month, "online": c.online, "pageviews_today": c.pageviews_today,
        "unique_today": c.unique_today, "bots_today": c.bots_today,
        "peak_today": (c.peak_today, c.peak_today_at), "peak_all": (c.peak_all, c.peak_all_at),
    }


STEP = st.sampled_from([1, 30, 299, 300, 301, 1200, 1799, 1800, 3600, 6 * 3600, 86400, 3 * 86400])
OPS = st.lists(
    st.one_of(
        st.tuples(st.just("hit"), st.integers(0, 2), st.one_of(st.none(), st.integers(0, 3))),
        st.tuples(st.just("beat"), st.integers(0, 2), st.none()),
        st.tuples(st.just("bot"), st.none(), st.none()),
        st.tuples(st.just("wait"), STEP, st.none()),
    ),
    min_size=1, max_size=40,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS)
def test_store_matches_the_reference_model(redis_url, ops):
    flush(redis_url)
    store = Store(redis_url, online_window=WINDOW, visit_timeout=TIMEOUT,
                  rate_limit=10**6, new_visit_limit=10**6)
    model, t = Model(), START
    for op, a, b in ops:
        if op == "wait":
            t += a
        elif op == "hit":
            visitor, hit = f"v{a}", (f"h{b}" if b is not None else "")
            counts = store.hit("demo", ZONE, t, visitor, "client", hit)
            counted, new = model.hit(visitor, hit or None, t)
            assert (counts.status == 0, counts.new_visit) == (counted, new)
        elif op == "beat":
            store.heartbeat("demo", ZONE, t, f"v{a}", "client")
            model.heartbeat(f"v{a}", t)
        else:
            store.bot("demo", ZONE, t, "client")
            model.bots[model.day(t)] += 1
        assert observed(store, t) == model.stats(t)
