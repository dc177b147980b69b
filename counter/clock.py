"""Time, injected so that tests can stand at any instant."""

from __future__ import annotations

import math
import time
from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo


class SystemClock:
    """The real wall clock."""

    def now(self) -> float:
        """Return seconds since the epoch."""
        return time.time()


class FixedClock:
    """A clock that moves only when told to; for tests and simulations."""

    def __init__(self, start: float | str) -> None:
        """Start at an epoch second or an ISO 8601 instant with offset."""
        self.t = datetime.fromisoformat(start).timestamp() if isinstance(start, str) else float(start)

    def now(self) -> float:
        """Return the current simulated time."""
        return self.t

    def advance(self, seconds: float) -> None:
        """Move forward by `seconds`."""
        self.t += seconds

    def set(self, instant: str) -> None:
        """Jump to an ISO 8601 instant with offset."""
        self.t = datetime.fromisoformat(instant).timestamp()


def local_date(now: float, zone: ZoneInfo) -> date:
    """Return the calendar date in `zone` at epoch second `now`."""
    # Zone offsets are whole seconds, so the date changes only on a whole second.
    return _local_date(math.floor(now), zone)


def local_iso(epoch: float, zone: ZoneInfo) -> str:
    """Format an epoch second as local ISO 8601 with offset, whole seconds."""
    return _local_iso(int(epoch), zone)


# Every answer names today's date and the time of the answer: at most a few
# distinct seconds at once under load, so formatting each once is enough.
@lru_cache(maxsize=1024)
def _local_date(second: int, zone: ZoneInfo) -> date:
    """Return the calendar date in `zone` at a whole epoch second."""
    return datetime.fromtimestamp(second, zone).date()


@lru_cache(maxsize=1024)
def _local_iso(second: int, zone: ZoneInfo) -> str:
    """Format a whole epoch second as local ISO 8601 with offset."""
    return datetime.fromtimestamp(second, zone).isoformat()


def week_days(day: date) -> list[date]:
    """Return the days of `day`'s ISO week up to and including it."""
    monday = day - timedelta(days=day.weekday())
    return [monday + timedelta(days=i) for i in range(day.weekday() + 1)]


def last_week_days(day: date) -> list[date]:
    """Return the seven days, Monday to Sunday, of the ISO week before `day`'s."""
    monday = day - timedelta(days=day.weekday() + 7)
    return [monday + timedelta(days=i) for i in range(7)]


def previous_month(day: date) -> date:
    """Return the first day of the calendar month before `day`'s."""
    return (day.replace(day=1) - timedelta(days=1)).replace(day=1)
