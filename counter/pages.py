"""Pages: the contract's normalised form of a hit's `path`, and the periods of the pages call."""

from __future__ import annotations

import re
from datetime import date

MAX_PATH = 512
OTHER = "(other)"  # never a page: every page starts with "/"
DAY_PAGES_DAYS = 35  # a day's table answers for the day itself and the 34 after it

_ESCAPES = re.compile(r"(?:%[0-9A-Fa-f]{2})+")
_SLASHES = re.compile(r"/{2,}")
_MONTH = re.compile(r"^\d{4}-\d{2}$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Decoding these would change the path's structure or make normalising twice differ from once.
_KEEP_ENCODED = frozenset("/?#%")


def _decode_run(run: str) -> str:
    """Decode a run of %XX escapes that spell UTF-8 text, keeping the rest encoded in upper case."""
    raw = bytes.fromhex(run.replace("%", ""))
    out = []
    for ch in raw.decode("utf-8", errors="surrogateescape"):
        code = ord(ch)
        if 0xDC80 <= code <= 0xDCFF:  # a byte that is not UTF-8
            out.append(f"%{code - 0xDC00:02X}")
        elif ch in _KEEP_ENCODED or code < 0x20 or 0x7F <= code <= 0x9F:
            out.append("".join(f"%{b:02X}" for b in ch.encode()))
        else:
            out.append(ch)
    return "".join(out)


def normalise(path: str) -> str:
    """Return the page of a hit's `path`: the contract's normal form, at most 512 characters.

    Query and fragment are dropped, a leading "/" added, repeated "/" collapsed and a
    trailing "/" dropped; case is kept. Percent-escapes of UTF-8 text are decoded, so
    that `/tin-t%E1%BB%A9c` (what `location.pathname` gives) and `/tin-tức` are one page;
    escapes of "/", "?", "#", "%", control characters and bytes that are not UTF-8 stay
    encoded (in upper case). Longer results are cut to 512 characters.
    """
    for mark in "?#":
        path = path.split(mark, 1)[0]
    path = _ESCAPES.sub(lambda m: _decode_run(m.group()), path)
    path = _SLASHES.sub("/", "/" + path)
    if len(path) > MAX_PATH:
        # A cut may leave half an escape ("%E" or "%") at the end: drop it.
        path = re.sub(r"%[0-9A-F]?$", "", path[:MAX_PATH])
    if len(path) > 1:
        path = path.rstrip("/") or "/"
    return path


def period_kind(period: str, today: date) -> tuple[str, date | None]:
    """Classify a pages period: ("all"|"month"|"day", its first day); ValueError when bad.

    `today` is a day too. A day older than the kept 35 days, or in the future, is
    ("gone", day): nothing is kept for it.
    """
    if period == "all":
        return "all", None
    if period == "today":
        return "day", today
    if _MONTH.fullmatch(period):
        return "month", date.fromisoformat(period + "-01")
    if _DAY.fullmatch(period):
        day = date.fromisoformat(period)
        return ("day" if 0 <= (today - day).days < DAY_PAGES_DAYS else "gone"), day
    raise ValueError(period)
