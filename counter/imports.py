"""Daily history from the files portals have: parsing only, no store.

Three formats: `csv` (the daily call's columns, as a spreadsheet saves them),
`vinaora` (a dump of Vinaora Visitors Counter's log table) and
`wp-statistics` (an export of WP Statistics' `visit` table). Every error names
the line of the file it is about.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from .clock import local_date
from .formats import DAILY_COLUMNS
from .service import MAX_COUNT

FORMATS = ("csv", "vinaora", "wp-statistics")
SEPARATORS = (",", ";", "\t")
# Counts are whole, so a dot, comma or space before exactly three digits groups thousands.
# ASCII digits only: Python's \d also takes "٣" or "३".
PLAIN = re.compile(r"\d+", re.ASCII)
GROUPED = re.compile(r"[1-9]\d{0,2}(?P<sep>[.,' \u00a0\u202f])\d{3}(?:(?P=sep)\d{3})*", re.ASCII)
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
WP_STATISTICS_VISIT = ("id", "last_visit", "last_counter", "visit")  # the table's columns, in order
SLASHED = re.compile(r"\d{1,2}[/.-]\d{1,2}[/.-]\d{4}")


class BadInput(ValueError):
    """A file that cannot be imported; `line` is the 1-based line it is about."""

    def __init__(self, line: int, message: str) -> None:
        """Keep the line number and the sentence."""
        super().__init__(f"line {line}: {message}")
        self.line = line
        self.reason = message


@dataclass(frozen=True)
class Row:
    """One day to set; None leaves that value as it is."""

    date: date
    visits: int | None
    pageviews: int | None
    line: int


@dataclass
class Parsed:
    """The days of a file, in date order, and what of it is not imported."""

    rows: list[Row]
    ignored: list[str] = field(default_factory=list)
    header: int = 1  # the header's line; the file's first day is expected after it

    @property
    def visits(self) -> int:
        """Return the sum of the imported visits."""
        return sum(r.visits or 0 for r in self.rows)


def decode(raw: bytes) -> str:
    """Decode UTF-8 with or without a byte-order mark, naming the first bad line."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise BadInput(line, "not UTF-8 text (save the file as \"CSV UTF-8\")") from None


def whole_number(text: str, line: int, column: str) -> int:
    """Read a count: plain digits or thousands grouped by one of `.` `,` space `'`."""
    value = text.strip()
    if PLAIN.fullmatch(value):
        number = int(value)
    elif GROUPED.fullmatch(value):
        number = int(re.sub(r"\D", "", value))
    elif value.startswith("-") and (PLAIN.fullmatch(value[1:]) or GROUPED.fullmatch(value[1:])):
        raise BadInput(line, f"{column} is negative: {text!r}")
    else:
        raise BadInput(line, f"{column} is not a whole number: {text!r}")
    if number > MAX_COUNT:
        raise BadInput(line, f"{column} is above {MAX_COUNT}: {text!r}")
    return number


def read_date(text: str, line: int, column: str, date_format: str | None) -> date:
    """Read an ISO date, or one in `date_format` (strptime codes)."""
    value = text.strip()
    try:
        if date_format:
            return datetime.strptime(value, date_format).date()
        if not ISO_DATE.fullmatch(value):  # fromisoformat also takes 20261125 and 2026-W48-3
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        if date_format:
            raise BadInput(line, f"{column} {text!r} does not match --date-format {date_format}") from None
        hint = " (for this one use --date-format %d/%m/%Y)" if SLASHED.fullmatch(value) else ""
        raise BadInput(line, f"{column} {text!r} is not a date as YYYY-MM-DD{hint}") from None


def _records(text: str) -> Iterable[tuple[int, list[str]]]:
    """Yield (line number, fields) of each non-blank record, the header first.

    The separator is the one of `,` `;` tab that the header line uses.
    """
    lines = text.splitlines(keepends=True)
    first = next((i for i, ln in enumerate(lines) if ln.strip()), None)
    if first is None:
        raise BadInput(1, "the file is empty")
    header = lines[first]
    counts = {sep: header.count(sep) for sep in SEPARATORS}
    sep = max(counts, key=counts.get)
    if counts[sep] == 0:
        sep = ","  # a one-column header; the header check below names what is missing
    elif sum(c == counts[sep] for c in counts.values()) > 1:
        raise BadInput(first + 1, "the header mixes separators; use one of ',' ';' or tab")
    reader = csv.reader(lines[first:], delimiter=sep, strict=True)
    start = first  # csv counts lines from where it starts reading
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise BadInput(start + reader.line_num, f"not readable as CSV ({exc})") from None
        if fields and any(f.strip() for f in fields):
            yield start + reader.line_num, fields


def _header(fields: list[str], line: int, required: tuple[str, ...], known: tuple[str, ...] | None,
            what: str) -> dict[str, int]:
    """Map column names (trimmed, any case) to positions; check the required ones.

    Empty names at the end (a spreadsheet's trailing separators) are dropped.
    """
    names = [f.strip().strip("`").lower() for f in fields]
    while names and not names[-1]:
        names.pop()
    if "" in names:
        raise BadInput(line, f"column {names.index('') + 1} has no name")
    missing = [c for c in required if c not in names]
    if missing:
        raise BadInput(line, f"the header must name {what}; missing: {', '.join(missing)} "
                             f"(found: {', '.join(names)})")
    if known is not None:
        unknown = [n for n in names if n not in known]
        if unknown:
            raise BadInput(line, f"unknown column {unknown[0]!r}; the columns are {', '.join(known)}")
    seen = [n for i, n in enumerate(names) if n in names[:i]]
    if seen:
        raise BadInput(line, f"column {seen[0]!r} appears twice")
    return {n: i for i, n in enumerate(names)}


def _cells(fields: list[str], line: int, width: int) -> list[str]:
    """Check a record has the header's number of fields, ignoring empty ones past the last."""
    if len(fields) > width and not "".join(fields[width:]).strip():
        fields = fields[:width]
    if len(fields) != width:
        raise BadInput(line, f"{len(fields)} fields where the header has {width} (a number "
                             "grouped with ',' must be quoted, or the file saved with ';')")
    return fields


def _by_date(rows: list[Row]) -> list[Row]:
    """Sort rows by date, refusing a date that appears twice."""
    first: dict[date, int] = {}
    for row in rows:
        if row.date in first:
            raise BadInput(row.line, f"{row.date} is already on line {first[row.date]}")
        first[row.date] = row.line
    return sorted(rows, key=lambda r: r.date)


def parse_csv(text: str, date_format: str | None = None) -> Parsed:
    """Read `date` and any of the daily call's other columns; an empty cell keeps that value."""
    records = _records(text)
    line, fields = next(records)
    header = line
    cols = _header(fields, line, ("date",), DAILY_COLUMNS, "date and any of the daily call's columns")
    if not {"visits", "pageviews"} & set(cols):
        raise BadInput(line, "nothing to import: the header names neither visits nor pageviews")
    rows = []
    for line, fields in records:
        cells = _cells(fields, line, len(cols))
        day = read_date(cells[cols["date"]], line, "date", date_format)
        values = {}
        for name in DAILY_COLUMNS[1:]:
            if name in cols and cells[cols[name]].strip():
                values[name] = whole_number(cells[cols[name]], line, name)
        rows.append(Row(day, values.get("visits"), values.get("pageviews"), line))
    ignored = [c for c in ("unique_visitors", "peak_online") if c in cols]
    return Parsed(_by_date(rows), ignored, header)


def parse_vinaora(text: str, zone: ZoneInfo) -> Parsed:
    """Sum a Vinaora log dump into the site's local days; visits are `visits - bots`.

    A log row's `time` ends the period it counts (Vinaora writes each hour's
    visits at the next hour), so the row belongs to the day of `time - 1`:
    the same days Vinaora itself shows.
    """
    records = _records(text)
    line, fields = next(records)
    header = line
    cols = _header(fields, line, ("time", "visits", "bots"), None, "time, visits and bots")
    days: dict[date, list[int]] = {}  # date -> [visits, first line]
    for line, fields in records:
        cells = _cells(fields, line, len(cols))
        at = whole_number(cells[cols["time"]], line, "time")
        visits = whole_number(cells[cols["visits"]], line, "visits")
        bots = whole_number(cells[cols["bots"]], line, "bots")
        if bots > visits:
            raise BadInput(line, f"bots ({bots}) above visits ({visits})")
        try:
            day = local_date(max(at - 1, 0), zone)
        except (OverflowError, OSError, ValueError):
            raise BadInput(line, f"time {at} is not a Unix timestamp") from None
        total = days.setdefault(day, [0, line])
        total[0] += visits - bots
        if total[0] > MAX_COUNT:
            raise BadInput(line, f"the visits of {day} add up to more than {MAX_COUNT}")
    return Parsed([Row(d, v, None, n) for d, (v, n) in sorted(days.items())], header=header)


def parse_wp_statistics(text: str, date_format: str | None = None) -> Parsed:
    """Read WP Statistics' `visit` table: `last_counter` is the day, `visit` its visits.

    The plugin's own export writes the column names only when asked to;
    without them, the table's four columns are taken in its own order.
    """
    if text.lstrip().startswith("<"):
        raise BadInput(1, "this is the XML export; export the visit table as CSV or TSV")
    records = _records(text)
    line, fields = next(records)
    header = line
    names = {f.strip().strip("`").lower() for f in fields}
    first: list[tuple[int, list[str]]] = []
    if not names & {"last_counter", "visit"} and len(fields) == len(WP_STATISTICS_VISIT):
        cols = {name: i for i, name in enumerate(WP_STATISTICS_VISIT)}
        first = [(line, fields)]  # no header: the first line is a day already
    else:
        cols = _header(fields, line, ("last_counter", "visit"), None,
                       f"last_counter and visit, or be a row of {','.join(WP_STATISTICS_VISIT)}")
    rows = []
    for line, fields in [*first, *records]:
        cells = _cells(fields, line, len(cols))
        day = read_date(cells[cols["last_counter"]], line, "last_counter", date_format)
        rows.append(Row(day, whole_number(cells[cols["visit"]], line, "visit"), None, line))
    return Parsed(_by_date(rows), header=header)


def parse(fmt: str, text: str, zone: ZoneInfo, today: date, date_format: str | None = None) -> Parsed:
    """Parse a file in `fmt`; refuse days after `today` (the site's local date)."""
    if fmt == "csv":
        parsed = parse_csv(text, date_format)
    elif fmt == "vinaora":
        parsed = parse_vinaora(text, zone)
    elif fmt == "wp-statistics":
        parsed = parse_wp_statistics(text, date_format)
    else:
        raise ValueError(f"unknown format {fmt!r}")
    if not parsed.rows:
        raise BadInput(parsed.header + 1, "no days after the header")
    for row in parsed.rows:
        if row.date > today:
            raise BadInput(row.line, f"{row.date} is after today ({today}) in the site's time zone")
    return parsed
