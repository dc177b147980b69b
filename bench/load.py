"""Load the service with wrk: a no-op baseline, hits, stats and daily, interleaved.

Starts its own redis-server and the service with the production gunicorn
config on loopback, runs each load several times in turn, and prints for each
the median requests/s, its p99, and the median of its ratios to the no-op
(GET /healthz, same app, same config) of the same round. Then it paces new
visitors' hits at half the measured maximum (exponential gaps per connection)
and prints that run's p99. It checks that the hits were counted as meant:
as people (not bots), and every "new" visitor a new visit. About a minute and
a half with the defaults.

    python bench/load.py [--rounds 3] [--seconds 5] [--connections 16]
    GUNICORN_CMD_ARGS="--worker-class sync" WEB_CONCURRENCY=4 python bench/load.py
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
LOADS = [
    ("no-op GET /healthz", "/healthz", None),
    ("POST hits, new visitors", "/api/v1/sites/demo/hits", "hits_distinct.lua"),
    ("POST hits, returning", "/api/v1/sites/demo/hits", "hits_returning.lua"),
    ("GET stats", "/api/v1/sites/demo/stats", None),
    ("GET daily (30 days)", "/api/v1/sites/demo/daily", None),
]


def free_port() -> int:
    """Return a free loopback port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 20) -> None:
    """Wait until `url` answers."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def wrk(url: str, script: str | None, seconds: int, connections: int,
        delay_ms: float | None = None) -> tuple[float, float]:
    """Run wrk once; return requests per second and p99 latency in ms."""
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-H", f"User-Agent: {UA}"]
    if script:
        cmd += ["-s", str(ROOT / "bench" / "wrk" / script)]
    env = dict(os.environ, BENCH_DELAY_MS=str(delay_ms)) if delay_ms else None
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True, env=env).stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        sys.exit(f"wrk saw {errors.group(1)} error responses on {url}:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    return rps, float(p99.group(1)) * scale


def stats(base: str) -> dict:
    """Read the bench site's stats object."""
    with urllib.request.urlopen(base + "/api/v1/sites/demo/stats", timeout=5) as answer:
        return json.load(answer)


def counted_as_meant(before: dict, after: dict, distinct: bool) -> None:
    """Stop the bench if its hits were taken for bots, or new visitors were not new visits."""
    if before["date"] != after["date"]:
        return  # local midnight passed: today's numbers started again
    views = after["pageviews_today"] - before["pageviews_today"]
    visits = after["today"] - before["today"]
    if after["bots_today"] != before["bots_today"] or views <= 0:
        sys.exit(f"the bench's hits were not counted as page views: {before} -> {after}")
    if distinct and visits != views:
        sys.exit(f"{views} page views by new visitors made {visits} visits")


def main() -> None:
    """Start everything, run the loads, print the table."""
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seconds", type=int, default=5)
    p.add_argument("--connections", type=int, default=16)
    args = p.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed: apt-get install wrk")
    with tempfile.TemporaryDirectory() as tmp:
        rport, port = free_port(), free_port()
        redis = subprocess.Popen(["redis-server", "--port", str(rport), "--dir", tmp, "--save", "",
                                  "--appendonly", "yes", "--appendfsync", "everysec"],
                                 stdout=subprocess.DEVNULL)
        env = dict(os.environ, REDIS_URL=f"redis://127.0.0.1:{rport}/0", COUNTER_BIND=f"127.0.0.1:{port}",
                   COUNTER_RATE_LIMIT="1000000000", COUNTER_NEW_VISIT_LIMIT="1000000000",
                   PROMETHEUS_MULTIPROC_DIR=os.path.join(tmp, "metrics"))
        env.setdefault("WEB_CONCURRENCY", "2")
        server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py",
                                   "--access-logfile", "/dev/null", "wsgi:app"],
                                  cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_http(base + "/readyz")
            results: dict[str, list[tuple[float, float]]] = {name: [] for name, _, _ in LOADS}
            for _name, path, script in LOADS:  # warm up every worker and code path
                wrk(base + path, script, 1, args.connections)
            for _ in range(args.rounds):
                for name, path, script in LOADS:
                    before = stats(base)
                    results[name].append(wrk(base + path, script, args.seconds, args.connections))
                    if script:
                        counted_as_meant(before, stats(base), script == "hits_distinct.lua")
            # Half the maximum: each connection waits connections/rate on average.
            most = statistics.median(r for r, _ in results[LOADS[1][0]])
            paced = wrk(base + LOADS[1][1], LOADS[1][2], args.seconds * 2, args.connections,
                        delay_ms=1000 * args.connections / (most / 2))
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
            redis.terminate()
            redis.wait()
    noops = [r for r, _ in results[LOADS[0][0]]]
    print(f"workers={env['WEB_CONCURRENCY']} {os.environ.get('GUNICORN_CMD_ARGS', '')} "
          f"connections={args.connections} rounds={args.rounds}x{args.seconds}s")
    print(f"{'load':28} {'req/s':>8} {'ratio':>6} {'p99 ms':>7}")
    for name, _, _ in LOADS:
        rps = statistics.median(r for r, _ in results[name])
        ratio = statistics.median(r / n for (r, _), n in zip(results[name], noops, strict=True))
        p99 = statistics.median(q for _, q in results[name])
        print(f"{name:28} {rps:8.0f} {ratio:6.2f} {p99:7.1f}")
    print(f"{'hits, new, paced at ~half':28} {paced[0]:8.0f} {paced[0] / most:6.2f} {paced[1]:7.1f}"
          "   (ratio here: to the hits' maximum)")


if __name__ == "__main__":
    main()
