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
from .widget import group

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")
bp.add_app_template_filter(group, "group")

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
# Charts are drawn in CSS pixels (no viewBox scaling), so their text keeps its size on a phone:
# heights in px, horizontal positions in percent of the plot's width.
HEIGHT, TOP, BOTTOM = 220, 10, 26
LABELS_WIDE, LABELS_NARROW = 7, 4  # x-axis labels at most, above and below 600 px
TOP_PAGES = 20  # most viewed pages shown


def bar_chart(values: list[int], labels: list[str], titles: list[str], lang: str) -> dict:
    """Lay out a bar chart as numbers for the SVG template."""
    top = max(max(values, default=0), 1)
    step = _nice_step(top)
    ceiling = step * -(-top // step)
    inner_h = HEIGHT - BOTTOM - TOP
    n = max(len(values), 1)
    slot = 100 / n
    gap = 0.12 if n <= 90 else 0.05
    wide, narrow = _label_slots(n, LABELS_WIDE), _label_slots(n, LABELS_NARROW)
    bars, marks = [], []
    for i, (v, title) in enumerate(zip(values, titles, strict=True)):
        h = inner_h * v / ceiling
        bars.append({"x": f"{i * slot + slot * gap:.3f}%", "w": f"{slot * (1 - 2 * gap):.3f}%",
                     "y": round(TOP + inner_h - h, 1), "h": round(h, 1), "title": title})
    for i in sorted(wide | narrow):
        anchor = "start" if i == 0 else "end" if i == n - 1 else "middle"
        x = i * slot if anchor == "start" else (i + 1) * slot if anchor == "end" else (i + 0.5) * slot
        marks.append({"x": f"{x:.3f}%", "anchor": anchor, "text": labels[i],
                      "only": "" if i in wide and i in narrow else "wide" if i in wide else "narrow"})
    ticks = [{"y": round(TOP + inner_h - inner_h * t / ceiling, 1), "v": group(t, lang)}
             for t in range(0, ceiling + 1, step)]
    gutter = 10 + 8 * max(len(t["v"]) for t in ticks)
    return {"bars": bars, "marks": marks, "ticks": ticks, "height": HEIGHT, "gutter": gutter,
            "base": TOP + inner_h, "label_y": HEIGHT - 8}


def _label_slots(n: int, most: int) -> set[int]:
    """Choose at most `most` evenly spaced bars to label, the first and the last among them."""
    if n <= most:
        return set(range(n))
    every = -(-(n - 1) // (most - 1))
    slots = list(range(0, n, every))
    if slots[-1] != n - 1:
        if n - 1 - slots[-1] < every:
            slots.pop()  # too close to the last bar's label, which is drawn leftwards from the edge
        slots.append(n - 1)
    return set(slots)


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
    short = "%d/%m" if days <= 92 else "%d/%m/%y"
    daily = bar_chart([d.visits for d in history], [d.date.strftime(short) for d in history],
                      [f"{d.date.isoformat()}: {group(d.visits, site.lang)} visits, "
                       f"{group(d.pageviews, site.lang)} page views" for d in history], site.lang)
    minutes = bar_chart([m["pageviews"] for m in live["last_hour"]],
                        [m["minute"][11:16] for m in live["last_hour"]],
                        [f"{m['minute'][11:16]}: {group(m['pageviews'], site.lang)} page views"
                         for m in live["last_hour"]], site.lang)
    return page(render_template("dashboard_site.html", site=site, stats=stats, days=days,
                                daily=daily, minutes=minutes, history=history, last_hour=live["last_hour"],
                                first=history[0].date, last=history[-1].date, top=top,
                                period_names=page_periods(today),
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
