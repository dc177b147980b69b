"""The JSON API under /api/v1."""

from __future__ import annotations

import hashlib
import io
import re

from flask import Blueprint, Response, jsonify, request

from . import auth, privacy
from .auth import admin_required, log
from .errors import ApiError
from .formats import day_row, write_daily_csv, write_pages_csv
from .service import Counter
from .web import (
    LEAN_FAILED,
    check_origin,
    check_path,
    client_of,
    counter,
    counting_request,
    find_site,
    json_body,
    parse_date,
    text_field,
    whole_number,
)

bp = Blueprint("api", __name__, url_prefix="/api/v1")
MAX_PAGES = 1000  # `limit` of the pages call


def init_app(app) -> None:
    """Register the API and its per-process admin guard."""
    auth.init_app(app)
    app.register_blueprint(bp)


def record_hit(counter: Counter, site_id: str, environ: dict) -> dict:
    """Check and record a page view described by a WSGI environ; return the answer's body."""
    site, body, visitor = counting_request(site_id, environ, counter.sites)
    hit = text_field(body, "hit", privacy.HIT_ID, "8-64 characters of A-Z a-z 0-9 _ -")
    path = check_path(body.get("path"))
    return counter.hit(site, visitor, hit, *client_of(environ), path)


def record_heartbeat(counter: Counter, site_id: str, environ: dict) -> dict:
    """Check and record a heartbeat described by a WSGI environ; return the answer's body."""
    site, body, visitor = counting_request(site_id, environ, counter.sites)
    return counter.heartbeat(site, visitor, *client_of(environ), check_path(body.get("path")))


def _write(record, site_id: str):
    """Answer a hit or heartbeat, or raise again what refused it on the lean path."""
    failed = request.environ.pop(LEAN_FAILED, None)
    if failed is not None:
        raise failed
    return jsonify(record(counter(), site_id, request.environ))


@bp.post("/sites/<site_id>/hits")
def hits(site_id: str):
    """Record a page view (most are answered before Flask, by counter/lean.py)."""
    return _write(record_hit, site_id)


@bp.post("/sites/<site_id>/heartbeat")
def heartbeat(site_id: str):
    """Keep a visitor online (most are answered before Flask, by counter/lean.py)."""
    return _write(record_heartbeat, site_id)


_ETAGS: dict[str, tuple[dict, str]] = {}  # per site: the last stats object answered and its ETag


@bp.get("/sites/<site_id>/stats")
def stats(site_id: str):
    """Return the stats object, with an ETag over the numbers."""
    site = find_site(site_id)
    body = counter().stats(site)
    last = _ETAGS.get(site.id)
    if last is not None and last[0] is body:  # the same cached stats object: the same tag
        etag = last[1]
    else:
        # The numbers' repr is stable (fixed key order) and far cheaper than a second JSON dump.
        # `stale` is part of it: a stale answer kept by a browser must not be revalidated as fresh.
        numbers = repr([v for k, v in body.items() if k != "as_of"])
        etag = hashlib.blake2b(numbers.encode(), digest_size=10).hexdigest()
        _ETAGS[site.id] = (body, etag)
    # If-None-Match compares weakly (RFC 9110): behind gzip the browser sends the tag back as W/"...".
    response = Response(status=304) if request.if_none_match.contains_weak(etag) else jsonify(body)
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
    rows = counter().daily(site, start, end)
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


@bp.get("/sites/<site_id>/pages")
def pages(site_id: str):
    """Return the most viewed pages of a period as JSON or CSV."""
    site = find_site(site_id)
    raw = request.args.get("limit", "50")
    # ASCII digits only: str.isdigit() also takes "²" or "٣".
    if not re.fullmatch(r"[0-9]{1,9}", raw) or not 1 <= int(raw) <= MAX_PAGES:
        raise ApiError(400, "invalid_limit", f"`limit` must be a whole number from 1 to {MAX_PAGES}.")
    fmt = request.args.get("format")
    if fmt not in (None, "json", "csv"):
        raise ApiError(400, "invalid_format", "`format` must be json or csv.")
    body = counter().pages(site, request.args.get("period", "all"), int(raw))
    if fmt == "csv":
        out = io.StringIO()
        write_pages_csv(body["pages"], out)
        return Response(out.getvalue(), mimetype="text/csv", headers={
            "Content-Disposition": f'attachment; filename="{site.id}-pages-{body["period"]}.csv"'})
    return jsonify(body)


@bp.get("/sites/<site_id>/pages/views")
def page_views(site_id: str):
    """Return one page's all-time and today's views."""
    site = find_site(site_id)
    path = check_path(request.args.get("path"))
    # An empty path is normalised as a hit's is, to "/"; only a missing one is refused.
    if path is None:
        raise ApiError(400, "invalid_path", "Give the page as `?path=/...`.")
    return jsonify(counter().page_views(site, path))


@bp.get("/sites")
def sites():
    """List every site with its live numbers."""
    return jsonify(sites=counter().overview(private=auth.holds_admin_token()))


@bp.put("/sites/<site_id>/total")
@admin_required
def set_total(site_id: str, who: str):
    """Set the all-time total (admin)."""
    site = find_site(site_id)
    check_origin(site, request.headers.get("Origin"))
    total = whole_number(json_body(required=True), "total")
    old = counter().set_total(site, total)
    log.info("admin %s set total site=%s old=%d new=%d", who, site.id, old, total)
    return jsonify(counter().stats(site))


@bp.put("/sites/<site_id>/daily/<day>")
@admin_required
def set_day(site_id: str, day: str, who: str):
    """Set one past day's visits and page views (admin)."""
    site = find_site(site_id)
    check_origin(site, request.headers.get("Origin"))
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
