"""Measure what pages cost in Redis at the bound: bytes per page and per site.

Starts its own redis-server, sends one page view of each of COUNTER_MAX_PATHS
distinct pages through the hit script (so each page is in the all-time, the
month's and the day's table), then reads MEMORY USAGE of each table (SAMPLES 0:
exact) and the growth of used_memory. Then sends views of made-up pages beyond
the bound and shows that nothing grows.

    python bench/pages_memory.py [--pages 10000] [--length 64] [--beyond 20000]
"""

from __future__ import annotations

import argparse
import random
import string
import sys
import tempfile
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.memory import start_redis, used
from counter.store import PAGE_DAY_TABLE_DAYS, Store

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
SITE = "demo"


def page_names(n: int, length: int, rng: random.Random) -> list[str]:
    """Return `n` distinct article-like paths of `length` characters."""
    names = set()
    while len(names) < n:
        slug = "".join(rng.choices(string.ascii_lowercase + "-", k=length - 24))
        names.add(f"/tin-tuc/chinh-tri/{slug}.html"[:length])
    return sorted(names)


def main() -> None:
    """Fill the tables to the bound and print the measurements as a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=10000)
    parser.add_argument("--length", type=int, default=64)
    parser.add_argument("--beyond", type=int, default=20000)
    args = parser.parse_args()
    rng = random.Random(1)
    now = datetime(2026, 11, 25, 9, tzinfo=ZONE).timestamp()
    with tempfile.TemporaryDirectory() as workdir:
        proc, port = start_redis(workdir)
        try:
            client = redis.Redis(port=port, decode_responses=True)
            store = Store(f"redis://127.0.0.1:{port}/0", rate_limit=10**9, new_visit_limit=10**9,
                          max_paths=args.pages)
            store.hit(SITE, ZONE, now, "v", "c", "", "/")  # the site's other keys
            before = used(client)
            for name in page_names(args.pages - 1, args.length, rng):
                store.hit(SITE, ZONE, now, "v", "c", "", name)
            grown = used(client) - before
            tables = {kind: client.memory_usage(key, samples=0) for kind, key in (
                ("all-time", "vc:{demo}:pages:all"), ("month", "vc:{demo}:pages:m:2026-11"),
                ("day", "vc:{demo}:pages:d:2026-11-25"))}
            keys = client.dbsize()
            for _ in range(args.beyond):
                made_up = "/" + "".join(rng.choices(string.ascii_letters, k=args.length - 1))
                store.hit(SITE, ZONE, now, "v", "c", "", made_up)
            after = used(client) - before
            assert client.zcard("vc:{demo}:pages:all") == args.pages + (args.beyond > 0)  # and "(other)"
            assert client.dbsize() == keys
            print(f"{args.pages:,} pages of {args.length} characters, redis-server "
                  f"{client.info('server')['redis_version']}\n")
            print("| what | bytes |\n| --- | --- |")
            for kind, size in tables.items():
                print(f"| {kind} table, MEMORY USAGE | {size:,} ({size / args.pages:.0f} per page) |")
            print(f"| used_memory growth, the three tables | {grown:,} |")
            worst = tables["all-time"] + PAGE_DAY_TABLE_DAYS * tables["day"]
            print(f"| a site at the bound: all-time and {PAGE_DAY_TABLE_DAYS} full day tables | {worst:,} |")
            print(f"| and each month kept for ever | {tables['month']:,} |")
            print(f"| used_memory growth from {args.beyond:,} more made-up pages beyond the bound "
                  f"| {after - grown:,} |")
        finally:
            proc.terminate()
            proc.wait()


if __name__ == "__main__":
    main()
