"""What operators see: a page per site and a list of every site."""

from __future__ import annotations

import re
from datetime import date, timedelta
from urllib.parse import quote

from flask import Blueprint, Response, render_template, request

from . import auth
from .errors import ApiError
from .store import StoreUnavailable
from .web import counter, find_site

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
WIDTH, HEIGHT, LEFT, BOTTOM, TOP = 720, 220, 44, 28, 10
TOP_PAGES = 20  # most viewed pages shown


def bar_chart(values: list[int], labels: list[str], titles: list[str], every: int) -> dict:
    """Lay out a bar chart as numbers for the SVG template."""
    top = max(max(values, default=0), 1)
    step = _nice_step(top)
    ceiling = step * -(-top // step)
    inner_w, inner_h = WIDTH - LEFT - 8, HEIGHT - BOTTOM - TOP
    slot = inner_w / max(len(values), 1)
    bars = []
    for i, (v, label, title) in enumerate(zip(values, labels, titles, strict=True)):
        h = inner_h * v / ceiling
        bars.append({"x": round(LEFT + i * slot + slot * 0.12, 1), "w": round(slot * 0.76, 1),
                     "y": round(TOP + inner_h - h, 1), "h": round(h, 1), "title": title,
                     "label": label if i % every == 0 or i == len(values) - 1 else "",
                     "cx": round(LEFT + i * slot + slot / 2, 1)})
    ticks = [{"y": round(TOP + inner_h - inner_h * t / ceiling, 1), "v": t}
             for t in range(0, ceiling + 1, step)]
    return {"bars": bars, "ticks": ticks, "width": WIDTH, "height": HEIGHT, "left": LEFT,
            "base": TOP + inner_h, "right": WIDTH - 8}


def _nice_step(top: int) -> int:
    """Return the smallest 1, 2 or 5 times a power of ten giving at most five ticks."""
    magnitude = 1
    while True:
        for m in (1, 2, 5):
            if top <= 5 * m * magnitude:
                return m * magnitude
        magnitude *= 10


def page(html: str, status: int = 200) -> Response:
    """Return an HTML page with a strict Content-Security-Policy."""
    response = Response(html, status=status, mimetype="text/html")
    response.headers["Content-Security-Policy"] = CSP
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Referrer-Policy"] = "same-origin"
    return response


@bp.get("/")
def index():
    """List every site with its live numbers."""
    try:
        rows, status = counter().overview(private=auth.holds_admin_token()), 200
    except StoreUnavailable:
        rows, status = None, 503
    return page(render_template("dashboard_index.html", rows=rows, sites=counter().sites), status)


@bp.get("/<site_id>")
def site_page(site_id: str):
    """Show one site's numbers and charts."""
    site = find_site(site_id)
    raw = request.args.get("days", "30")
    # ASCII digits only: str.isdigit() also takes "²", which int() refuses.
    if not re.fullmatch(r"[0-9]{1,9}", raw) or not 1 <= int(raw) <= 366:
        raise ApiError(400, "invalid_days", "`days` must be a whole number from 1 to 366.")
    days = int(raw)
    c = counter()
    today = c.today(site)
    try:
        # First: a bad period is refused (BadRange, 400) before anything else is read.
        top = c.pages(site, request.args.get("period", today.strftime("%Y-%m")), TOP_PAGES)
        stats = c.stats(site)
        history = c.daily(site, today - timedelta(days=days - 1), today)
        live = c.online(site)
    except StoreUnavailable:
        return page(render_template("dashboard_site.html", site=site, stats=None), 503)
    daily = bar_chart([d.visits for d in history], [d.date.strftime("%d/%m") for d in history],
                      [f"{d.date.isoformat()}: {d.visits} visits, {d.pageviews} page views"
                       for d in history], every=max(1, days // 8))
    minutes = bar_chart([m["pageviews"] for m in live["last_hour"]],
                        [m["minute"][11:16] for m in live["last_hour"]],
                        [f"{m['minute'][11:16]}: {m['pageviews']} page views" for m in live["last_hour"]],
                        every=10)
    return page(render_template("dashboard_site.html", site=site, stats=stats, days=days,
                                daily=daily, minutes=minutes, first=history[0].date,
                                last=history[-1].date, top=top, period_names=page_periods(today),
                                page_origin=site.origins[0] if site.origins else None,
                                max_paths=c.store.max_paths))


def page_periods(today: date) -> dict[str, str]:
    """Name the periods the dashboard offers for its most viewed pages."""
    previous = today.replace(day=1) - timedelta(days=1)
    return {"today": "today", today.strftime("%Y-%m"): "this month",
            previous.strftime("%Y-%m"): "last month", "all": "all time"}


@bp.app_template_filter("page_href")
def page_href(path: str) -> str:
    """Percent-encode a page for a link on the site's own origin.

    A page always starts with "/", so the link never leaves the configured
    origin and can never be a `javascript:` URL; "%" stays as it is (a page
    keeps escapes such as %2F encoded).
    """
    return quote(path, safe="/%:@!$&'()*+,;=~-._")
