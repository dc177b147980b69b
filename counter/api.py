"""The JSON API under /api/v1."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import logging
import re
import threading
import time
from datetime import date

from flask import Blueprint, Response, current_app, jsonify, request

from . import privacy
from .config import SITE_ID, Site
from .errors import ApiError
from .formats import day_row, write_daily_csv
from .service import BadRange, Counter, RateLimited

bp = Blueprint("api", __name__, url_prefix="/api/v1")
log = logging.getLogger("counter.admin")

ADMIN_STRIKES = 10  # wrong admin tokens per client and minute before 429
MAX_BODY = 4096
MAX_PATH = 512
MAX_COUNT = 2**53 - 1  # the largest whole number every JSON reader keeps exact
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
BODY_TYPES = ("", "application/json", "text/plain")


def counter() -> Counter:
    """Return the app's counter."""
    return current_app.extensions["counter"]


def find_site(site_id: str) -> Site:
    """Return a configured site, or refuse the request."""
    if not SITE_ID.fullmatch(site_id):
        raise ApiError(400, "invalid_site", "A site id is 1-63 characters of a-z, 0-9 and '-'.")
    site = counter().sites.get(site_id)
    if site is None:
        raise ApiError(404, "unknown_site", f"There is no site {site_id!r}.")
    return site


def _no_duplicates(pairs: list) -> dict:
    """Build a JSON object, refusing a key given twice."""
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise ValueError("duplicate key")
    return dict(pairs)


def json_body(required: bool = False) -> dict:
    """Parse a small JSON object body (JSON or text/plain from sendBeacon)."""
    if (request.content_length or 0) > MAX_BODY:
        raise ApiError(413, "payload_too_large", f"The body is over {MAX_BODY} bytes.")
    if request.mimetype not in BODY_TYPES:
        raise ApiError(415, "unsupported_media_type", "Send JSON as application/json or text/plain.")
    raw = request.stream.read(MAX_BODY + 1)
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


def check_path(body: dict) -> None:
    """Validate the optional page path; it is not stored."""
    path = body.get("path")
    if path is None:
        return
    if not isinstance(path, str) or len(path) > MAX_PATH or any(ord(c) < 32 for c in path):
        raise ApiError(400, "invalid_path", f"`path` must be a string of at most {MAX_PATH} "
                                            "characters without control characters.")


def check_origin(site: Site) -> None:
    """Refuse a browser write from a page outside the site's origins."""
    origin = request.headers.get("Origin")
    if origin and site.origins and origin.rstrip("/") not in site.origins:
        raise ApiError(403, "origin_not_allowed", "This page's origin may not write to this site.")


def whole_number(body: dict, name: str, required: bool = True) -> int | None:
    """Return a non-negative integer field."""
    value = body.get(name)
    if value is None and not required:
        return None
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


class Strikes:
    """Wrong admin tokens per client address in the current minute, in this process.

    Kept in memory, not in Redis, so that a refused request writes nothing.
    """

    def __init__(self, limit: int = ADMIN_STRIKES) -> None:
        """Start a clean minute."""
        self.limit = limit
        self.minute = -1
        self.counts: dict[str, int] = {}
        self.lock = threading.Lock()

    def _roll(self) -> None:
        """Forget the previous minute."""
        minute = int(time.monotonic() // 60)
        if minute != self.minute:
            self.minute, self.counts = minute, {}

    def blocked(self, who: str) -> bool:
        """Tell whether `who` used up its wrong tokens for this minute."""
        with self.lock:
            self._roll()
            return self.counts.get(who, 0) >= self.limit

    def add(self, who: str) -> None:
        """Remember one wrong token from `who`."""
        with self.lock:
            self._roll()
            self.counts[who] = self.counts.get(who, 0) + 1


def require_admin() -> str:
    """Check the bearer token in constant time; return who asked, for the log."""
    token = current_app.config["ADMIN_TOKEN"]
    if not token:
        raise ApiError(403, "admin_disabled", "Admin calls are off: no admin token is configured.")
    who = privacy.client_group(request.remote_addr or "")
    strikes: Strikes = current_app.extensions["admin_strikes"]
    if strikes.blocked(who):
        raise ApiError(429, "rate_limited", "Too many wrong admin tokens from this address; wait a minute.",
                       {"Retry-After": "60"})
    given = request.headers.get("Authorization", "")
    scheme, _, value = given.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip().encode(), token.encode()):
        strikes.add(who)
        log.warning("admin refused: wrong or missing token from %s", _pseudonym(who))
        raise ApiError(401, "unauthorized", "A valid `Authorization: Bearer <token>` is required.",
                       {"WWW-Authenticate": 'Bearer realm="counter"'})
    return _pseudonym(who)


def _pseudonym(who: str) -> str:
    """Name a client in the admin log by a keyed hash, keyed by the admin token (a server secret)."""
    key = hashlib.sha256(b"counter admin log\0" + current_app.config["ADMIN_TOKEN"].encode()).digest()
    return privacy.pseudonym(key, who)


def init_app(app) -> None:
    """Register the API and its per-process admin guard."""
    app.extensions["admin_strikes"] = Strikes()
    app.register_blueprint(bp)


def client() -> tuple[str, str]:
    """Return the client's address (as trusted proxies tell it) and User-Agent."""
    return request.remote_addr or "", request.headers.get("User-Agent", "")


def rate_limited(exc: RateLimited) -> ApiError:
    """Turn a limit into the contract's 429."""
    what = "new visits" if exc.new_visits else "requests"
    return ApiError(429, "rate_limited", f"Too many {what} from this address; try again later.",
                    {"Retry-After": str(exc.retry_after)})


@bp.post("/sites/<site_id>/hits")
def hits(site_id: str):
    """Record a page view."""
    site = find_site(site_id)
    check_origin(site)
    body = json_body()
    visitor = text_field(body, "visitor", privacy.VISITOR_ID, "16-64 characters of A-Z a-z 0-9 _ -")
    hit = text_field(body, "hit", privacy.HIT_ID, "8-64 characters of A-Z a-z 0-9 _ -")
    check_path(body)
    ip, agent = client()
    try:
        return jsonify(counter().hit(site, visitor, hit, ip, agent))
    except RateLimited as exc:
        raise rate_limited(exc) from None


@bp.post("/sites/<site_id>/heartbeat")
def heartbeat(site_id: str):
    """Keep a visitor online."""
    site = find_site(site_id)
    check_origin(site)
    body = json_body()
    visitor = text_field(body, "visitor", privacy.VISITOR_ID, "16-64 characters of A-Z a-z 0-9 _ -")
    ip, agent = client()
    try:
        return jsonify(counter().heartbeat(site, visitor, ip, agent))
    except RateLimited as exc:
        raise rate_limited(exc) from None


@bp.get("/sites/<site_id>/stats")
def stats(site_id: str):
    """Return the stats object, with an ETag over the numbers."""
    site = find_site(site_id)
    body = counter().stats(site)
    # The numbers' repr is stable (fixed key order) and far cheaper than a second JSON dump.
    numbers = repr([v for k, v in body.items() if k not in ("as_of", "stale")])
    etag = hashlib.blake2b(numbers.encode(), digest_size=10).hexdigest()
    response = Response(status=304) if request.if_none_match.contains(etag) else jsonify(body)
    response.set_etag(etag)
    response.headers["Cache-Control"] = "public, max-age=5"
    return response


@bp.get("/sites/<site_id>/daily")
def daily(site_id: str):
    """Return daily history as JSON or CSV."""
    site = find_site(site_id)
    start = parse_date(request.args.get("from"), "from")
    end = parse_date(request.args.get("to"), "to")
    fmt = request.args.get("format")
    if fmt not in (None, "json", "csv"):
        raise ApiError(400, "invalid_format", "`format` must be json or csv.")
    try:
        rows = counter().daily(site, start, end)
    except BadRange as exc:
        raise ApiError(400, exc.code, str(exc)) from None
    wants_csv = fmt == "csv" or (fmt is None and request.accept_mimetypes.best_match(
        ["application/json", "text/csv"]) == "text/csv" and "text/csv" in request.accept_mimetypes)
    if wants_csv:
        out = io.StringIO()
        write_daily_csv(rows, out)
        return Response(out.getvalue(), mimetype="text/csv", headers={
            "Content-Disposition": f'attachment; filename="{site.id}-daily.csv"'})
    return jsonify(site=site.id, timezone=site.timezone, days=[day_row(r) for r in rows])


@bp.get("/sites/<site_id>/online")
def online(site_id: str):
    """Return who is online and page views per minute over the last hour."""
    return jsonify(counter().online(find_site(site_id)))


@bp.get("/sites")
def sites():
    """List every site with its live numbers."""
    return jsonify(sites=counter().overview())


@bp.put("/sites/<site_id>/total")
def set_total(site_id: str):
    """Set the all-time total (admin)."""
    who = require_admin()
    site = find_site(site_id)
    total = whole_number(json_body(required=True), "total")
    old = counter().set_total(site, total)
    log.info("admin %s set total site=%s old=%d new=%d", who, site.id, old, total)
    return jsonify(counter().stats(site))


@bp.put("/sites/<site_id>/daily/<day>")
def set_day(site_id: str, day: str):
    """Set one past day's visits and page views (admin)."""
    who = require_admin()
    site = find_site(site_id)
    when = parse_date(day, "date")
    if when > counter().today(site):
        raise ApiError(400, "invalid_date", "Only today or a past day can be set.")
    body = json_body(required=True)
    unknown = set(body) - {"visits", "pageviews"}
    if unknown or not body:
        raise ApiError(400, "invalid_body", "Send `visits` and/or `pageviews`, nothing else.")
    visits = whole_number(body, "visits", required=False)
    pageviews = whole_number(body, "pageviews", required=False)
    old, row = counter().set_day(site, when, visits, pageviews)
    log.info("admin %s set day site=%s date=%s old=%s new=%s", who, site.id, when, old,
             (row.visits, row.pageviews))
    return jsonify(day_row(row))
