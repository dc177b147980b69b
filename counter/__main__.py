"""The command line: python -m counter <command>.

Exit status: 0 done, 1 the store failed, 2 bad usage or bad input. Errors are
one line on standard error, never a traceback; a reader that closes the pipe
early (`| head`) ends the command quietly.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import sys
import time
from datetime import date, datetime

import click

from . import embedded, imports
from .clock import local_date
from .config import ConfigError, Site, from_env
from .formats import write_daily_csv
from .service import MAX_COUNT, BadRange
from .store import StoreUnavailable

BATCH = 1000  # days per pipeline when importing
# Seconds for a Redis reply. The service's 0.5 s keeps a page view fast; a
# batch tool waits longer rather than give up on a pipeline of 1,000 days.
REDIS_TIMEOUT = 5.0
_sleep = time.sleep  # the watch loop's pause, replaced in tests


class Failure(click.ClickException):
    """A command that cannot go on; the message is for a person."""

    def __init__(self, message: str, exit_code: int) -> None:
        """Keep the message and the exit status."""
        super().__init__(message)
        self.exit_code = exit_code


class Count(click.ParamType):
    """A whole number from 0 to 2**53 - 1, as the API takes."""

    name = "count"

    def convert(self, value, param, ctx) -> int:
        """Parse the number or fail with a usage error."""
        if isinstance(value, int):
            return value
        text = str(value).strip()
        if not re.fullmatch(r"-?[0-9]+", text):
            self.fail(f"{value!r} is not a whole number", param, ctx)
        number = int(text)
        if not 0 <= number <= MAX_COUNT:
            self.fail(f"{value} must be a non-negative whole number up to {MAX_COUNT}", param, ctx)
        return number


class Day(click.ParamType):
    """A calendar date as YYYY-MM-DD."""

    name = "date"

    def convert(self, value, param, ctx) -> date:
        """Parse the date or fail with a usage error."""
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(value)
        except ValueError:
            self.fail(f"{value!r} is not a date as YYYY-MM-DD", param, ctx)


def _settings() -> dict:
    """Read the settings from the environment, or fail with a usage error."""
    try:
        return from_env(dict(os.environ))
    except ConfigError as exc:
        raise Failure(str(exc), 2) from None


def _counter(cfg: dict | None = None):
    """Build the counter on the same store as the service, from the environment."""
    cfg = cfg or _settings()
    url = cfg["REDIS_URL"] or _embedded_url(cfg["DATA_DIR"])
    from . import create_app

    try:
        return create_app({"REDIS_URL": url, "REDIS_TIMEOUT": REDIS_TIMEOUT}).extensions["counter"]
    except ConfigError as exc:
        raise Failure(str(exc), 2) from None


def _embedded_url(data_dir: str) -> str:
    """Return the running service's embedded store, or say why there is none.

    Starting a store here would be a new, empty one whenever the data
    directory is not the service's, so the command line never starts one.
    """
    url = embedded.find(data_dir)
    if url:
        return url
    where = embedded.socket_path(data_dir).parent
    if shutil.which("redis-server") is None:
        raise Failure("REDIS_URL is unset and redis-server is not installed, so the service keeps its "
                      "counts in its own memory, out of this command's reach; set REDIS_URL", 1)
    raise Failure(
        f"REDIS_URL is unset and no embedded store is running in {where} "
        "(COUNTER_DATA_DIR, default ./var of the working directory). Start the service first "
        "(make run), set COUNTER_DATA_DIR to the data directory the service uses, or set REDIS_URL.", 1)


def _site(cfg: dict, site_id: str) -> Site:
    """Return a configured site or fail with a usage error (before any store is sought)."""
    sites = cfg["SITES"]
    if site_id not in sites:
        raise click.BadParameter(f"unknown site {site_id!r} (configured: {', '.join(sites)})",
                                 param_hint="'SITE'")
    return sites[site_id]


def _today(site: Site) -> date:
    """Return the site's local date by the clock the service's counter would read."""
    from . import SystemClock  # looked up now, so that tests can stand it still

    return local_date(SystemClock().now(), site.zone)


def _quiet_stdout() -> None:
    """Send what is left of standard output nowhere: the reader has gone."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def handles_errors(fn):
    """Turn store failures, bad input and a closed pipe into exit statuses without tracebacks."""

    @functools.wraps(fn)
    def run(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except StoreUnavailable as exc:
            raise Failure(f"the counter store is unavailable: {exc}", 1) from None
        except BadRange as exc:  # worded for the API's `from` and `to`; here they are options
            message = "--from must not be after --to." if exc.code == "invalid_range" else str(exc)
            raise Failure(message, 2) from None
        except BrokenPipeError:
            _quiet_stdout()
            return None

    return run


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
def cli() -> None:
    """Visit counter tools, on the store the service uses.

    Configured by the service's environment (REDIS_URL, COUNTER_SITES, ...).
    With REDIS_URL unset they use the embedded store of the running service in
    COUNTER_DATA_DIR (default ./var).

    Exit status: 0 done, 1 the store failed, 2 bad usage or bad input.
    """


@cli.command()
@click.argument("site")
@handles_errors
def stats(site: str) -> None:
    """Print a site's stats object as JSON.

    \b
    SITE  a configured site id, e.g. ninhbinh

    Example: python -m counter stats ninhbinh
    """
    cfg = _settings()
    where = _site(cfg, site)
    click.echo(json.dumps(_counter(cfg).stats(where), ensure_ascii=False, indent=2))


def _online_line(counter) -> str:
    """Return one line: each site's online count after its local time."""
    now = counter.clock.now()
    groups: dict[str, list[str]] = {}
    for site in counter.sites.values():
        s = counter.stats(site)
        stamp = datetime.fromtimestamp(now, site.zone).strftime("%H:%M:%S %Z")
        groups.setdefault(stamp, []).append(
            f"{site.id}: {s['online']}" + (" (stale)" if s["stale"] else ""))
    return " | ".join(f"{stamp}  " + "  ".join(parts) for stamp, parts in groups.items())


@cli.command()
@click.option("--watch", is_flag=True, help="Print a line every --interval seconds until Ctrl-C.")
@click.option("--interval", type=click.FloatRange(min=0.5, max=3600), default=None,
              metavar="SECONDS", help="Seconds between lines with --watch (default 5), e.g. --interval 10.")
@handles_errors
def online(watch: bool, interval: float | None) -> None:
    """Print how many are online on each site, at the site's local time.

    Each line starts with the time in the sites' time zone (sites in other
    zones get their own group on the line). Ctrl-C ends a watch.

    Example: python -m counter online --watch --interval 10
    """
    if interval is not None and not watch:
        raise click.UsageError("--interval goes with --watch")
    interval = 5.0 if interval is None else interval
    counter = _counter()
    try:
        while True:
            click.echo(_online_line(counter))
            sys.stdout.flush()
            if not watch:
                return
            _sleep(interval)
    except KeyboardInterrupt:
        return  # the way to end a watch: not a failure


@cli.command("set-total", context_settings={"ignore_unknown_options": True})
@click.argument("site")
@click.argument("n", type=Count(), metavar="N")
@handles_errors
def set_total(site: str, n: int) -> None:
    """Set a site's all-time total.

    \b
    SITE  a configured site id, e.g. ninhbinh
    N     the new total, a whole number from 0 to 9007199254740991 (2**53 - 1),
          e.g. 1672241

    Example: python -m counter set-total ninhbinh 1672241
    """
    cfg = _settings()
    where = _site(cfg, site)
    old = _counter(cfg).set_total(where, n)
    click.echo(f"{site}: total {old} -> {n}")


@cli.command("import-daily")
@click.argument("site")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@click.option("--format", "fmt", type=click.Choice(imports.FORMATS), default="csv", show_default=True,
              help="csv: a header with date and any of visits, pageviews, unique_visitors, "
                   "peak_online. vinaora: a dump of Vinaora Visitors Counter's log table "
                   "(time,visits,guests,members,bots). wp-statistics: an export of WP Statistics' "
                   "visit table (last_counter, visit). e.g. --format vinaora")
@click.option("--dry-run", is_flag=True,
              help="Print what would change (old -> new per day, the total) and write nothing.")
@click.option("--set-total", "set_total_too", is_flag=True,
              help="Also set the all-time total to the imported visits plus --initial.")
@click.option("--initial", type=Count(), default=None, metavar="N",
              help="With --set-total: a starting value to add, e.g. Vinaora's initial value --initial 1000.")
@click.option("--date-format", metavar="FMT",
              help="The date column's format in strptime codes when not YYYY-MM-DD, "
                   "e.g. --date-format %d/%m/%Y (csv and wp-statistics).")
@handles_errors
def import_daily(site: str, file: str, fmt: str, dry_run: bool, set_total_too: bool,
                 initial: int | None, date_format: str | None) -> None:
    """Set a site's past days from a file.

    \b
    SITE  a configured site id, e.g. ninhbinh
    FILE  the file to read, e.g. history.csv ('-' reads standard input)

    The whole file is checked before anything is written; a bad line stops
    the import and names its line number. An empty cell in a csv leaves
    that value as it is. Importing the same file again is harmless.

    \b
    Examples:
      python -m counter import-daily ninhbinh history.csv --dry-run
      python -m counter import-daily ninhbinh history.csv --date-format %d/%m/%Y
      python -m counter import-daily ninhbinh vvcounter_logs.tsv --format vinaora \\
          --set-total --initial 1000
      python -m counter import-daily ninhbinh wp_statistics_visit.csv --format wp-statistics
    """
    if initial is not None and not set_total_too:
        raise click.UsageError("--initial goes with --set-total")
    if date_format and fmt == "vinaora":
        raise click.UsageError("--date-format does not apply to --format vinaora "
                               "(its time is a Unix timestamp)")
    # The site and the whole file are checked before the store is sought: bad input is 2 either way.
    cfg = _settings()
    where = _site(cfg, site)
    with click.open_file(file, "rb") as fh:
        raw = fh.read()
    try:
        parsed = imports.parse(fmt, imports.decode(raw), where.zone, _today(where), date_format)
    except imports.BadInput as exc:
        name = "<stdin>" if file == "-" else click.format_filename(file)
        raise Failure(f"{name}:{exc.line}: {exc.reason} (line {exc.line}; nothing was imported)",
                      2) from None
    rows = parsed.rows
    total = parsed.visits + (initial or 0) if set_total_too else None
    if total is not None and total > MAX_COUNT:
        raise Failure(f"the total would be {total}, above {MAX_COUNT}", 2)
    if set_total_too and all(r.visits is None for r in rows):
        raise click.UsageError("--set-total needs visits in the file")
    for column in parsed.ignored:
        click.echo(f"note: column {column} is read but not imported (the store keeps it from live "
                   "counting only)", err=True)
    counter = _counter(cfg)
    if dry_run:
        _dry_run(counter, where, rows, total)
        return
    written = _write(counter, where, rows)
    click.echo(f"{site}: imported {written} days")
    if total is not None:
        old = counter.set_total(where, total)
        click.echo(f"{site}: total {old} -> {total}")


def _dry_run(counter, site: Site, rows: list[imports.Row], total: int | None) -> None:
    """Print each day that would change, old -> new, and the total."""
    click.echo(f"{site.id}: dry run, nothing is written")
    # Rows come sorted by date, and a file without days was refused.
    old = {d.date: d for d in counter.store.daily(site.id, rows[0].date, rows[-1].date,
                                                  counter.today(site))}
    changed = 0
    for row in rows:
        before = old[row.date]
        parts = []
        for name, new in (("visits", row.visits), ("pageviews", row.pageviews)):
            was = getattr(before, name)
            if new is not None and new != was:
                parts.append(f"{name} {was} -> {new}")
        if parts:
            changed += 1
            click.echo(f"{row.date}  " + "  ".join(parts))
    click.echo(f"{site.id}: {changed} of {len(rows)} days would change")
    current = counter.stats(site)["total"]
    if total is None:
        click.echo(f"{site.id}: total {current} (unchanged without --set-total)")
    else:
        click.echo(f"{site.id}: total {current} -> {total}")


def _write(counter, site: Site, rows: list[imports.Row]) -> int:
    """Write the rows in pipelined batches, with a progress bar on a terminal; return how many."""
    done = 0
    # On standard error, so that standard output stays the summary; hidden unless both are a terminal.
    hidden = not (sys.stderr.isatty() and sys.stdout.isatty())
    try:
        with click.progressbar(length=len(rows), label=f"{site.id}: importing", file=sys.stderr,
                               hidden=hidden) as bar:
            for start in range(0, len(rows), BATCH):
                chunk = rows[start:start + BATCH]
                counter.store.set_days(site.id, [(r.date, r.visits, r.pageviews) for r in chunk])
                done += len(chunk)
                bar.update(len(chunk))
    except KeyboardInterrupt:
        raise Failure(f"interrupted: {done} of {len(rows)} days were written; running the same "
                      "import again is safe", 130) from None
    except StoreUnavailable as exc:
        raise Failure(f"the counter store is unavailable ({exc}); {done} of {len(rows)} days were "
                      "written, and running the same import again is safe", 1) from None
    return done


@cli.command("export-daily")
@click.argument("site")
@click.option("--from", "start", type=Day(), metavar="D",
              help="First day, e.g. --from 2026-01-01 (default: 29 days before --to).")
@click.option("--to", "end", type=Day(), metavar="D",
              help="Last day, e.g. --to 2026-11-25 (default: today in the site's time zone).")
@handles_errors
def export_daily(site: str, start: date | None, end: date | None) -> None:
    """Write a site's daily history as CSV to standard output.

    The columns are the daily call's: date, visits, pageviews,
    unique_visitors, peak_online; at most 3,700 days at once.

    \b
    SITE  a configured site id, e.g. ninhbinh

    Example: python -m counter export-daily ninhbinh --from 2026-01-01 > ninhbinh.csv
    """
    cfg = _settings()
    where = _site(cfg, site)
    write_daily_csv(_counter(cfg).daily(where, start, end), sys.stdout)
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    """Run one command and return its exit status."""
    try:
        status = cli.main(argv, prog_name="python -m counter", standalone_mode=False)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.Abort:
        click.echo("interrupted", err=True)
        return 130
    return status if isinstance(status, int) else 0


if __name__ == "__main__":
    sys.exit(main())
