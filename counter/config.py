"""Settings from the environment, validated once at start-up."""

from __future__ import annotations

import difflib
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import redis.connection

SITE_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
LANGS = ("vi", "en")
# What a site's table in COUNTER_SITES_FILE may say.
SITE_KEYS = ("name", "origins", "timezone", "lang", "public")
REDIS_SCHEMES = ("redis", "rediss", "unix", "redis+sentinel", "redis+cluster")


class ConfigError(ValueError):
    """A setting is missing or wrong; the message names the variable."""


@dataclass(frozen=True)
class Site:
    """One registered portal."""

    id: str
    name: str
    timezone: str
    lang: str = "vi"
    origins: tuple[str, ...] = field(default_factory=tuple)
    public: bool = True  # False: dashboard, daily, pages, online and its listing need the admin token

    @property
    def zone(self) -> ZoneInfo:
        """Return the site's time zone."""
        return ZoneInfo(self.timezone)

    def allows(self, origin: str | None) -> bool:
        """Tell whether a page at `origin` may write; requests without an Origin may."""
        return not origin or not self.origins or origin.rstrip("/") in self.origins


@dataclass(frozen=True)
class RedisTarget:
    """Where the store lives, as REDIS_URL says; counter/transport.py connects to it."""

    url: str
    scheme: str
    hosts: tuple[tuple[str, int], ...] = ()  # Sentinels or Cluster seed nodes
    service: str = ""  # the Sentinel service name
    db: int = 0
    password: str | None = None


def parse_redis_url(url: str) -> RedisTarget:
    """Check a whole REDIS_URL and split it; a bad one is a ConfigError naming the variable."""
    name = "REDIS_URL"
    parts = urlsplit(url)
    if parts.scheme not in REDIS_SCHEMES or not url.startswith(parts.scheme + "://"):
        raise ConfigError(f"{name}: must start with " + ", ".join(s + "://" for s in REDIS_SCHEMES))
    path = [p for p in parts.path.split("/") if p]
    if parts.scheme in ("redis", "rediss", "unix"):
        try:
            redis.connection.parse_url(url)
            parts.port  # noqa: B018 - read for its check of the port
        except ValueError as exc:
            raise ConfigError(f"{name}: {exc}") from None
        if parts.scheme != "unix" and path and not (len(path) == 1 and path[0].isdigit()):
            raise ConfigError(f"{name}: the path must be a database number, not {parts.path!r}")
        if parts.scheme == "unix" and not parts.path:
            raise ConfigError(f"{name}: unix:// needs a socket path")
        return RedisTarget(url, parts.scheme)
    default_port = 26379 if parts.scheme == "redis+sentinel" else 6379
    hosts = tuple(_host_port(name, h, default_port) for h in parts.netloc.rpartition("@")[2].split(","))
    if parts.scheme == "redis+sentinel" and not path:
        raise ConfigError(f"{name}: redis+sentinel:// needs a service name, as "
                          "redis+sentinel://host:26379/service/db")
    allowed = 2 if parts.scheme == "redis+sentinel" else 0
    if len(path) > allowed or (len(path) == 2 and not path[1].isdigit()):
        raise ConfigError(f"{name}: unexpected path {parts.path!r}")
    return RedisTarget(url, parts.scheme, hosts, service=path[0] if path else "",
                       db=int(path[1]) if len(path) == 2 else 0,
                       password=unquote(parts.password) if parts.password else None)


def _host_port(name: str, text: str, default_port: int) -> tuple[str, int]:
    """Split "host:port" with a default port and a check of the port."""
    host, _, port = text.rpartition(":") if ":" in text else (text, "", "")
    if port and not (port.isdigit() and 0 < int(port) < 65536):
        raise ConfigError(f"{name}: bad port {port!r} in {text!r}")
    return host or "127.0.0.1", int(port or default_port)


def _int(env: dict, name: str, default: int, minimum: int = 0, maximum: int | None = None) -> int:
    """Read a whole number from `minimum` to `maximum` from `env[name]`."""
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, not {value}")
    if maximum is not None and value > maximum:
        raise ConfigError(f"{name} must be at most {maximum}, not {value}")
    return value


def _bind(env: dict) -> str:
    """Check COUNTER_BIND as gunicorn reads it: `host:port`, `[v6]:port`, `host` (port 8000), `unix:PATH`."""
    value = env.get("COUNTER_BIND", "").strip() or "127.0.0.1:8000"
    if value.startswith(("unix:", "fd://")):
        return value
    port = "8000"  # no port: gunicorn's; no host (":8000"): every interface
    if value.startswith("["):
        rest = value.partition("]")[2]
        if rest:
            port = rest[1:] if rest.startswith(":") else ""
    elif ":" in value:
        # gunicorn splits at the first colon: an IPv6 address needs its brackets.
        port = value.partition(":")[2]
    if not (port.isdigit() and 0 < int(port) < 65536):
        raise ConfigError(f"COUNTER_BIND must be host:port (port 1-65535) or unix:PATH, not {value!r}")
    return value


def _zone(name: str, value: str) -> str:
    """Check that `value` is an IANA time zone."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{name}: unknown time zone {value!r}") from None
    return value


def _site_id(name: str, value: str) -> str:
    """Check a site id against the contract's pattern."""
    if not SITE_ID.fullmatch(value):
        raise ConfigError(f"{name}: bad site id {value!r} (a-z, 0-9 and '-', at most 63)")
    return value


def _sites_file(path: str, default_zone: str) -> dict[str, Site]:
    """Read per-site settings from a TOML file."""
    name = "COUNTER_SITES_FILE"
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"{name}: cannot read {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{name}: {path} is not valid TOML: {exc}") from None
    table = data.get("sites", data)
    sites: dict[str, Site] = {}
    problems: list[str] = []
    for site_id, spec in table.items():
        try:
            site = _site(name, site_id, spec, default_zone, problems)
        except ConfigError as exc:
            problems.append(str(exc))
            continue
        if site:
            sites[site_id] = site
    if problems:
        raise ConfigErrors(problems)
    return sites


def _site(name: str, site_id: str, spec, default_zone: str, problems: list[str]) -> Site | None:
    """Read one site's table; each problem in it (a typo would loosen the site) joins `problems`."""
    _site_id(name, site_id)
    if not isinstance(spec, dict):
        raise ConfigError(f"{name}: [{site_id}] must be a table")
    where = f"{name}: [{site_id}]"
    found = len(problems)
    for key in spec:
        if key not in SITE_KEYS:
            close = difflib.get_close_matches(key, SITE_KEYS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(f"{where} unknown key {key!r}{hint}; known: {', '.join(SITE_KEYS)}")
    origins = spec.get("origins", [])
    if not isinstance(origins, list):
        problems.append(f"{where} origins must be a list of strings")
        origins = []
    allowed = tuple(_origin(o) for o in origins)
    for given, origin in zip(origins, allowed, strict=True):
        if origin is None:
            problems.append(f"{where} origins: {given!r} is not a page origin; write it as a browser sends "
                            "it, scheme and host (and a port other than the default), e.g. "
                            "\"https://ninhbinh.gov.vn\"; leave origins out to allow any page")
    lang = spec.get("lang", "vi")
    if lang not in LANGS:
        problems.append(f"{where} lang must be one of {', '.join(LANGS)}")
    public = spec.get("public", True)
    if not isinstance(public, bool):
        problems.append(f"{where} public must be true or false")
    try:
        zone = _zone(f"{where} timezone", spec.get("timezone", default_zone))
    except ConfigError as exc:
        problems.append(str(exc))
    if len(problems) > found:
        return None
    return Site(id=site_id, name=str(spec.get("name", site_id)), timezone=zone, lang=lang,
                origins=allowed, public=public)


def _origin(value) -> str | None:
    """Return a configured page origin as browsers send it (`https://host[:port]`), or None if it is not one.

    Scheme and host are lower-cased, a host in Unicode is written in ASCII (Python's
    IDNA 2003, which agrees with browsers except on ß, ς and joiners), a default port and
    a trailing "/" are dropped: the Origin header of a page is compared with it as it is.
    """
    if not isinstance(value, str):
        return None
    try:
        parts = urlsplit(value.strip())
        port = parts.port
        host = (parts.hostname or "").encode("idna").decode("ascii")
    except (ValueError, UnicodeError):
        return None
    scheme = parts.scheme.lower()
    if (scheme not in ("http", "https") or not host or parts.path not in ("", "/") or parts.query
            or parts.fragment or "@" in parts.netloc):
        return None
    if ":" in host:
        host = f"[{host}]"  # IPv6
    default = 443 if scheme == "https" else 80
    return f"{scheme}://{host}" + (f":{port}" if port not in (None, default) else "")


def _data_dir(env: dict, used: bool) -> str:
    """Read the embedded store's data directory; when `used`, its socket path must fit."""
    value = env.get("COUNTER_DATA_DIR", "").strip() or "var"
    sock = Path(value).resolve() / "redis.sock"
    if used and len(str(sock).encode()) > 100:  # sun_path holds 104-108 bytes, depending on the system
        raise ConfigError(f"COUNTER_DATA_DIR: {sock} is too long for a Unix socket path; "
                          "choose a shorter directory")
    return value


TOKEN_MIN_LENGTH = 24
MAX_SECONDS = 366 * 86400  # the longest online window or visit timeout


class ConfigErrors(ConfigError):
    """Every bad setting at once: one message that names each variable."""

    def __init__(self, problems: list[str]) -> None:
        """Keep the problems, one per variable, and say them in one line."""
        super().__init__("bad settings: " + "; ".join(problems))
        self.problems = problems


def _token(env: dict, name: str) -> str | None:
    """Read a bearer token; a short one is refused (its value is never quoted)."""
    value = env.get(name) or None
    if value is not None and len(value) < TOKEN_MIN_LENGTH:
        raise ConfigError(f"{name} must be at least {TOKEN_MIN_LENGTH} characters, not {len(value)}")
    return value


def from_env(env: dict) -> dict:
    """Build the app's settings from environment variables.

    Every variable is checked even after one was found bad, so that one
    ConfigErrors names them all.
    """
    problems: list[str] = []

    def check(fn, *args, fallback=None):
        """Return fn(*args), or note its ConfigError and return `fallback`."""
        try:
            return fn(*args)
        except ConfigError as exc:
            problems.extend(getattr(exc, "problems", [str(exc)]))
            return fallback

    zone = check(_zone, "COUNTER_TIMEZONE", env.get("COUNTER_TIMEZONE", "").strip() or "Asia/Ho_Chi_Minh",
                 fallback="Asia/Ho_Chi_Minh")
    sites: dict[str, Site] = {}
    if env.get("COUNTER_SITES_FILE"):
        sites.update(check(_sites_file, env["COUNTER_SITES_FILE"], zone, fallback={}))
    listed = env.get("COUNTER_SITES")
    if listed is None and not env.get("COUNTER_SITES_FILE"):
        listed = "demo"  # with a sites file, only its sites (and COUNTER_SITES') exist
    for site_id in (s.strip() for s in (listed or "").split(",")):
        if site_id and site_id not in sites and check(_site_id, "COUNTER_SITES", site_id):
            sites[site_id] = Site(id=site_id, name=site_id, timezone=zone)
    if not sites and not problems:
        if env.get("COUNTER_SITES_FILE") and not listed:
            problems.append(f"COUNTER_SITES_FILE: no site in {env['COUNTER_SITES_FILE']}")
        else:
            problems.append("COUNTER_SITES: no site configured")
    prefix = env.get("COUNTER_KEY_PREFIX", "").strip() or "vc"
    if not re.fullmatch(r"[A-Za-z0-9_.:-]{1,32}", prefix):
        problems.append("COUNTER_KEY_PREFIX: 1-32 characters of A-Z, a-z, 0-9, _ . : -")
    url = env.get("REDIS_URL", "").strip() or None
    if url:
        check(parse_redis_url, url)
    settings = {
        "REDIS_URL": url,
        "SITES": sites,
        # At most a year: far larger ones overflow Redis's key lifetimes, and every hit would fail.
        "ONLINE_WINDOW": check(_int, env, "COUNTER_ONLINE_WINDOW", 300, 1, MAX_SECONDS),
        "VISIT_TIMEOUT": check(_int, env, "COUNTER_VISIT_TIMEOUT", 1800, 1, MAX_SECONDS),
        "RATE_LIMIT": check(_int, env, "COUNTER_RATE_LIMIT", 120, 1),
        "NEW_VISIT_LIMIT": check(_int, env, "COUNTER_NEW_VISIT_LIMIT", 100, 1),
        "TRUSTED_PROXIES": check(_int, env, "COUNTER_TRUSTED_PROXIES", 0, 0),
        "ADMIN_TOKEN": check(_token, env, "COUNTER_ADMIN_TOKEN"),
        "METRICS_TOKEN": check(_token, env, "COUNTER_METRICS_TOKEN"),
        "KEY_PREFIX": prefix,
        # Distinct pages kept per site; the bound on what made-up paths can cost.
        "MAX_PATHS": check(_int, env, "COUNTER_MAX_PATHS", 10000, 1, 1_000_000),
        # At most the 5 s that the stats' Cache-Control allows anyway; every write
        # through this host shows at once (counter/stamps.py).
        "STATS_CACHE_MS": check(_int, env, "COUNTER_STATS_CACHE_MS", 500, 0, 5000),
        # Requests each gunicorn worker runs at once (deploy/gunicorn.conf.py); 0 would serve none.
        "CONNECTIONS": check(_int, env, "COUNTER_CONNECTIONS", 100, 1),
        # gunicorn's own (deploy/gunicorn.conf.py): 0 workers would serve nothing, a bad port crash.
        "WORKERS": check(_int, env, "WEB_CONCURRENCY", 2, 1),
        "BIND": check(_bind, env),
        # The embedded store's directory (REDIS_URL unset), relative to the working directory.
        "DATA_DIR": check(_data_dir, env, url is None, fallback="var"),
    }
    if problems:
        raise ConfigErrors(problems)
    return settings
