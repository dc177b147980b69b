"""Helpers every blueprint shares: the app's counter, the site of a URL, the
client, and the parsing and validation of bodies, fields and dates."""

from __future__ import annotations

import json
import re
from datetime import date

from flask import current_app, request
from werkzeug.http import parse_options_header
from werkzeug.wsgi import get_content_length, get_input_stream

from . import privacy
from .config import SITE_ID, Site
from .errors import ApiError
from .service import MAX_COUNT, Counter

MAX_BODY = 4096
MAX_PATH = 512
NOT_TEXT = re.compile("[\x00-\x1f\ud800-\udfff]")  # control characters and lone surrogates
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
BODY_TYPES = ("", "application/json", "text/plain")
# Where the lean path (counter/lean.py) leaves what refused a write it tried
# first, for the Flask view to raise again: one place turns errors into answers.
LEAN_FAILED = "counter.lean_failed"
# The route (its rule) and site id of an answer the lean path gave, for counter/front.py.
LEAN_ROUTE = "counter.lean_route"


def counter() -> Counter:
    """Return the app's counter."""
    return current_app.extensions["counter"]


def find_site(site_id: str, sites: dict[str, Site] | None = None) -> Site:
    """Return a configured site (of the app's counter unless `sites` is given), or refuse the request."""
    if not SITE_ID.fullmatch(site_id):
        raise ApiError(400, "invalid_site", "A site id is 1-63 characters of a-z, 0-9 and '-'.")
    site = (counter().sites if sites is None else sites).get(site_id)
    if site is None:
        raise ApiError(404, "unknown_site", f"There is no site {site_id!r}.")
    return site


def _no_duplicates(pairs: list) -> dict:
    """Build a JSON object, refusing a key given twice."""
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise ValueError("duplicate key")
    return dict(pairs)


def counting_request(site_id: str, environ: dict, sites: dict[str, Site]) -> tuple[Site, dict, str | None]:
    """Start a hit or a heartbeat from its WSGI environ: the site, origin check, body and visitor id.

    It reads only the environ, so that Flask's views and the lean path for
    hits and heartbeats (counter/lean.py) share it.
    """
    site = find_site(site_id, sites)
    check_origin(site, environ.get("HTTP_ORIGIN"))
    mimetype = parse_options_header(environ.get("CONTENT_TYPE", ""))[0].lower()
    body = read_json(get_content_length(environ), mimetype, lambda: get_input_stream(environ))
    visitor = text_field(body, "visitor", privacy.VISITOR_ID, "16-64 characters of A-Z a-z 0-9 _ -")
    return site, body, visitor


def json_body(required: bool = False) -> dict:
    """Parse the request's small JSON object body (JSON or text/plain from sendBeacon)."""
    return read_json(request.content_length, request.mimetype, lambda: request.stream, required)


def read_json(length: int | None, mimetype: str, stream, required: bool = False) -> dict:
    """Parse a small JSON object body of `length` and `mimetype` from `stream()`."""
    if (length or 0) > MAX_BODY:
        raise ApiError(413, "payload_too_large", f"The body is over {MAX_BODY} bytes.")
    if mimetype not in BODY_TYPES:
        raise ApiError(415, "unsupported_media_type", "Send JSON as application/json or text/plain.")
    raw = stream().read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        raise ApiError(413, "payload_too_large", f"The body is over {MAX_BODY} bytes.")
    if not raw.strip():
        if required:
            raise ApiError(400, "invalid_json", "The body must be a JSON object.")
        return {}
    try:
        body = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except (ValueError, RecursionError):
        raise ApiError(400, "invalid_json", "The body is not valid JSON (UTF-8, no repeated keys).") from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_json", "The body must be a JSON object.")
    return body


def text_field(body: dict, name: str, pattern: re.Pattern, what: str) -> str | None:
    """Return an optional string field that must match `pattern`."""
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise ApiError(400, f"invalid_{name}", f"`{name}` must be {what}.")
    return value


def check_path(path) -> str | None:
    """Return the optional page path if it is a string of at most 512 characters of text."""
    if path is None:
        return None
    if not isinstance(path, str) or len(path) > MAX_PATH or NOT_TEXT.search(path):
        raise ApiError(400, "invalid_path", f"`path` must be a string of at most {MAX_PATH} "
                                            "characters without control characters.")
    return path


def check_origin(site: Site, origin: str | None) -> None:
    """Refuse a browser write from a page (its `Origin`) outside the site's origins."""
    if not site.allows(origin):
        raise ApiError(403, "origin_not_allowed", "This page's origin may not write to this site.")


def whole_number(body: dict, name: str, required: bool = True) -> int | None:
    """Return a non-negative integer field."""
    value = body.get(name)
    if value is None and not required:
        return None
    if isinstance(value, float) and value.is_integer() and abs(value) <= MAX_COUNT:
        value = int(value)  # JSON does not tell 42.0 from 42, and JSON Schema's integer accepts both
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNT:
        raise ApiError(400, f"invalid_{name}", f"`{name}` must be a whole number from 0 to {MAX_COUNT}.")
    return value


def parse_date(text: str | None, name: str) -> date | None:
    """Parse YYYY-MM-DD, or refuse it."""
    if text is None:
        return None
    try:
        if DATE.fullmatch(text):
            return date.fromisoformat(text)
    except ValueError:
        pass
    raise ApiError(400, "invalid_date", f"`{name}` must be a date as YYYY-MM-DD.")


def client() -> tuple[str, str]:
    """Return the request's client address (as trusted proxies tell it) and User-Agent."""
    return client_of(request.environ)


def client_of(environ: dict) -> tuple[str, str]:
    """Return the client address (as trusted proxies tell it) and User-Agent of a WSGI environ."""
    return environ.get("REMOTE_ADDR") or "", environ.get("HTTP_USER_AGENT", "")
