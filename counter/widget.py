"""What portal visitors see: the widget script and its settings, the SVG badge and the iframe page."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from flask import Blueprint, Response, jsonify, render_template, request

from .cors import page_origin
from .errors import ApiError
from .service import RateLimited
from .store import StoreUnavailable
from .web import check_origin, check_path, client, counter, find_site

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
# Rows of the block; `page` is the views of one page: the widget's own, or the badge's and embed's `path`.
FIELDS = ("total", "online", "today", "yesterday", "this_week", "this_month", "last_week",
          "last_month", "page")
DEFAULT_FIELDS = ("total", "online", "today")
THEMES = ("light", "dark", "auto")
MAX_TITLE = 100
NO_CACHE = "no-cache, no-store, must-revalidate, max-age=0"
SETTINGS_MAX_AGE = 300  # a fixed sites file shows up in the widget within five minutes


@dataclass(frozen=True)
class Options:
    """How a block is drawn: language, rows, colours and title ("" for none)."""

    lang: str
    fields: list[str]
    theme: str
    title: str


def group(n: int | None, lang: str) -> str:
    """Write a count with the language's thousands separator, or a dash."""
    if n is None:
        return "—"
    return f"{n:,}".replace(",", "." if lang == "vi" else ",")


def block_options(site, widget: bool = False) -> Options:
    """Read `lang`, `fields`, `theme` and `title` from the query, with the site's defaults.

    An option given empty is refused (but `title`, where empty means no title). The badge
    and the embed show `page` for a `path=/...`, which is then their default row; the
    widget shows the page it stands on.
    """
    args = request.args
    lang = args.get("lang", site.lang)
    if lang not in LABELS:
        raise ApiError(400, "invalid_lang", f"`lang` must be vi or en, not {lang[:20]!r}.")
    path = None if widget else check_path(args.get("path"))
    raw = args.get("fields")
    default = ("page",) if path is not None else DEFAULT_FIELDS
    fields = [f.strip() for f in raw.split(",") if f.strip()] if raw is not None else list(default)
    wrong = [f for f in fields if f not in FIELDS]
    if not fields or wrong:
        what = f"{wrong[0][:20]!r} is not one" if wrong else "none is given"
        raise ApiError(400, "invalid_fields", f"`fields` takes some of {', '.join(FIELDS)}; {what}.")
    if "page" in fields and path is None and not widget:
        raise ApiError(400, "invalid_fields", "The field `page` needs the page as `path=/...`.")
    theme = args.get("theme", "light")
    if theme not in THEMES:
        raise ApiError(400, "invalid_theme", f"`theme` must be light, dark or auto, not {theme[:20]!r}.")
    title = args.get("title")
    if title is None:
        title = LABELS[lang]["title"]
    elif len(title) > MAX_TITLE or any(ord(c) < 32 for c in title):
        raise ApiError(400, "invalid_title",
                       f"`title` must be at most {MAX_TITLE} characters on one line.")
    if args.get("count", "1") not in ("0", "1"):
        raise ApiError(400, "invalid_count", "`count` must be 1 (count a page view) or 0.")
    return Options(lang, list(dict.fromkeys(fields)), theme, title.strip())


def block_rows(stats: dict | None, options: Options) -> list[tuple[str, str, str]]:
    """Return (field, label, grouped number) for each row; a number the stats lack is a dash."""
    def value(f: str) -> int | None:
        """Return one field's number; `page` is the page's all-time views."""
        if not stats:
            return None
        return (stats.get("page") or {}).get("pageviews") if f == "page" else stats.get(f)

    words = LABELS[options.lang]
    return [(f, words[f], group(value(f), options.lang)) for f in options.fields]


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


# An empty `data-visit-counter=""` asks for /widget/sites/: refused as a bad site id, readable by the page.
@bp.get("/widget/sites/", defaults={"site_id": ""})
@bp.get("/widget/sites/<site_id>")
def widget_settings(site_id: str):
    """Tell the widget how to draw itself and whether this page may count.

    A read, open to every origin: the browser hides the answer of a refused
    write, so this is where the widget learns why the service refuses it.
    """
    site = find_site(site_id)
    try:
        options = block_options(site, widget=True)
    except ApiError as exc:
        # With the error, the site's language: the widget draws its "—" in it.
        response = jsonify(error={"code": exc.code, "message": exc.message}, lang=site.lang)
        response.status_code = exc.status
        return response
    refused = None
    try:
        check_origin(site, request.headers.get("Origin"))
    except ApiError as exc:
        # Say what to fix: the site's origins are public anyway (the embed's frame-ancestors).
        hint = (f" This page is at {request.headers.get('Origin', '')[:200]}; the site takes "
                f"{', '.join(site.origins)} (`origins` in the sites file).")
        refused = {"code": exc.code, "message": exc.message + hint}
    response = jsonify(site=site.id, lang=options.lang, fields=options.fields, theme=options.theme,
                       title=options.title, refused=refused)
    # A refusal is not cached, so the page works as soon as the sites file is fixed.
    response.headers["Cache-Control"] = "no-cache" if refused else f"public, max-age={SETTINGS_MAX_AGE}"
    return response


@bp.after_request
def open_settings_to_every_page(response: Response) -> Response:
    """Let any page read the widget's settings, errors included."""
    if request.endpoint == "widget.widget_settings":
        response.headers["Access-Control-Allow-Origin"] = "*"
        response.headers["Vary"] = "Origin"
        if response.status_code != 200:
            response.headers["Cache-Control"] = "no-cache"
    return response


def _picture_headers(response: Response) -> Response:
    """Keep image proxies and browsers from caching a badge."""
    response.headers["Cache-Control"] = NO_CACHE
    response.headers["Pragma"] = "no-cache"
    response.headers["Expires"] = "0"
    response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    return response


def _wrap(text: str, width: int) -> list[str]:
    """Break a sentence into lines of at most about `width` characters."""
    lines: list[str] = []
    for word in text.split():
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines


@bp.get("/api/v1/sites/<site_id>/badge.svg")
def badge(site_id: str):
    """Draw the counts as an SVG; counts a page view only with ?count=1."""
    try:
        site = find_site(site_id)
        options = block_options(site)
    except ApiError as exc:
        lines = _wrap(exc.message, 34)
        svg = render_template("badge_error.svg", code=exc.code, lines=lines, height=40 + 16 * len(lines))
        response = Response(svg, status=exc.status, mimetype="image/svg+xml")
        response.headers["X-Error-Code"] = exc.code
        return _picture_headers(response)
    stats, status = count_or_read(site)
    rows = block_rows(stats, options)
    top = 31 if options.title else 11
    svg = render_template("badge.svg", title=options.title, rows=rows, top=top, theme=options.theme,
                          height=top - 1 + 20 * len(rows))
    return _picture_headers(Response(svg, status=status, mimetype="image/svg+xml"))


@bp.get("/embed/<site_id>")
def embed(site_id: str):
    """Show the block as a small page for an iframe; ?count=1 counts a page view."""
    site = None
    try:
        site = find_site(site_id)
        options = block_options(site)
    except ApiError as exc:
        html = render_template("embed_error.html", error=exc)
        response = Response(html, status=exc.status, mimetype="text/html")
        response.headers["X-Error-Code"] = exc.code
        return _embed_headers(response, site)
    stats, status = count_or_read(site)
    html = render_template("embed.html", site=site, options=options, rows=block_rows(stats, options),
                           stale=stats is None or stats["stale"], refresh=request.args.get("count") != "1")
    return _embed_headers(Response(html, status=status, mimetype="text/html"), site)


def _embed_headers(response: Response, site) -> Response:
    """Frame the page only on the site's own origins, when it lists any."""
    response.headers["Cache-Control"] = NO_CACHE
    ancestors = " ".join(site.origins) if site and site.origins else "*"
    response.headers["Content-Security-Policy"] = (
        f"default-src 'none'; style-src 'self'; base-uri 'none'; form-action 'none'; "
        f"frame-ancestors {ancestors}")
    return response
