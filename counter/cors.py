"""CORS for the API, and the headers every answer carries.

Who may write is the site's rule (`Site.allows`); this module only says it
to browsers.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import request

from .config import Site

NOSNIFF = ("X-Content-Type-Options", "nosniff")  # on every answer
API_HEADERS = (
    ("Access-Control-Allow-Methods", "GET, POST, PUT, OPTIONS"),
    # Authorization: a private site's reads take the admin token.
    ("Access-Control-Allow-Headers", "Authorization, Content-Type, If-None-Match"),
    ("Access-Control-Expose-Headers", "ETag, Retry-After"),
    ("Access-Control-Max-Age", "86400"),
    ("Vary", "Origin"),
)


def answer_headers(environ: dict, site: Site | None) -> list[tuple[str, str]]:
    """Return the headers every answer carries: nosniff, and on the API CORS for `site`'s route."""
    # As Flask's request.path and routing read it: "//api/..." is an API route too.
    if not environ.get("PATH_INFO", "").lstrip("/").startswith("api/"):
        return [NOSNIFF]
    method = environ.get("REQUEST_METHOD")
    writing = method in ("POST", "PUT") or (
        method == "OPTIONS" and environ.get("HTTP_ACCESS_CONTROL_REQUEST_METHOD", "GET") in ("POST", "PUT"))
    return [NOSNIFF, *api_headers(writing, environ.get("HTTP_ORIGIN"), site)]


def api_headers(writing: bool, origin: str | None, site: Site | None) -> list[tuple[str, str]]:
    """Return the CORS headers of an API answer to a read or a write (or its preflight) for `site`.

    Reads are open to every page. A write is allowed to the site's own
    origins when it lists any; the handler has already refused the others,
    and a refused origin is told nothing, not even "null".
    """
    if not writing or site is None or not site.origins or not origin:
        allowed = "*"
    else:
        allowed = origin if site.allows(origin) else None
    return [("Access-Control-Allow-Origin", allowed), *API_HEADERS] if allowed else list(API_HEADERS)


def page_origin() -> str | None:
    """Return the origin of the page a request comes from: its Origin, else its Referer's.

    None when the request names neither; "null" when its Referer is not a URL
    with a host, which no site lists.
    """
    origin = request.headers.get("Origin")
    if origin is not None:
        return origin
    referer = request.headers.get("Referer")
    if referer is None:
        return None
    try:
        parts = urlsplit(referer)
    except ValueError:
        return "null"
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else "null"
