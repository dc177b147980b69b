"""The start page for the person who installed the service, and the favicon."""

from __future__ import annotations

from flask import Blueprint, Response, render_template, url_for
from markupsafe import Markup

from .dashboard import page
from .store import StoreUnavailable
from .web import counter
from .widget import DEFAULT_FIELDS, FIELDS, LABELS, THEMES

bp = Blueprint("home", __name__)


def snippet(site_id: str, lang: str) -> str:
    """Return the two lines a portal pastes to show the counter."""
    src = url_for("widget.widget_js", _external=True)
    return (f'<div data-visit-counter="{site_id}" data-lang="{lang}"></div>\n'
            f'<script async src="{src}"></script>')


def public_sites() -> list:
    """Return the sites whose numbers anyone may see."""
    return [s for s in counter().sites.values() if getattr(s, "public", True)]


@bp.get("/")
def index():
    """Say what the service is, list its sites with live numbers, and give each one's snippet."""
    sites = public_sites()
    try:
        shown = {s.id for s in sites}
        rows, status = [r for r in counter().overview() if r["site"] in shown], 200
    except StoreUnavailable:
        rows, status = None, 503
    html = render_template("home.html", rows=rows, site_list=sites, sites=counter().sites,
                           snippets={s.id: snippet(s.id, s.lang) for s in sites},
                           fields=FIELDS, default_fields=DEFAULT_FIELDS, themes=THEMES,
                           labels=LABELS, script=Markup.escape(url_for("widget.widget_js", _external=True)))
    return page(html, status)


@bp.get("/favicon.ico")
def favicon():
    """Answer the browser's default favicon request with the SVG icon."""
    return Response(render_template("favicon.svg"), mimetype="image/svg+xml",
                    headers={"Cache-Control": "public, max-age=86400"})
