"""Measure what a site costs in Redis: per active visitor and per day of history.

Starts its own redis-server in a temporary directory and drives the store's
hit script with a controlled clock, pipelined so that a million page views
take a minute or two rather than an hour:

1. 1,000,000 page views (each with a hit id) from 200,000 visitors over 30
   simulated days, 100 visitors behind each client address, under the
   service's default limits: Redis `used_memory` growth, before and after dropping the
   keys whose TTL would have run out by the last simulated day (the run takes
   minutes of real time, so Redis's own expiry cannot do it), and what a day
   of history costs.
2. A burst of 50,000 distinct visitors inside one visit window, 100 behind
   each client address, under the default limits: bytes per active visitor,
   and per page view for the hit ids.

    python bench/memory.py [--pageviews 1000000] [--visitors 200000] [--days 30] [--active 50000]
"""

from __future__ import annotations

import argparse
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from counter.privacy import hit_hash, visitor_hash
from counter.store import KEEP_GRACE, Store

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
SITE = "demo"
OFFICE = 100  # visitors behind one client address in the burst (part 2)


def start_redis(workdir: str) -> tuple[subprocess.Popen, int]:
    """Start a throwaway redis-server; return it and its port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([shutil.which("redis-server"), "--port", str(port), "--save", "",
                             "--appendonly", "no", "--dir", workdir], stdout=subprocess.DEVNULL)
    client = redis.Redis(port=port)
    for _ in range(100):
        try:
            client.ping()
            return proc, port
        except redis.ConnectionError:
            time.sleep(0.05)
    raise RuntimeError("redis-server did not start")


def used(client: redis.Redis) -> int:
    """Return Redis's used_memory."""
    return int(client.info("memory")["used_memory"])


def usage(client: redis.Redis, pattern: str) -> tuple[int, int]:
    """Return the summed MEMORY USAGE and the number of keys matching `pattern`."""
    keys = list(client.scan_iter(pattern, count=1000))
    return sum(client.memory_usage(k, samples=0) or 0 for k in keys), len(keys)


def expire_by_clock(client: redis.Redis, store: Store, now: float) -> None:
    """Delete the short-lived keys whose TTL would have run out by `now` (simulated)."""
    day, hour = int(now // 86400), int(now // 3600)
    kept_since = (now - store.online_window - KEEP_GRACE) * 1000  # a client's `keep` set lives this long
    for key in client.scan_iter(f"vc:{{{SITE}}}:*", count=1000):
        kind, _, stamp = key.decode().rpartition(":")
        short = ":rl:" in kind or ":nv:" in kind or ":hb:" in kind  # two minutes or two hours at most
        if (short or (":hits" in kind and int(stamp) < day - 1) or (":min" in kind and int(stamp) < hour - 1)
                or (":keep" in kind and client.zrange(key, -1, -1, withscores=True)[0][1] < kept_since)):
            client.delete(key)


def month(args, store: Store, client: redis.Redis) -> dict:
    """Part 1: a month of traffic; return what it cost."""
    rng = random.Random(1)
    start = datetime(2026, 11, 1, tzinfo=ZONE).timestamp()
    step = args.days * 86400 / args.pageviews
    ids = [visitor_hash(SITE, f"visitor-{i:016d}") for i in range(args.visitors)]
    who = (rng.randrange(args.visitors) for _ in range(args.pageviews))
    views = ((start + i * step, ids[v], f"client-{v // OFFICE}", hit_hash(SITE, f"hit-{i:016d}"))
             for i, v in enumerate(who))
    before = used(client)
    began = time.monotonic()
    counted = store.hit_many(SITE, ZONE, views)
    took = time.monotonic() - began
    if counted != args.pageviews:
        raise RuntimeError(f"{args.pageviews - counted} of the month's page views were refused")
    grown = used(client) - before
    end = start + args.pageviews * step
    expire_by_clock(client, store, end)
    kept = used(client) - before
    history, _ = usage(client, f"vc:{{{SITE}}}:m:*")
    sketches, days = usage(client, f"vc:{{{SITE}}}:u:*")
    hits, _ = usage(client, f"vc:{{{SITE}}}:hits:*")
    seen, _ = usage(client, f"vc:{{{SITE}}}:seen")
    return {"counted": counted, "calls_per_s": args.pageviews / took, "grown": grown, "kept": kept,
            "per_day": history / args.days, "sketch_per_day": sketches / max(days, 1),
            "hit_ids": hits, "seen": seen}

def burst(args, url: str, client: redis.Redis) -> dict:
    """Part 2: many distinct visitors inside one visit window; return bytes per visitor.

    They come OFFICE to a client address, under the service's default limits:
    its online cap (COUNTER_RATE_LIMIT visitors per address) keeps each
    address's `keep` set small, as in production.
    """
    client.flushall()
    store = Store(url, new_visit_limit=10**9)
    t = datetime(2026, 11, 25, 9, tzinfo=ZONE).timestamp()
    n = args.active
    before = used(client)
    counted = store.hit_many(SITE, ZONE, ((t + i * 0.01, visitor_hash(SITE, f"active-{i:016d}"),
                                          f"client-{i // OFFICE}", "") for i in range(n)))
    if counted != n:
        raise RuntimeError(f"{n - counted} of the burst's {n} page views were refused")
    visitors = used(client) - before
    seen, _ = usage(client, f"vc:{{{SITE}}}:seen")
    keep, _ = usage(client, f"vc:{{{SITE}}}:keep:*")
    before = used(client)
    store.hit_many(SITE, ZONE, ((t + 600 + i * 0.01, visitor_hash(SITE, f"active-{i:016d}"),
                                 f"client-{i // OFFICE}", hit_hash(SITE, f"burst-hit-{i:016d}"))
                                for i in range(n)))
    hits = used(client) - before
    return {"per_visitor": visitors / n, "seen_per_visitor": seen / n, "keep_per_visitor": keep / n,
            "per_hit_id": hits / n}


def measure(args) -> tuple[dict, dict]:
    """Run both parts on a redis-server of their own; return their figures."""
    with tempfile.TemporaryDirectory() as tmp:
        proc, port = start_redis(tmp)
        try:
            client = redis.Redis(port=port)
            # The service's default limits: visitors come OFFICE to a client address.
            store = Store(f"redis://127.0.0.1:{port}/0")
            return month(args, store, client), burst(args, store.url, client)
        finally:
            proc.terminate()
            proc.wait()


def parser() -> argparse.ArgumentParser:
    """Return the command line's options (bench/load.py reuses them)."""
    p = argparse.ArgumentParser()
    p.add_argument("--pageviews", type=int, default=1_000_000)
    p.add_argument("--visitors", type=int, default=200_000)
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--active", type=int, default=50_000)
    return p


def main() -> None:
    """Run both parts and print what they measured."""
    args = parser().parse_args()
    m, b = measure(args)
    print(f"{args.pageviews:,} page views from {args.visitors:,} visitors over {args.days} days "
          f"({m['counted']:,} counted, {m['calls_per_s']:,.0f} script calls/s pipelined)")
    print(f"  used_memory growth                {m['grown']:12,d} bytes")
    print(f"  ... after the expired keys go     {m['kept']:12,d} bytes")
    print(f"  daily numbers (month hashes)      {m['per_day']:12,.1f} B per day, kept for ever")
    print(f"  daily HyperLogLogs                {m['sketch_per_day']:12,.1f} B per day, kept 400 days")
    print(f"  hit ids of the last two days      {m['hit_ids']:12,d} bytes")
    print(f"  online/visit sorted set           {m['seen']:12,d} bytes")
    print(f"{args.active:,} visitors active within the visit window")
    print(f"  used_memory growth                {b['per_visitor']:12,.1f} bytes per visitor")
    print(f"  ... of it the online/visit set    {b['seen_per_visitor']:12,.1f} bytes per visitor")
    print(f"  ... and the online cap's sets     {b['keep_per_visitor']:12,.1f} bytes per visitor")
    print(f"  hit ids (kept 24-48 h)            {b['per_hit_id']:12,.1f} bytes per page view")

if __name__ == "__main__":
    main()
