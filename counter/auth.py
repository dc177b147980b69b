"""Admin authentication: a bearer token, checked in constant time, with a
per-process limit on wrong tokens and a keyed pseudonym for the audit log;
and the reads of private sites, which take the same token as Bearer or as
an HTTP Basic password."""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import secrets
import threading
import time

from flask import after_this_request, current_app, request

from . import privacy
from .errors import ApiError

log = logging.getLogger("counter.admin")

ADMIN_STRIKES = 10  # wrong admin tokens per client and minute before 429
_PROCESS_KEY = secrets.token_bytes(32)  # keys the log's client names when no admin token is set


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


def init_app(app) -> None:
    """Give the app its per-process count of wrong admin tokens, and guard private sites' reads."""
    app.extensions["admin_strikes"] = Strikes()
    # Only the blueprints of those reads run the guard: /healthz and the others skip it.
    for blueprint in sorted({endpoint.split(".")[0] for endpoint in PRIVATE_READS}):
        app.before_request_funcs.setdefault(blueprint, []).append(guard_private_reads)


def check_admin() -> str:
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
        log.warning("admin refused: wrong or missing token from %s", pseudonym(who))
        raise ApiError(401, "unauthorized", "A valid `Authorization: Bearer <token>` is required.",
                       {"WWW-Authenticate": 'Bearer realm="counter"'})
    return pseudonym(who)


def admin_required(view):
    """Let only a holder of the admin token in; pass the view `who` for the audit log."""

    @functools.wraps(view)
    def guarded(*args, **kwargs):
        return view(*args, who=check_admin(), **kwargs)

    return guarded


def pseudonym(who: str) -> str:
    """Name a client in the admin log by a keyed hash of its address group.

    The key is derived from the admin token (a server secret), so that the
    name cannot be reversed by hashing candidate addresses; without a token,
    from a key of this process.
    """
    token = current_app.config["ADMIN_TOKEN"]
    key = hashlib.sha256(b"counter admin log\0" + token.encode()).digest() if token else _PROCESS_KEY
    return privacy.pseudonym(key, who)


# -- private sites ------------------------------------------------------------

# The reads a private site keeps to holders of the admin token (the sites list
# leaves it out instead). Its stats, badge, embed page and widget stay public.
PRIVATE_READS = frozenset({"api.daily", "api.online", "api.pages", "api.page_views",
                           "dashboard.site_page"})
# Basic, so that a browser opening a private dashboard asks for the token.
CHALLENGE = 'Basic realm="counter", charset="UTF-8"'


def _given_token() -> str | None:
    """Return the token an Authorization header carries: Bearer, or the password of HTTP Basic."""
    try:
        auth = request.authorization
    except (ValueError, UnicodeError):  # werkzeug's base64 decoding of a non-ASCII Basic value
        return ""
    if auth is None:
        return "" if request.headers.get("Authorization") else None
    if auth.type == "basic":
        return auth.password or ""
    if auth.type == "bearer":
        return auth.token or ""
    return ""


def holds_admin_token() -> bool:
    """Tell whether the request carries the admin token, as Bearer or as an HTTP Basic password.

    Without an Authorization header it does not; a wrong token counts toward
    the address's wrong tokens, as on the admin calls.
    """
    given = _given_token()
    if given is None:
        return False
    token = current_app.config["ADMIN_TOKEN"]
    who = privacy.client_group(request.remote_addr or "")
    strikes: Strikes = current_app.extensions["admin_strikes"]
    if strikes.blocked(who):
        raise ApiError(429, "rate_limited", "Too many wrong admin tokens from this address; wait a minute.",
                       {"Retry-After": "60"})
    if token and hmac.compare_digest(given.encode(), token.encode()):
        after_this_request(keep_out_of_shared_caches)  # what the answer shows depends on the token
        return True
    strikes.add(who)
    log.warning("private read refused: wrong token from %s", pseudonym(who))
    return False


def keep_out_of_shared_caches(response):
    """Keep an answer that the admin token let through out of shared caches.

    nginx caches reads by URL alone (deploy/nginx.conf), ignoring the request's
    Authorization: a private site's numbers read by an operator would be served
    to the next reader without the token. It runs before the blueprints' and
    the app's after_request hooks, none of which sets these headers.
    """
    response.headers["Cache-Control"] = "private, no-store"
    response.vary.add("Authorization")
    return response


def guard_private_reads() -> None:
    """Ask for the admin token before a private site's dashboard, history, pages or online numbers."""
    # A CORS preflight never carries the token; the request after it does.
    if request.endpoint in PRIVATE_READS and request.method != "OPTIONS":
        site_id = (request.view_args or {}).get("site_id")
        site = current_app.extensions["counter"].sites.get(site_id) if site_id else None
        if site is not None:  # an unknown or bad id is the view's to refuse
            check_reader(site)


def check_reader(site) -> None:
    """Let a private site's dashboard, history, pages and online numbers be read only with the admin token."""
    if site.public or holds_admin_token():
        return
    raise ApiError(401, "unauthorized", f"The site {site.id!r} is private: send the admin token as "
                   "`Authorization: Bearer <token>` or as the password of HTTP Basic.",
                   {"WWW-Authenticate": CHALLENGE})
