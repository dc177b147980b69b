"""One serialisation of daily history, shared by the API and the CLI."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import TextIO

from .store import Day

DAILY_COLUMNS = ("date", "visits", "pageviews", "unique_visitors", "peak_online")
PAGES_COLUMNS = ("path", "pageviews")


def day_row(day: Day) -> dict:
    """Return one day of history as the daily call's JSON row."""
    return {"date": day.date.isoformat(), "visits": day.visits, "pageviews": day.pageviews,
            "unique_visitors": day.unique_visitors, "peak_online": day.peak_online}


def write_daily_csv(days: Iterable[Day], out: TextIO) -> None:
    """Write daily history as CSV with the daily call's header."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(DAILY_COLUMNS)
    for day in days:
        row = day_row(day)
        writer.writerow(row[c] for c in DAILY_COLUMNS)


def write_pages_csv(pages: Iterable[dict], out: TextIO) -> None:
    """Write the pages call's rows as CSV with the header path,pageviews."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(PAGES_COLUMNS)
    for row in pages:
        writer.writerow(row[c] for c in PAGES_COLUMNS)
