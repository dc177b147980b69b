"""What stands in Redis for a person: short keyed hashes, never raw values."""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import re
from functools import lru_cache

from crawlerdetect.crawlerdetect import get_compiled_crawler_regex, get_compiled_exclusions_regex

VISITOR_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
HIT_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
UA_LIMIT = 512  # characters of User-Agent looked at; the rest is ignored
# Tools crawlerdetect lets through but a counter must not count.
EXTRA_BOTS = re.compile(
    r"headless|phantomjs|puppeteer|playwright|selenium|webdriver|lighthouse|"
    r"pingdom|uptime|monitor|statuscake|site24x7|zabbix|nagios|check_http|"
    r"bot\b|crawl|spider|slurp|scrape",
    re.IGNORECASE,
)
# Plain HTTP libraries that crawlerdetect lists: by the contract's words they
# are not crawlers, spiders, bots, monitors or headless tools, so they are
# counted (and held back by the rate limits) unless something else matches.
HTTP_LIBRARIES = re.compile(
    r"python-requests|python-httpx|python-urllib|aiohttp|curl|wget|"
    r"go-http-client|okhttp|axios|node-fetch|undici|java/|libwww-perl|httpie",
    re.IGNORECASE,
)


def _digest(data: bytes, key: bytes, person: bytes) -> str:
    """Return a 12-character keyed hash (72 bits) of `data`."""
    raw = hashlib.blake2b(data, digest_size=9, key=key, person=person).digest()
    return base64.urlsafe_b64encode(raw).decode()


def visitor_hash(site: str, visitor: str) -> str:
    """Hash a widget's visitor id to a fixed short member."""
    return _digest(visitor.encode(), site.encode(), b"visitor")


def hit_hash(site: str, hit: str) -> str:
    """Hash a hit id to a fixed short member."""
    return _digest(hit.encode(), site.encode(), b"hit")


def anonymous_visitor(salt: bytes, ip: str, user_agent: str, site: str) -> str:
    """Derive a visitor for a request without an id; it changes with the salt."""
    data = "\x00".join((ip, user_agent[:UA_LIMIT], site)).encode()
    return _digest(data, salt, b"anon")


def client_hash(salt: bytes, ip: str) -> str:
    """Hash a client address for rate limits; IPv6 is grouped by /64."""
    return _digest(client_group(ip).encode(), salt, b"client")


def client_group(ip: str) -> str:
    """Return the address a limit applies to: the IPv4 address or the IPv6 /64."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if addr.version == 4:
        return str(addr)
    if addr.ipv4_mapped:
        return str(addr.ipv4_mapped)
    return str(ipaddress.ip_network(f"{addr}/64", strict=False).network_address)


@lru_cache(maxsize=4096)
def is_bot(user_agent: str) -> bool:
    """Tell whether a User-Agent names a crawler, monitor or headless tool."""
    agent = user_agent[:UA_LIMIT].strip()
    if not agent:
        return True
    if EXTRA_BOTS.search(agent):
        return True
    rest = HTTP_LIBRARIES.sub("", get_compiled_exclusions_regex().sub("", agent))
    return bool(rest) and bool(get_compiled_crawler_regex().search(rest))
