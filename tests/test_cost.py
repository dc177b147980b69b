"""Bounded CPU per request: no header, body, path or query string costs more than a few hits."""

from __future__ import annotations

import json
import random
import string
import time

import pytest
from helpers import BROWSER_UA, browser, flush, settings

from counter import create_app, privacy

BOUND = 5  # a worst-case request may cost at most this many normal hits
ROUNDS, BATCH = 5, 30
HUGE = "9" * 3000


def normal_hit(c, i: int):
    """A reader's page view: a browser, a visitor id, a path."""
    return c.post("/api/v1/sites/demo/hits", json={"visitor": f"reader-{i:012d}", "path": "/tin-tuc/1"})


FILLERS = {
    "letters": "a" * 8000,
    "vowels": "e" * 8000,
    "digits": "0" * 8000,
    "slashes": "/" * 8000,
    "words": "web" * 3000,
    "java": "Java" * 2000,
    "mixed": "".join(random.Random(7).choice(string.printable[:94]) for _ in range(600)),
}


def agent(i: int, kind: str) -> str:
    """A User-Agent built to be expensive for regex matching, different on every call."""
    return f"{i:08d}" + FILLERS[kind]  # unique at the front, so that cutting cannot make two equal


def nested(depth: int) -> str:
    """A JSON body of nested arrays just under 4 KiB."""
    return "[" * depth + "]" * depth


WORST = {
    # Long User-Agents of every shape, each one new so that no cache helps.
    **{f"user-agent {kind}": (lambda c, i, k=kind: c.post(
        "/api/v1/sites/demo/hits", json={"visitor": f"ua-{k}-{i:012d}"[:64]},
        headers={"User-Agent": agent(i, k)}))
       for kind in FILLERS},
    "body nested": lambda c, i: c.post("/api/v1/sites/demo/hits", data=nested(2040),
                                       content_type="application/json"),
    "body many keys": lambda c, i: c.post("/api/v1/sites/demo/hits", content_type="application/json",
                                          data=json.dumps({f"k{n}": n for n in range(400)})[:4090]),
    "body escapes": lambda c, i: c.post("/api/v1/sites/demo/hits", content_type="application/json",
                                        data='{"path": "' + "\\u0041" * 680 + '"}'),
    "body repeated keys": lambda c, i: c.post("/api/v1/sites/demo/hits", content_type="application/json",
                                              data="{" + ",".join(['"a":1'] * 800) + "}"),
    "path long site": lambda c, i: c.post("/api/v1/sites/" + "a" * 4000 + "/hits"),
    "path many slashes": lambda c, i: c.get("/api/v1/" + "/" * 4000 + "stats"),
    "path unknown": lambda c, i: c.get("/" + "x/" * 2000),
    "query many params": lambda c, i: c.post(
        "/api/v1/sites/demo/hits?" + "&".join(f"p{n}=1" for n in range(600)),
        json={"visitor": f"query-{i:012d}"}),
    "query badge fields": lambda c, i: c.get(
        "/api/v1/sites/demo/badge.svg?count=1&fields=" + ",".join(["total"] * 600)),
    "query huge number": lambda c, i: c.get(f"/api/v1/sites/demo/pages?limit={HUGE}"),
    "query huge date": lambda c, i: c.get(f"/api/v1/sites/demo/daily?from={HUGE}&to={HUGE}"),
    "query dashboard days": lambda c, i: c.get(f"/dashboard/demo?days={HUGE}"),
    "header origin": lambda c, i: c.post("/api/v1/sites/demo/hits", json={"visitor": f"origin-{i:012d}"},
                                         headers={"Origin": "https://" + "o" * 4000}),
    "header referer": lambda c, i: c.get("/api/v1/sites/demo/badge.svg?count=1",
                                         headers={"Referer": "https://" + "r" * 4000}),
    "header accept": lambda c, i: c.get("/api/v1/sites/demo/stats",
                                        headers={"Accept": ",".join(["text/csv;q=0.5"] * 400)}),
    "header etags": lambda c, i: c.get("/api/v1/sites/demo/stats",
                                       headers={"If-None-Match": ",".join(['"x"'] * 1000)}),
}


def cpu_per_request(send, c, start: int) -> float:
    """Return this thread's CPU seconds per request over one batch."""
    before = time.thread_time()
    for i in range(start, start + BATCH):
        response = send(c, i)
        assert response.status_code < 500, response.data[:200]
    return (time.thread_time() - before) / BATCH


@pytest.mark.redis
def test_no_request_costs_more_than_a_few_hits(real_redis, clock):
    """On a real redis-server, whose work is in its own process: what is measured is the service's.

    (fakeredis would run in this process, and time out under a busy machine.)
    """
    flush(real_redis.url)
    # Limits out of the way: what is measured is the work of an accepted request.
    config = settings(COUNTER_RATE_LIMIT="100000000", COUNTER_NEW_VISIT_LIMIT="100000000")
    config.update(REDIS_URL=real_redis.url, CLOCK=clock, TESTING=True)
    c = browser(create_app(config))
    for i in range(50):  # warm up: connections, compiled templates, the script loaded
        normal_hit(c, 10**9 + i)
    for send in WORST.values():
        send(c, 10**9)
    # Rounds interleave the kinds, so that a busy moment of the machine hits them all alike.
    spent = {name: [] for name in ("hit", *WORST)}
    for r in range(ROUNDS):
        spent["hit"].append(cpu_per_request(normal_hit, c, r * BATCH))
        for name, send in WORST.items():
            spent[name].append(cpu_per_request(send, c, r * BATCH))
    hit = min(spent["hit"])
    ratios = {name: round(min(times) / hit, 2) for name, times in spent.items()}
    print(f"normal hit {hit * 1e3:.3f} ms CPU; worst-case ratios: {ratios}")
    assert all(ratio <= BOUND for ratio in ratios.values()), ratios


def test_the_user_agent_is_cut_before_matching_and_cached_on_the_cut():
    privacy._is_bot.cache_clear()
    long_tail = BROWSER_UA + " " + "x" * 5000
    assert privacy.is_bot(long_tail) is False
    assert privacy.is_bot(BROWSER_UA + " " + "x" * 5000 + "Googlebot") is False  # beyond the cut
    info = privacy._is_bot.cache_info()
    assert (info.hits, info.misses) == (1, 1)  # the two differ only past the cut: one entry
    assert privacy.is_bot("Googlebot/2.1 " + "x" * 5000) is True
