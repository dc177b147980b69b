"""The way to Redis: a client per process for any REDIS_URL, and a circuit breaker.

What is stored, and under which keys, is counter/store.py's business.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable

import hiredis
import redis
from redis.backoff import NoBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.commands.core import Script
from redis.exceptions import NoScriptError, RedisClusterException
from redis.retry import Retry
from redis.sentinel import Sentinel

from .config import RedisTarget, parse_redis_url
from .telemetry import BREAKER, REDIS_ERRORS

TIMEOUT = 0.5  # seconds for any Redis call: a hit must answer within 1 s
BREAKER_COOLDOWN = 1.0  # seconds a failed store is left alone
log = logging.getLogger(__name__)


class StoreUnavailable(Exception):
    """Redis did not answer, answered with an error, or the breaker is open."""

    def __init__(self, message: str, logged: bool = False) -> None:
        """Keep the message, and whether the outage it belongs to is already in the log."""
        super().__init__(message)
        self.logged = logged


def connect(target: RedisTarget, timeout: float = TIMEOUT):
    """Open a client for a redis://, rediss://, unix://, sentinel or cluster URL.

    Retries are off: a write that timed out may have been applied, and
    sending it again could count it twice.
    """
    opts = {
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
        "retry": Retry(NoBackoff(), 0),
        "decode_responses": True,
    }
    if target.password:  # a plain URL's password is read from the URL by from_url
        opts["password"] = target.password
    if target.scheme == "redis+sentinel":
        sentinel = Sentinel(list(target.hosts), sentinel_kwargs={"socket_timeout": timeout,
                                                                 "socket_connect_timeout": timeout})
        return sentinel.master_for(target.service, db=target.db, **opts)
    if target.scheme == "redis+cluster":
        return RedisCluster(startup_nodes=[ClusterNode(*h) for h in target.hosts], **opts)
    return redis.Redis.from_url(target.url, **opts)


class ScriptCall:
    """Call one Lua script on this process's own connections: pack, send, read.

    redis-py's command layer (pool checkout with a poll, retry wrapper,
    observability hooks, reply callbacks) costs more CPU than the round trip,
    most of all under gevent. This keeps only what a script call needs. The
    connections come from the client's own pool, so Sentinel (finding the
    master, READONLY after a failover), TLS, unix sockets, passwords and
    timeouts behave as with redis-py; hiredis packs the command and parses
    the reply. A NOSCRIPT answer (a restarted or failed-over Redis) means
    nothing ran: the script is loaded on the same connection and called once
    more. Given a pipeline, the call is queued on it through redis-py.
    """

    def __init__(self, client: redis.Redis, source: str) -> None:
        """Remember the pool and the script."""
        self.pool = client.connection_pool
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()
        self.script = client.register_script(source)
        self.idle: list = []

    def __call__(self, keys: list, args: list, client=None):
        """Run the script with `keys` and `args`; return its reply."""
        if client is not None:
            return self.script(keys, args, client=client)
        # Taken from the pool once and kept: the pool still closes it with the client.
        conn = self.idle.pop() if self.idle else self.pool.get_connection()
        try:
            # hiredis packs str and int arguments as redis-py would, without its per-argument checks.
            command = [hiredis.pack_command(("EVALSHA", self.sha, len(keys), *keys, *args))]
            conn.send_packed_command(command, check_health=False)
            try:
                reply = conn.read_response()
            except NoScriptError:
                conn.send_packed_command(conn.pack_command("SCRIPT", "LOAD", self.source), check_health=False)
                conn.read_response()
                conn.send_packed_command(command, check_health=False)
                reply = conn.read_response()
        except redis.ResponseError:
            self.idle.append(conn)  # an error reply: the connection is still in step
            raise
        except BaseException:
            # A failed or interrupted connection may be out of step: the pool
            # reconnects it (asking Sentinel for the master) before its next use.
            conn.disconnect()
            self.pool.release(conn)
            raise
        self.idle.append(conn)
        return reply

    def drop_idle(self) -> None:
        """Hand the kept connections back to the pool, closed: it reconnects each before its next use.

        Called when a connection failed: the others kept from the same server
        (restarted, or failed over) are as dead, and each would fail a request.
        """
        idle, self.idle = self.idle, []
        for conn in idle:
            conn.disconnect()
            self.pool.release(conn)


class Transport:
    """One Redis client per process, opened after a fork, behind a circuit breaker."""

    def __init__(self, url: str, timeout: float = TIMEOUT, scripts: dict[str, str] | None = None,
                 on_open: Callable[[], None] | None = None) -> None:
        """Check the URL now; the client is opened on first use in each process."""
        self.target = parse_redis_url(url)
        self.timeout = timeout
        self.sources = scripts or {}
        self.on_open = on_open
        self._pid = None
        self._client = None
        self._scripts: dict[str, Script | ScriptCall] = {}
        self._lock = threading.Lock()
        self._open_until = 0.0
        self._down_since: float | None = None  # when connection failures began, until a call succeeds

    @property
    def client(self):
        """Return this process's client, opening it after a fork."""
        self.open()
        return self._client

    def script(self, name: str) -> Script | ScriptCall:
        """Return this process's handle on the named Lua script."""
        self.open()
        return self._scripts[name]

    def open(self) -> None:
        """Open the client and register the scripts, once per process."""
        if self._pid != os.getpid():
            with self._lock:
                if self._pid != os.getpid():
                    if self.breaker_open:
                        REDIS_ERRORS.inc()
                        raise StoreUnavailable("the counter store is unavailable", logged=True)
                    try:
                        self._client = connect(self.target, self.timeout)
                    except RedisClusterException as exc:
                        # A cluster client asks its nodes for the slots as it opens; none answered.
                        raise self._unreachable(exc) from exc
                    # A cluster routes each call by its keys' slot: redis-py's own path there.
                    handle = (self._client.register_script if isinstance(self._client, RedisCluster)
                              else lambda source: ScriptCall(self._client, source))
                    self._scripts = {n: handle(s) for n, s in self.sources.items()}
                    if self.on_open:
                        self.on_open()
                    self._pid = os.getpid()

    def call(self, fn, *args):
        """Run `fn`, turning any Redis failure into StoreUnavailable.

        After a connection failure the breaker stays open for a moment, so a
        dead Redis costs each request microseconds instead of a timeout.
        """
        if self.breaker_open:
            REDIS_ERRORS.inc()
            raise StoreUnavailable("the counter store is unavailable", logged=True)
        try:
            result = fn(*args)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            for script in self._scripts.values():
                if isinstance(script, ScriptCall):
                    script.drop_idle()
            raise self._unreachable(exc) from exc
        except redis.RedisError as exc:
            REDIS_ERRORS.inc()
            raise StoreUnavailable(str(exc)) from exc
        if self._open_until:
            self._open_until = 0.0
            BREAKER.set(0)
        if self._down_since is not None:
            log.info("store available again after %.1f s", time.monotonic() - self._down_since)
            self._down_since = None
        return result

    def _unreachable(self, exc: Exception) -> StoreUnavailable:
        """Open the breaker after a connection failure; return the error to raise.

        The log says so once as an outage begins (and once as it ends, in
        `call`), not once per refused request.
        """
        self._open_until = time.monotonic() + BREAKER_COOLDOWN
        BREAKER.set(1)
        REDIS_ERRORS.inc()
        if self._down_since is None:
            self._down_since = time.monotonic()
            log.warning("store unavailable: %s (tried again every %.0f s)", exc, BREAKER_COOLDOWN)
        return StoreUnavailable(str(exc), logged=True)

    @property
    def breaker_open(self) -> bool:
        """Tell whether failed calls keep Redis from being asked right now."""
        return time.monotonic() < self._open_until
