"""What stands in Redis for a person: short keyed hashes, never raw values."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import re
from functools import lru_cache

from crawlerdetect.providers.crawlers import data as CRAWLERS
from crawlerdetect.providers.exclusions import data as EXCLUSIONS

VISITOR_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
HIT_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
# Characters of User-Agent looked at; the rest is cut off before any matching,
# so a long header costs no more than a 256-character one.
UA_LIMIT = 256
# IPv6 clients are limited per /64 and, together, per /48 (see store.NETWORK_SHARE).
NETWORK_PREFIX = 48
# Tools that crawlerdetect's list lets through but that are not browsers
# (headless and monitoring tools, HTTP clients and load generators): the
# widget only runs in browsers. Matched case-insensitively anywhere.
EXTRA_BOTS = (
    "headless", "phantomjs", "puppeteer", "playwright", "selenium", "webdriver", "lighthouse",
    "pingdom", "uptime", "monitor", "statuscake", "site24x7", "zabbix", "nagios", "check_http",
    "crawl", "spider", "slurp", "scrape",
    # HTTP clients and load tools
    "windowspowershell", "insomnia/", "paw/", "k6/", "hey/", "artillery", "locust", "deno/",
    "bun/", "guzzle", "faraday", "mechanize", "superagent", "urllib3", "websockets/",
    "alamofire", "reactor-netty", "hyper/", "postman", "cfnetwork/",
)
# Whole User-Agents that are a bare runtime or library name.
EXTRA_EXACT = frozenset({"java", "node", "python", "ruby", "go", "rust", "php", "request", "ky",
                         "httpx", "swift", "perl"})
_PLAIN = re.compile(r"^(\^?)((?:[^\\.^$*+?{}\[\]|()]|\\[^A-Za-z0-9])+)$")
_LEADING_RUN = re.compile(r"^\[[^\]]*\][*+]")


def _split_patterns(patterns: list[str]) -> tuple[tuple[str, ...], tuple[str, ...], re.Pattern]:
    """Split crawlerdetect's patterns into plain substrings, plain prefixes and true regexes.

    One alternation of 1,400 patterns costs up to 45 us per character of
    User-Agent in Python's `re`; the plain substrings become one trie-shaped
    regex instead (a few us per character at worst), and a leading `[...]*`
    run (which cannot change whether a search matches) is dropped because it
    makes the search quadratic.
    """
    inner, prefixes, rest = [], [], []
    for pattern in patterns:
        plain = _PLAIN.match(pattern)
        if plain:
            text = re.sub(r"\\(.)", r"\1", plain.group(2)).lower()
            (prefixes if plain.group(1) else inner).append(text)
        else:
            rest.append(_LEADING_RUN.sub("", pattern))
    return tuple(inner), tuple(prefixes), re.compile("|".join(rest), re.IGNORECASE)


def _trie(words) -> re.Pattern:
    """Compile words into one regex whose alternatives share their prefixes."""
    root: dict = {}
    for word in words:
        node = root
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict) -> str:
        if "" in node and len(node) == 1:
            return ""
        alts = [re.escape(ch) + build(child) for ch, child in sorted(node.items()) if ch]
        body = alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"
        return "(?:" + body + ")?" if "" in node else body

    return re.compile(build(root))


_INNER, _PREFIXES, _CRAWLER_RX = _split_patterns(CRAWLERS)
_INNER_RX = _trie(_INNER + EXTRA_BOTS)
# Browser words (Mozilla/5.0, Safari/537.36, Windows NT ...) taken out before matching.
_EXCLUSIONS = re.compile("|".join(EXCLUSIONS), re.IGNORECASE)


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


@lru_cache(maxsize=8192)
def client_keys(secret: bytes, ip: str) -> tuple[str, str]:
    """Return the hashes of a client and of its network; cached, as a client sends many requests."""
    return client_hash(secret, ip), network_hash(secret, ip)


def client_hash(secret: bytes, ip: str) -> str:
    """Hash a client address for its limits; IPv6 is grouped by /64."""
    return _digest(client_group(ip).encode(), secret, b"client")


def network_hash(secret: bytes, ip: str) -> str:
    """Hash an IPv6 client's /48 for the network's limits; "" for IPv4."""
    network = client_network(ip)
    return _digest(network.encode(), secret, b"network") if network else ""


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


def client_network(ip: str) -> str:
    """Return the IPv6 /48 an address belongs to, or "" where there is none (IPv4)."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return ""
    if addr.version == 4 or addr.ipv4_mapped:
        return ""
    return str(ipaddress.ip_network(f"{addr}/{NETWORK_PREFIX}", strict=False))


def pseudonym(key: bytes, who: str) -> str:
    """Name a client in the admin log by a keyed hash (HMAC-SHA256) of its address group."""
    return "client-" + hmac.new(key, who.encode(), hashlib.sha256).hexdigest()[:16]


def is_bot(user_agent: str) -> bool:
    """Tell whether a User-Agent is a bot in the contract's sense (not a person's browser)."""
    return _is_bot(user_agent[:UA_LIMIT])


@lru_cache(maxsize=4096)
def _is_bot(agent: str) -> bool:
    """Match a cut User-Agent; cached on exactly what is matched."""
    agent = agent.strip()
    if not agent or agent.lower() in EXTRA_EXACT:
        return True
    rest = _EXCLUSIONS.sub("", agent)
    if not rest.strip():
        return False
    low = rest.lower()
    return (low.startswith(_PREFIXES) or _INNER_RX.search(low) is not None
            or _CRAWLER_RX.search(rest) is not None)
