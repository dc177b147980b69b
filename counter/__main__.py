"""The command line: python -m counter <command>."""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from datetime import date

from .config import ConfigError
from .formats import write_daily_csv
from .service import MAX_COUNT, BadRange
from .store import StoreUnavailable


def _counter():
    """Build the counter from the environment, as the service does."""
    from . import create_app

    return create_app().extensions["counter"]


def _site(counter, site_id: str):
    """Return a configured site or stop with a clear message."""
    if site_id not in counter.sites:
        raise SystemExit(f"error: unknown site {site_id!r} (configured: {', '.join(counter.sites)})")
    return counter.sites[site_id]


def _date(text: str) -> date:
    """Parse YYYY-MM-DD for argparse."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date as YYYY-MM-DD: {text!r}") from None


def cmd_stats(counter, args) -> int:
    """Print a site's stats object."""
    print(json.dumps(counter.stats(_site(counter, args.site)), ensure_ascii=False, indent=2))
    return 0


def cmd_online(counter, args) -> int:
    """Print how many are online on each site, once or every few seconds."""
    while True:
        line = "  ".join(f"{row['site']}: {row['online']}" for row in counter.overview())
        print(time.strftime("%H:%M:%S"), line, flush=True)
        if not args.watch:
            return 0
        time.sleep(args.interval)


def cmd_set_total(counter, args) -> int:
    """Set a site's all-time total."""
    if not 0 <= args.total <= MAX_COUNT:
        raise SystemExit(f"error: the total must be a non-negative whole number up to {MAX_COUNT}")
    old = counter.set_total(_site(counter, args.site), args.total)
    print(f"{args.site}: total {old} -> {args.total}")
    return 0


def cmd_import_daily(counter, args) -> int:
    """Set past days from a CSV with the daily call's columns."""
    site = _site(counter, args.site)
    today = counter.today(site)
    rows = []
    with open(args.file, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or not {"date", "visits", "pageviews"} <= set(reader.fieldnames):
            raise SystemExit("error: the CSV needs a header with at least date,visits,pageviews")
        for n, row in enumerate(reader, start=2):
            try:
                day = date.fromisoformat(row["date"])
                visits, pageviews = int(row["visits"]), int(row["pageviews"])
            except (TypeError, ValueError):
                raise SystemExit(f"error: {args.file}:{n}: bad date or number") from None
            if visits < 0 or pageviews < 0 or day > today:
                raise SystemExit(f"error: {args.file}:{n}: negative number or future date")
            rows.append((day, visits, pageviews))
    for day, visits, pageviews in rows:
        counter.set_day(site, day, visits, pageviews)
    print(f"{args.site}: imported {len(rows)} days")
    return 0


def cmd_export_daily(counter, args) -> int:
    """Write daily history as CSV to standard output."""
    try:
        days = counter.daily(_site(counter, args.site), args.start, args.end)
    except BadRange as exc:
        raise SystemExit(f"error: {exc}") from None
    write_daily_csv(days, sys.stdout)
    return 0


def parser() -> argparse.ArgumentParser:
    """Describe the commands."""
    p = argparse.ArgumentParser(prog="python -m counter", description="Visit counter tools.")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("stats", help="print a site's stats object")
    s.add_argument("site")
    s.set_defaults(run=cmd_stats)
    s = sub.add_parser("online", help="print online visitors per site")
    s.add_argument("--watch", action="store_true", help="repeat until interrupted")
    s.add_argument("--interval", type=float, default=5.0, help="seconds between lines")
    s.set_defaults(run=cmd_online)
    s = sub.add_parser("set-total", help="set a site's all-time total")
    s.add_argument("site")
    s.add_argument("total", type=int)
    s.set_defaults(run=cmd_set_total)
    s = sub.add_parser("import-daily", help="set past days from a CSV")
    s.add_argument("site")
    s.add_argument("file")
    s.set_defaults(run=cmd_import_daily)
    s = sub.add_parser("export-daily", help="print daily history as CSV")
    s.add_argument("site")
    s.add_argument("--from", dest="start", type=_date)
    s.add_argument("--to", dest="end", type=_date)
    s.set_defaults(run=cmd_export_daily)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run one command; exit 2 on bad usage or config, 1 when the store fails."""
    args = parser().parse_args(argv)
    try:
        return args.run(_counter(), args)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except StoreUnavailable as exc:
        print(f"error: the counter store is unavailable: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
