"""What portal visitors see: the widget script, the SVG badge and the iframe page."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from importlib import resources

from flask import Blueprint, Response, render_template, request

from .cors import page_origin
from .errors import ApiError
from .service import RateLimited
from .store import StoreUnavailable
from .web import check_path, client, counter, find_site

bp = Blueprint("widget", __name__)

LABELS = {
    "vi": {"title": "Thống kê truy cập", "total": "Tổng số", "online": "Trực tuyến",
           "today": "Hôm nay", "yesterday": "Hôm qua", "this_week": "Tuần này",
           "this_month": "Tháng này", "last_week": "Tuần trước", "last_month": "Tháng trước",
           "page": "Lượt xem trang"},
    "en": {"title": "Visitor statistics", "total": "Total", "online": "Online", "today": "Today",
           "yesterday": "Yesterday", "this_week": "This week", "this_month": "This month",
           "last_week": "Last week", "last_month": "Last month", "page": "Page views"},
}
FIELDS = ("total", "online", "today", "yesterday", "this_week", "this_month", "last_week",
          "last_month", "page")
DEFAULT_FIELDS = ("total", "online", "today")
NO_CACHE = "no-cache, no-store, must-revalidate, max-age=0"


def group(n: int | None, lang: str) -> str:
    """Write a count with the language's thousands separator, or a dash."""
    if n is None:
        return "—"
    return f"{n:,}".replace(",", "." if lang == "vi" else ",")


def block_options(site) -> tuple[str, list[str]]:
    """Read `lang` and `fields` from the query, with the site's defaults.

    With `path` (one page) the default is that page's views alone.
    """
    lang = request.args.get("lang", site.lang)
    if lang not in LABELS:
        raise ApiError(400, "invalid_lang", "`lang` must be vi or en.")
    path = check_path(request.args.get("path"))
    raw = request.args.get("fields")
    default = ("page",) if path is not None else DEFAULT_FIELDS
    fields = [f.strip() for f in raw.split(",") if f.strip()] if raw else list(default)
    if not fields or any(f not in FIELDS for f in fields):
        raise ApiError(400, "invalid_fields", f"`fields` takes some of {', '.join(FIELDS)}.")
    if "page" in fields and path is None:
        raise ApiError(400, "invalid_fields", "The field `page` needs the page as `path=/...`.")
    return lang, list(dict.fromkeys(fields))


def block_rows(stats: dict | None, lang: str, fields: list[str]) -> list[tuple[str, str]]:
    """Return (label, grouped number) for each field."""
    def value(f: str) -> int | None:
        """Return one field's number; `page` is the page's all-time views."""
        if not stats:
            return None
        return stats["page"]["pageviews"] if f == "page" else stats[f]

    return [(LABELS[lang][f], group(value(f), lang)) for f in fields]


def count_or_read(site) -> tuple[dict | None, int]:
    """Count a page view (of `path` when given) when `?count=1` from one of the site's pages, else read.

    Never fails the picture.
    """
    path = request.args.get("path")
    try:
        if request.args.get("count") == "1" and site.allows(page_origin()):
            ip, agent = client()
            try:
                return counter().hit(site, None, None, ip, agent, path), 200
            except RateLimited:
                pass
        if path is not None:
            stats, page = counter().stats_and_page(site, path)
            return dict(stats, page=page), 200
        return counter().stats(site), 200
    except StoreUnavailable:
        return None, 503


@lru_cache(maxsize=1)
def widget_source() -> tuple[bytes, str]:
    """Return the widget script and its version tag."""
    source = resources.files("counter").joinpath("static/widget.js").read_bytes()
    return source, hashlib.sha256(source).hexdigest()[:16]


@bp.get("/widget.js")
def widget_js():
    """Serve the embeddable script, cached for a day and versioned by ETag."""
    source, version = widget_source()
    response = Response(source, mimetype="text/javascript")
    response.set_etag(version)
    response.headers["Cache-Control"] = "public, max-age=86400"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response.make_conditional(request)


@bp.get("/api/v1/sites/<site_id>/badge.svg")
def badge(site_id: str):
    """Draw the counts as an SVG; counts a page view only with ?count=1."""
    site = find_site(site_id)
    lang, fields = block_options(site)
    stats, status = count_or_read(site)
    rows = block_rows(stats, lang, fields)
    svg = render_template("badge.svg", title=LABELS[lang]["title"], rows=rows,
                          height=30 + 20 * len(rows))
    response = Response(svg, status=status, mimetype="image/svg+xml")
    response.headers["Cache-Control"] = NO_CACHE
    response.headers["Pragma"] = "no-cache"
    response.headers["Expires"] = "0"
    response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    return response


@bp.get("/embed/<site_id>")
def embed(site_id: str):
    """Show the block as a small page for an iframe; ?count=1 counts a page view."""
    site = find_site(site_id)
    lang, fields = block_options(site)
    stats, status = count_or_read(site)
    html = render_template("embed.html", site=site, lang=lang, title=LABELS[lang]["title"],
                           rows=block_rows(stats, lang, fields), stale=stats is None or stats["stale"],
                           refresh=request.args.get("count") != "1")
    response = Response(html, status=status, mimetype="text/html")
    response.headers["Cache-Control"] = NO_CACHE
    ancestors = " ".join(site.origins) if site.origins else "*"
    response.headers["Content-Security-Policy"] = (
        f"default-src 'none'; style-src 'self'; base-uri 'none'; form-action 'none'; "
        f"frame-ancestors {ancestors}")
    return response
