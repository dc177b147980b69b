"""Time, injected so that tests can stand at any instant."""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta
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
    return datetime.fromtimestamp(now, zone).date()


def local_iso(epoch: float, zone: ZoneInfo) -> str:
    """Format an epoch second as local ISO 8601 with offset, whole seconds."""
    return datetime.fromtimestamp(int(epoch), zone).isoformat()


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
