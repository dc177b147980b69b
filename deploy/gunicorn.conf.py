"""Gunicorn settings for the counter (override with GUNICORN_CMD_ARGS)."""

# The gevent workers patch the standard library when they start. By then the
# master has imported redis (for the start-up checks and the embedded store),
# and redis keeps ssl.SSLContext by direct reference, which gevent cannot patch
# any more and warns about in every worker. Patching ssl here, before anything
# imports redis, keeps that reference gevent's own. It changes nothing else in
# the master, whose one TLS use (the start-up check of a rediss:// Redis)
# works the same with gevent's ssl (tests/test_deploy.py).
from gevent import monkey

monkey.patch_ssl()

import errno  # noqa: E402
import functools  # noqa: E402
import glob  # noqa: E402
import io  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import types  # noqa: E402

import gevent  # noqa: E402
from gevent.lock import BoundedSemaphore  # noqa: E402
from gunicorn import glogging  # noqa: E402
from gunicorn.arbiter import Arbiter  # noqa: E402
from gunicorn.http import wsgi  # noqa: E402
from gunicorn.http.body import LengthReader  # noqa: E402
from gunicorn.http.errors import NoMoreData  # noqa: E402
from gunicorn.http.message import Request  # noqa: E402

bind = os.environ.get("COUNTER_BIND", "").strip() or "127.0.0.1:8000"
# Chosen with `make bench` (README "Performance"): gevent workers serve more
# hits than gthread or sync on two cores and hold the p99 of paced hits
# lowest (one thread per worker: no GIL hand-offs between request threads).
# A bad value (or 0) is refused by on_starting, named with every other bad setting.
try:
    workers = max(1, int(os.environ.get("WEB_CONCURRENCY", "").strip() or "2"))
except ValueError:
    workers = 2
worker_class = "gevent"
# Connections a worker holds open at once. A held connection is a greenlet and
# a socket (a few KB), not a request slot: slow or idle clients wait here
# without taking the capacity of real requests (APP_SLOTS below).
worker_connections = 1000
# Requests each worker runs in the app at once, and so Redis connections: a
# request takes a slot only once its whole body has arrived, and gives it back
# as its answer starts to leave.
# A bad value is refused by on_starting, named with every other bad setting.
try:
    APP_SLOTS = max(1, int(os.environ.get("COUNTER_CONNECTIONS", "").strip() or "100"))
except ValueError:
    APP_SLOTS = 100
# Deadlines. gunicorn reads every request line and header under the keepalive
# timeout, the first request of a connection included: a client that has not
# sent a whole head within 5 s, or that stays idle 5 s between requests, is
# disconnected. A body (at most 4 KiB is accepted) must have arrived whole
# within BODY_DEADLINE seconds of the head.
keepalive = 5
BODY_DEADLINE = 10
# A client that takes none of an answer's bytes for SEND_DEADLINE seconds (it
# stopped reading, or pipelined requests and never reads the answers) is
# disconnected, and the request's app slot freed: as nginx's send_timeout.
SEND_DEADLINE = 10
# Bodies are read ahead up to this size, at most 8 MB for a worker's 1,000
# connections; the app refuses anything over 4 KiB, so it never reads further,
# and a longer body's connection is closed once answered, never read to its end.
BODY_READ_AHEAD = 8 * 1024
# The most a request's headers may take, as nginx's own bound (large_client_header_buffers
# 4 8k): gunicorn's is 100 fields of 8 KB, and it copies and scans the whole head read so
# far at every read, so an 800 KB head cost a worker 64-200 ms of CPU. Past it: 431.
HEAD_LIMIT = 32 * 1024
# A keep-alive connection's greenlet yields to the others after this many requests (post_request).
YIELD_EVERY = 2
# Redis calls time out after 0.5 s, so a request never comes near this.
timeout = 30
graceful_timeout = 20
# Each worker builds the app, and so its Redis client, after the fork.
preload_app = False
# No access line of our own: nginx in front writes one per request, with the
# service's time (deploy/nginx.conf). Ours cost a /healthz 7 % of its rate,
# and to the journal at a portal's rate it would pass journald's limit
# (10,000 lines in 30 s), which then drops the error log's lines too. Without
# nginx: GUNICORN_CMD_ARGS="--access-logfile -".
accesslog = None
# No query strings, no client addresses: portals' visitors are not logged.
access_log_format = '%(m)s %(U)s %(s)s %(B)s %(M)sms'
# systemd's RuntimeDirectory (/run/counter, in memory) when there is one.
RUNTIME_DIRECTORY = os.environ.get("RUNTIME_DIRECTORY", "").split(":")[0]
# The workers' heartbeat files, in memory rather than on a disk-backed /tmp.
if RUNTIME_DIRECTORY or os.path.isdir("/dev/shm"):
    worker_tmp_dir = RUNTIME_DIRECTORY or "/dev/shm"
# gunicorn's control socket (for gunicornc) defaults to $XDG_RUNTIME_DIR, else
# $HOME/.gunicorn, which systemd's ProtectHome=true makes unwritable. Under
# systemd it goes in the RuntimeDirectory; elsewhere it is off: the service is
# reloaded and stopped with signals.
if RUNTIME_DIRECTORY:
    control_socket = os.path.join(RUNTIME_DIRECTORY, "gunicorn.ctl")
else:
    control_socket_disable = True

# Every worker writes its metrics here; /metrics adds them up. It must be set
# before prometheus_client is imported anywhere.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="counter-metrics-")

# sysexits' EX_CONFIG: the unit does not restart the service on it.
EXIT_BAD_SETTINGS = 78


class Logger(glogging.Logger):
    """gunicorn's logger, whose error log also carries the counter's own messages.

    The counter logs admin changes, refusals and store failures under the
    `counter` logger; with nothing configured Python would print only the
    warnings, without time or process. They go to gunicorn's error log, in its
    format, at its level (info).

    Its access line is the stock one, written more cheaply: the stock logger
    copies every request header, response header and environ entry into the
    line's fields and goes through a log record, which bench/load.py measured
    at a quarter of a no-op request's CPU.
    """

    def access(self, resp, req, environ, request_time):
        """Write the access line; through logging when the format or the handlers need it."""
        if not self.access_log_enabled:
            return None
        handlers = self.access_log.handlers
        if (not _lean_format(self.cfg.access_log_format)
                or not all(type(h) in (logging.StreamHandler, logging.FileHandler) for h in handlers)):
            return super().access(resp, req, environ, request_time)
        status = resp.status
        # gunicorn's own wrapper: it escapes quotes (a path may carry one, as %22) as the stock line does.
        line = self.cfg.access_log_format % self.atoms_wrapper_class({
            "m": environ.get("REQUEST_METHOD"),
            "U": environ.get("PATH_INFO"),
            "s": status.split(None, 1)[0] if isinstance(status, str) else status,
            "B": getattr(resp, "sent", None),
            "M": request_time.seconds * 1000 + request_time.microseconds // 1000,
        }) + "\n"
        for handler in handlers:
            with handler.lock:
                handler.stream.write(line)
                handler.stream.flush()
        return None

    def warning(self, msg, *args, **kwargs):
        """Warn as gunicorn does, but never with a client's address.

        gunicorn warns about a request it cannot parse with "Invalid request
        from ip=<address>: ..."; no address of a portal's visitor is logged.
        """
        if isinstance(msg, str) and msg.startswith("Invalid request from ip="):
            msg = re.sub(r"^Invalid request from ip=\S*?:(?= )", "Invalid request:", msg)
        return super().warning(msg, *args, **kwargs)

    def setup(self, cfg):
        """Set up gunicorn's logs, then send the counter's messages to the error log."""
        super().setup(cfg)
        app_log = logging.getLogger("counter")
        app_log.handlers = list(self.error_log.handlers)
        app_log.setLevel(self.error_log.level)
        app_log.propagate = False


logger_class = Logger


def _send(sock, data) -> None:
    """Send all of `data`, giving up on a client that takes none of it for SEND_DEADLINE seconds.

    gunicorn's sendall waits for ever on a client that stopped reading, and
    the request keeps its app slot meanwhile. A client cut off this way is
    closed quietly, as one that went away (EPIPE).
    """
    view = memoryview(data).cast("B")
    sent, size = 0, len(view)
    # gevent's own socket timeout would apply to the worker's reads too.
    deadline = gevent.Timeout(SEND_DEADLINE)
    while sent < size:
        deadline.start()
        try:
            sent += sock.send(view[sent:])
        except gevent.Timeout as exc:
            if exc is not deadline:
                raise
            raise BrokenPipeError(errno.EPIPE, "send deadline") from None
        finally:
            deadline.cancel()


class DeadlineSocket:
    """A request's client socket: its first write gives the app slot back, every write keeps SEND_DEADLINE."""

    __slots__ = ("req", "sock")

    def __init__(self, sock, req) -> None:
        """Wrap the client's socket for one request."""
        self.sock = sock
        self.req = req

    def sendall(self, data, flags=0) -> None:
        """Give the request's app slot back (the app is done), then send all of `data` within the deadline."""
        _release(self.req)
        _send(self.sock, data)

    def __getattr__(self, name):
        """Anything else, as the socket."""
        return getattr(self.sock, name)


class OneWriteResponse(wsgi.Response):
    """gunicorn's HTTP/1 response, sending a whole answer's head and body in one write.

    gunicorn sends the head, then the body: two packets and two wake-ups of
    the client per answer, which bench/load.py measured at about 25 us of
    worker CPU per request. The counter's answers are whole bytes with a
    Content-Length, so the head waits for the body and both leave in one send.
    Any other answer (streamed, chunked, bodiless) is written as gunicorn would.
    Every write keeps SEND_DEADLINE.
    """

    def __init__(self, req, sock, cfg) -> None:
        """Build gunicorn's response on the client's socket with a send deadline."""
        super().__init__(req, DeadlineSocket(sock, req), cfg)

    def write(self, arg):
        """Send the head and a whole body together; anything else as gunicorn does."""
        if (self.headers_sent or self.chunked or self._omits_body or not isinstance(arg, bytes)
                or self.response_length != len(arg)):
            return super().write(arg)
        head = []
        sock, self.sock = self.sock, types.SimpleNamespace(sendall=head.append)
        try:
            self.send_headers()  # gunicorn's own head, caught on its way out
        finally:
            self.sock = sock
        self.sent += len(arg)
        sock.sendall(head[0] + arg)
        return None


# gunicorn sets this bound from its field limits as it starts each request; it is kept at HEAD_LIMIT.
Request.max_buffer_headers = property(lambda self: HEAD_LIMIT, lambda self, value: None)

# gunicorn builds each HTTP/1 response from this name (HTTP/2 passes its own class).
wsgi.Response = OneWriteResponse


@functools.cache
def _lean_format(fmt: str) -> bool:
    """Tell whether an access log format uses only method, path, status, bytes and milliseconds."""
    return set(re.findall(r"%\((\w+)\)", fmt)) <= set("mUsBM")


def on_starting(server):
    """Check every setting, start from empty metrics, start the embedded store if REDIS_URL is unset.

    This runs once, in the master, before it listens or starts a worker: a bad
    setting stops the service here with one message and no traceback.
    """
    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)
    for stale in glob.glob(os.path.join(os.environ["PROMETHEUS_MULTIPROC_DIR"], "*.db")):
        os.remove(stale)
    from counter.config import ConfigError, from_env

    try:
        settings = from_env(dict(os.environ))
    except ConfigError as exc:
        _refuse(server, exc)
    _pin_sites_file(os.environ.get("COUNTER_SITES_FILE"))
    if not settings["REDIS_URL"]:
        from counter import embedded

        os.environ["REDIS_URL"] = embedded.start(settings["DATA_DIR"])
    # The checks that need the store (its eviction policy), as each worker will run them.
    from counter import create_app

    try:
        create_app()
    except ConfigError as exc:
        _refuse(server, exc)
    _forget_counter()


def _forget_counter() -> None:
    """Drop the master's copy of the counter's modules, imported for its checks.

    Workers are forked from the master: with the modules still loaded, a
    reload after an upgrade would start new workers on the old code.
    prometheus_client goes too: its registry holds the old modules' metrics,
    which the new ones could not register again.
    """
    for name in [n for n in sys.modules if n.split(".")[0] in ("counter", "prometheus_client")]:
        del sys.modules[name]


def _checked_reload(arbiter) -> None:
    """Reload (HUP: `systemctl reload counter`) only when the settings pass, else keep serving.

    A reload re-reads the sites file in every new worker, without on_starting.
    A worker that refuses it fails its boot, and gunicorn's master then halts,
    taking the whole service down on a typo; the settings are checked first instead.
    So is the new code: the master imports it for the check, and an error there
    (a half-copied upgrade) would end the master itself.
    """
    try:
        from counter.config import ConfigError, from_env
    except Exception as exc:
        _forget_counter()
        arbiter.log.error("reload refused, still serving the code it had: %s: %s", type(exc).__name__, exc)
        return

    given = getattr(Arbiter, "counter_sites_file", None)
    pinned = os.environ.get("COUNTER_SITES_FILE")
    if given:
        os.environ["COUNTER_SITES_FILE"] = given  # the operator's file, as edited since
    try:
        from_env(dict(os.environ))
    except ConfigError as exc:
        if given:
            os.environ["COUNTER_SITES_FILE"] = pinned
        arbiter.log.error("reload refused, still serving with the settings it had: %s", exc)
        return
    finally:
        _forget_counter()
    _pin_sites_file(given)
    _ARBITER_HUP(arbiter)


def _pin_sites_file(given: str | None) -> None:
    """Point the workers at a copy of the sites file as the master has just checked it.

    Workers read the file as they boot. One restarted (killed, crashed) after
    an edit not yet reloaded would read the edit, and on a refused file fail
    its boot, which halts gunicorn's master and the whole service. The copy
    lives beside the workers' metrics; a reload checks the operator's file again.
    """
    Arbiter.counter_sites_file = given
    if given:
        pinned = os.path.join(os.environ["PROMETHEUS_MULTIPROC_DIR"], "sites.checked.toml")
        shutil.copyfile(given, pinned + ".new")
        os.replace(pinned + ".new", pinned)
        os.environ["COUNTER_SITES_FILE"] = pinned


def pre_exec(server):
    """Start the new master of a USR2 on the operator's sites file, not on the workers' copy.

    It starts from the environment of the last reload, which holds the copy
    (_pin_sites_file): it would then check and reload that copy for ever,
    never the operator's edits.
    """
    given = getattr(Arbiter, "counter_sites_file", None)
    if given:
        server.cfg.env_orig["COUNTER_SITES_FILE"] = given


# The conf file runs again on every reload: wrap gunicorn's own handler only once.
_ARBITER_HUP = getattr(Arbiter, "counter_hup", Arbiter.handle_hup)
Arbiter.counter_hup = _ARBITER_HUP
Arbiter.handle_hup = _checked_reload


def _refuse(server, exc) -> None:
    """Log why the settings are refused and stop the master."""
    server.log.error("%s", exc)
    sys.exit(EXIT_BAD_SETTINGS)


def post_fork(server, worker):
    """Let a stop signal end a worker that is still booting.

    Until the worker installs its own handlers, it runs the master's copies,
    which only queue the signal for a master that is not there: a worker
    stopped while it booted would then serve on until graceful_timeout.
    """
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGQUIT, signal.SIG_DFL)


def pre_request(worker, req):
    """Read the request's body under a deadline, then wait for one of the worker's app slots.

    A client that trickles its body is disconnected after BODY_DEADLINE
    seconds, without having held a slot or a Redis connection meanwhile.
    The slot is given back as the answer starts to leave (DeadlineSocket):
    a client slow to read its answer holds none either.
    """
    reader = req.body.reader
    # GETs have no body to wait for; a small POST's body most often came in
    # the packet of its head, and is then already in gunicorn's buffer.
    if not (isinstance(reader, LengthReader) and _buffered(reader) >= reader.length):
        _read_ahead(req)
    slots = _slots(worker)
    slots.acquire()
    req.counter_slot = slots


def _buffered(reader: LengthReader) -> int:
    """Return how many bytes of the body gunicorn has read from the socket already."""
    buf = reader.unreader.buf
    buf.seek(0, io.SEEK_END)
    return buf.tell()


def _read_ahead(req) -> None:
    """Read up to BODY_READ_AHEAD bytes of the body within BODY_DEADLINE, and keep them for the app."""
    if req._expected_100_continue:
        # gunicorn would send this only after pre_request, and the client waits for it.
        _send(req.unreader.sock, b"HTTP/1.1 100 Continue\r\n\r\n")
        req._expected_100_continue = False
    deadline = gevent.Timeout(BODY_DEADLINE)
    deadline.start()
    try:
        body = req.body.read(BODY_READ_AHEAD + 1)
    except gevent.Timeout as exc:
        if exc is not deadline:
            raise
        # gunicorn closes the connection quietly on this one (a client gone mid-request).
        raise NoMoreData(b"body deadline") from None
    finally:
        deadline.close()
    if len(body) > BODY_READ_AHEAD:
        # More than the app ever reads: it is answered (413), then the
        # connection is closed. gunicorn would otherwise read the rest before
        # the next request, with no deadline and without yielding to the
        # worker's other connections while bytes keep coming.
        req.must_close = True
    # Put what was read back in front of the rest, for the app to read.
    rest = req.body.buf.getvalue()
    req.body.buf = io.BytesIO()
    req.body.buf.write(body + rest)


def post_request(worker, req, environ, resp):
    """Give the request's app slot back; let the worker's other connections have a turn."""
    _release(req)
    # A greenlet whose client sends its next request at once (keep-alive under
    # load) would serve it without ever yielding when the answer needs no
    # Redis (a cached `stats`, /healthz), and the worker's other connections
    # wait: p99s of 100-160 ms at saturation. A yield every YIELD_EVERY
    # requests bounds that wait; bench/load.py measured every request (p99
    # 6-25 ms, /healthz 18 % slower), every 4th (p99 35-56 ms) and every 2nd.
    if req.req_number % YIELD_EVERY == 0:
        gevent.sleep(0)


def _release(req) -> None:
    """Give the request's app slot back, if it still holds one."""
    slots = getattr(req, "counter_slot", None)
    if slots is not None:
        req.counter_slot = None
        slots.release()


def _slots(worker) -> BoundedSemaphore:
    """Return the worker's semaphore of app slots."""
    slots = getattr(worker, "counter_slots", None)
    if slots is None:
        slots = worker.counter_slots = BoundedSemaphore(APP_SLOTS)
    return slots


def child_exit(server, worker):
    """Drop a dead worker's live gauges."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
