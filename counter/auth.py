"""Admin authentication: a bearer token, checked in constant time, with a
per-process limit on wrong tokens and a pseudonym for the audit log."""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import threading
import time

from flask import current_app, request

from . import privacy
from .errors import ApiError

log = logging.getLogger("counter.admin")

ADMIN_STRIKES = 10  # wrong admin tokens per client and minute before 429


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
    """Give the app its per-process count of wrong admin tokens."""
    app.extensions["admin_strikes"] = Strikes()


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
    """Name a client in the admin log without its address."""
    return "client-" + hashlib.blake2b(who.encode(), digest_size=6).hexdigest()
