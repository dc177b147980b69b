"""Measure what a site costs in Redis: per active visitor and per day of history.

Starts its own redis-server in a temporary directory, drives the store with a
controlled clock, and prints MEMORY USAGE of each kind of key.

    python bench/memory.py [--visitors 50000] [--days 365]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from counter.privacy import hit_hash, visitor_hash
from counter.store import Store

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")


def start_redis(workdir: str) -> tuple[subprocess.Popen, int]:
    """Start a throwaway redis-server; return it and its port."""
    port = 6390 + int(time.time()) % 500
    proc = subprocess.Popen([shutil.which("redis-server"), "--port", str(port), "--save", "",
                             "--appendonly", "no", "--dir", workdir],
                            stdout=subprocess.DEVNULL)
    client = redis.Redis(port=port)
    for _ in range(100):
        try:
            client.ping()
            return proc, port
        except redis.ConnectionError:
            time.sleep(0.05)
    raise RuntimeError("redis-server did not start")


def usage(client: redis.Redis, pattern: str) -> int:
    """Sum MEMORY USAGE over the keys matching `pattern`."""
    return sum(client.memory_usage(k, samples=0) or 0 for k in client.scan_iter(pattern))


def main() -> None:
    """Run the measurement and print a table."""
    p = argparse.ArgumentParser()
    p.add_argument("--visitors", type=int, default=50_000)
    p.add_argument("--days", type=int, default=365)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        proc, port = start_redis(tmp)
        try:
            url = f"redis://127.0.0.1:{port}/0"
            client = redis.Redis(port=port)
            store = Store(url, rate_limit=10**9, new_visit_limit=10**9)
            t = datetime(2026, 11, 25, 9, tzinfo=ZONE).timestamp()
            before = int(client.info("memory")["used_memory"])
            for i in range(args.visitors):
                store.hit("demo", ZONE, t + i * 0.01, visitor_hash("demo", f"visitor-{i:016d}"),
                          "client", hit_hash("demo", f"hit-{i:012d}"))
            grown = int(client.info("memory")["used_memory"]) - before
            n = args.visitors
            seen = usage(client, "vc:{demo}:seen")
            hits = usage(client, "vc:{demo}:hits:*")
            uniq = usage(client, "vc:{demo}:u:*")
            print(f"{n} visitors active within the visit window (one page view each, with hit ids)")
            print(f"  used_memory growth           {grown / n:8.1f} bytes per visitor")
            print(f"  online/visit sorted set      {seen / n:8.1f} bytes per visitor")
            print(f"  hit ids (kept 24-48 h)       {hits / n:8.1f} bytes per page view")
            print(f"  today's HyperLogLog          {uniq:8d} bytes in all (dense: it grows no further)")

            client.flushall()
            start = datetime(2025, 1, 1, 12, tzinfo=ZONE)
            for d in range(args.days):
                day = (start + timedelta(days=d)).timestamp()
                for v in range(3):
                    store.hit("demo", ZONE, day + v, visitor_hash("demo", f"v-{d}-{v:012d}"), "client")
                store.bot("demo", ZONE, day)
            months = usage(client, "vc:{demo}:m:*")
            uniq = usage(client, "vc:{demo}:u:*")
            print(f"{args.days} days of history (3 visits, 3 page views, 1 bot, a peak each day)")
            print(f"  daily numbers (month hashes) {months / args.days:8.1f} bytes per day, kept for ever")
            print(f"  daily HyperLogLogs           {uniq / args.days:8.1f} bytes per day, kept {400} days")
        finally:
            proc.terminate()
            proc.wait()


if __name__ == "__main__":
    main()
