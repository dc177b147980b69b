"""Load the service and two baselines with wrk, side by side, and print the performance table.

Starts its own redis-server (AOF everysec) and, on loopback, five gunicorn
servers with the same number of workers: the service under the production
config (deploy/gunicorn.conf.py), and the two baselines, each under sync and
under gevent workers:

- bench/noop.py, a bare Flask app answering a constant JSON object;
- bench/trivial.py, the trivial counter: one INCR of one key with redis-py.

It preloads the site's visit set with 200,000 visitors and its month hash
with the month's earlier days, then runs every load for a few seconds, in
turn, for several rounds: the baselines, our /healthz, hits by new visitors,
hits by returning visitors and stats. Each baseline keeps the worker class
that served it best; each of our loads is compared with its baseline of the
same round (hits and stats with the trivial counter, /healthz with the
no-op). Around each hits run it resets Redis's commandstats, for the script's
time per hit. Then it paces new visitors' hits at half their measured maximum
for the p99 at that rate, and measures bytes per active visitor and per
site-day with bench/memory.py. It checks that the hits were counted as
meant: as people (not bots), every new visitor a new visit. About four and a
half minutes with the defaults.

    python bench/load.py [--rounds 3] [--seconds 5] [--connections 16] [--json out.json]
    python bench/load.py --smoke     # a few seconds: checks the bench runs, not the speeds
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
from contextlib import ExitStack
from pathlib import Path
from zoneinfo import ZoneInfo

import redis

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))
import memory  # noqa: E402  (bench/memory.py)

from counter.clock import local_date  # noqa: E402
from counter.store import MONTH, SEEN, UNIQ, Store  # noqa: E402

# Our service runs as behind the proxy of deploy/nginx.conf (COUNTER_TRUSTED_PROXIES=1):
# every request says its client in X-Forwarded-For, this one unless a wrk script
# says another (the hit loads send 50 requests from each address of 10.0.0.0/8).
CLIENT = "192.0.2.1"
ZONE = "Asia/Ho_Chi_Minh"  # the bench site's (COUNTER_TIMEZONE's default)
UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
SITE = "demo"
HITS = f"/api/v1/sites/{SITE}/hits"
STATS = f"/api/v1/sites/{SITE}/stats"
# Baselines: name -> (module, what our loads call it).
BASELINES = {"noop": ("noop", "bare Flask no-op"), "trivial": ("trivial", "trivial counter (one INCR)")}
CLASSES = ("sync", "gevent")
# (key, label, server, path, wrk script, baseline it is compared with)
LOADS = [
    *[(f"{b}-{k}", f"{label}, {k}", f"{b}-{k}", "/", "hits_distinct.lua" if b == "trivial" else None, None)
      for b, (_, label) in BASELINES.items() for k in CLASSES],
    ("healthz", "our GET /healthz", "ours", "/healthz", None, "noop"),
    ("hits_new", "our POST hits, new visitors", "ours", HITS, "hits_distinct.lua", "trivial"),
    ("hits_returning", "our POST hits, returning", "ours", HITS, "hits_returning.lua", "trivial"),
    ("stats", "our GET stats", "ours", STATS, None, "trivial"),
]
SCRIPT_COMMANDS = ("cmdstat_evalsha", "cmdstat_eval", "cmdstat_evalsha_ro", "cmdstat_fcall")
# (what, measured key, must reach, goal, higher is better). The memory figures
# must be no worse than before (112 and 45 bytes), give or take the allocator's 5 %.
TARGETS = [
    ("hits by new visitors / trivial counter", "ratio:hits_new", 0.85, 1.0, True),
    ("hits by returning visitors / trivial counter", "ratio:hits_returning", 0.9, 1.1, True),
    ("stats / trivial counter", "ratio:stats", 1.0, 1.3, True),
    ("/healthz / bare Flask no-op", "ratio:healthz", 0.90, 0.95, True),
    ("p99 of hits paced at half the maximum, ms", "paced_p99_ms", 10, 5, False),
    ("p99 of any endpoint of ours at saturation, ms", "worst_p99_ms", 100, 50, False),
    ("Redis script time per hit, new visitors, us", "script_us:hits_new", 60, 40, False),
    ("Redis script time per hit, returning, us", "script_us:hits_returning", 60, 40, False),
    ("bytes per active visitor (+5 %)", "bytes_per_visitor", 112 * 1.05, None, False),
    ("bytes per site-day of history (+5 %)", "bytes_per_day", 45 * 1.05, None, False),
]


def free_port() -> int:
    """Return a free loopback port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 30) -> None:
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


def wrk(url: str, script: str | None, seconds: float, connections: int,
        delay_ms: float | None = None) -> tuple[float, float]:
    """Run wrk once; return requests per second and p99 latency in ms."""
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-H", f"User-Agent: {UA}",
           "-H", f"X-Forwarded-For: {CLIENT}"]
    if script:
        cmd += ["-s", str(BENCH / "wrk" / script)]
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
    with urllib.request.urlopen(base + STATS, timeout=5) as answer:
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


def script_usec(client: redis.Redis) -> float | None:
    """Return the mean time per script call since the last CONFIG RESETSTAT, in µs."""
    info = client.info("commandstats")
    calls = sum(info.get(c, {}).get("calls", 0) for c in SCRIPT_COMMANDS)
    usec = sum(info.get(c, {}).get("usec", 0) for c in SCRIPT_COMMANDS)
    return usec / calls if calls else None


def preload(url: str, members: int) -> None:
    """Fill the site's visit set and today's sketch with `members` visitors seen now, and its month so far.

    The month's earlier days are in its hash as hits leave them, so a hit
    finds today's fields among them as it would late in a month. The
    visitors are in today's HyperLogLog too, as they would be: with fewer
    than UNIQ_REUSE_FROM there, every new visitor's hit would count it again.
    """
    client = redis.Redis.from_url(url)
    store = Store(url)
    key = store.key(SEEN, SITE)
    now = int(time.time() * 1000)
    today = local_date(time.time(), ZoneInfo(ZONE))
    month: dict[str, str | int] = {}
    for day in range(1, today.day):
        month.update({f"{day}v": 9_000 + day, f"{day}p": 30_000 + day, f"{day}o": f"{60 + day}@{now // 1000}",
                      f"{day}b": 700 + day})
    if month:
        month["mv"] = sum(9_000 + day for day in range(1, today.day))
        client.hset(store.key(MONTH, SITE, month=today.strftime("%Y-%m")), mapping=month)
    sketch = store.key(UNIQ, SITE, day=today.isoformat())
    pipe = client.pipeline(transaction=False)
    for start in range(0, members, 10_000):
        visitors = [f"preloaded-visitor-{i:08d}" for i in range(start, min(start + 10_000, members))]
        pipe.zadd(key, dict.fromkeys(visitors, now))
        pipe.pfadd(sketch, *visitors)
        pipe.execute()


def start_servers(stack: ExitStack, tmp: str, rurl: str, workers: int) -> dict[str, str]:
    """Start our service and every baseline under every class; return their base URLs."""
    env = dict(os.environ, REDIS_URL=rurl, COUNTER_SITES=SITE, WEB_CONCURRENCY=str(workers),
               COUNTER_TRUSTED_PROXIES="1",
               PROMETHEUS_MULTIPROC_DIR=os.path.join(tmp, "metrics"))
    bare = {k: v for k, v in env.items() if k != "GUNICORN_CMD_ARGS"}
    commands = {"ours": (["-c", "deploy/gunicorn.conf.py", "wsgi:app"], env)}
    for name, (module, _) in BASELINES.items():
        for k in CLASSES:
            argv = ["-w", str(workers), "-k", k, "--chdir", str(BENCH), f"{module}:app"]
            commands[f"{name}-{k}"] = (argv, bare)
    bases = {}
    for name, (args, server_env) in commands.items():
        port = free_port()
        proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-b", f"127.0.0.1:{port}", *args],
                                cwd=ROOT, env=dict(server_env, COUNTER_BIND=f"127.0.0.1:{port}"),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        stack.callback(stop, proc)
        bases[name] = f"http://127.0.0.1:{port}"
    for name, base in bases.items():
        wait_http(base + ("/readyz" if name == "ours" else "/"))
    return bases


def stop(proc: subprocess.Popen) -> None:
    """Stop a server and wait for it."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def run(args) -> dict:
    """Start everything, run the loads, measure memory; return every figure."""
    runs: dict[str, list[tuple[float, float]]] = {key: [] for key, *_ in LOADS}
    script: dict[str, list[float]] = {"hits_new": [], "hits_returning": []}
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        rport = free_port()
        redis_proc = subprocess.Popen(["redis-server", "--port", str(rport), "--bind", "127.0.0.1",
                                       "--dir", tmp, "--save", "", "--appendonly", "yes",
                                       "--appendfsync", "everysec"], stdout=subprocess.DEVNULL)
        stack.callback(stop, redis_proc)
        rurl = f"redis://127.0.0.1:{rport}/0"
        client = redis.Redis.from_url(rurl)
        bases = start_servers(stack, tmp, rurl, args.workers)
        preload(rurl, args.visit_set)
        for _key, _label, server, path, wrk_script, _ in LOADS if args.warmup else ():
            wrk(bases[server] + path, wrk_script, 1, args.connections)
        for _ in range(args.rounds):
            for key, _label, server, path, wrk_script, _ in LOADS:
                before = stats(bases["ours"]) if key in script else None
                client.config_resetstat()
                runs[key].append(wrk(bases[server] + path, wrk_script, args.seconds, args.connections))
                if key in script:
                    script[key].append(script_usec(client))
                    counted_as_meant(before, stats(bases["ours"]), key == "hits_new")
        visit_set = client.zcard(Store(rurl).key(SEEN, SITE))
        # Half the maximum: each connection waits connections / rate on average between requests.
        most = statistics.median(r for r, _ in runs["hits_new"])
        paced = wrk(bases["ours"] + HITS, "hits_distinct.lua", args.paced_seconds, args.connections,
                    delay_ms=1000 * args.connections / (most / 2))
    month, burst = memory.measure(argparse.Namespace(pageviews=args.pageviews, visitors=args.pageviews // 5,
                                                     days=30, active=args.active))
    return summarize(args, runs, script, paced, visit_set, month, burst)


def summarize(args, runs, script, paced, visit_set, month, burst) -> dict:
    """Pick each baseline's better class, compute the ratios, and collect every figure."""
    median = statistics.median
    best = {b: max(CLASSES, key=lambda k, b=b: median(r for r, _ in runs[f"{b}-{k}"])) for b in BASELINES}
    out: dict = {"workers": args.workers, "connections": args.connections, "rounds": args.rounds,
                 "seconds": args.seconds, "best_class": best, "loads": {}, "visit_set": visit_set}
    for key, label, _server, _path, _script, against in LOADS:
        row = {"label": label, "rps": median(r for r, _ in runs[key]),
               "p99_ms": median(q for _, q in runs[key])}
        if against:
            base = runs[f"{against}-{best[against]}"]
            row["ratio"] = median(r / b for (r, _), (b, _) in zip(runs[key], base, strict=True))
            row["against"] = against
            out[f"ratio:{key}"] = row["ratio"]
        if key in script and all(s is not None for s in script[key]):
            row["script_us"] = median(script[key])
            out[f"script_us:{key}"] = row["script_us"]
        out["loads"][key] = row
    out["worst_p99_ms"] = max(row["p99_ms"] for key, row in out["loads"].items() if "ratio" in row)
    out["paced_rps"], out["paced_p99_ms"] = paced
    out["paced_share"] = paced[0] / out["loads"]["hits_new"]["rps"]
    out["bytes_per_visitor"] = burst["per_visitor"]
    out["cap_bytes_per_visitor"] = burst["keep_per_visitor"]
    out["bytes_per_day"] = month["per_day"]
    return out


def report(out: dict) -> None:
    """Print the table and the targets."""
    load = os.getloadavg()[0]
    print(f"workers={out['workers']} wrk -t1 -c{out['connections']} rounds={out['rounds']}x{out['seconds']}s "
          f"visit set={out['visit_set']:,} load average={load:.1f} "
          f"{os.environ.get('GUNICORN_CMD_ARGS', '')}")
    print(f"{'load':42} {'req/s':>7} {'ratio':>14} {'p99 ms':>7} {'script us':>9}")
    for key, row in out["loads"].items():
        base = key.rsplit("-", 1)
        chosen = " *" if len(base) == 2 and out["best_class"].get(base[0]) == base[1] else ""
        ratio = f"{row['ratio']:.2f} {row['against']}" if "ratio" in row else ""
        script = f"{row['script_us']:.0f}" if "script_us" in row else ""
        print(f"{row['label'] + chosen:42} {row['rps']:7.0f} {ratio:>14} {row['p99_ms']:7.1f} {script:>9}")
    print(f"{'our hits, new, paced at ~half the maximum':42} {out['paced_rps']:7.0f} "
          f"{out['paced_share']:>9.2f} max {out['paced_p99_ms']:7.1f}")
    print(f"bytes per active visitor {out['bytes_per_visitor']:.0f} (of it the online cap's sets "
          f"{out['cap_bytes_per_visitor']:.0f}), per site-day {out['bytes_per_day']:.0f}")
    print("* the baseline's class kept; ratios are medians of each round's ratio to that baseline\n")
    print(f"{'target':48} {'measured':>9} {'must':>7} {'goal':>7}  met")
    for what, key, must, goal, higher in TARGETS:
        value = out.get(key)
        if value is None:
            print(f"{what:48} {'-':>9}")
            continue
        met = value >= must if higher else value <= must
        extra = "" if goal is None else ("goal" if (value >= goal if higher else value <= goal) else "")
        print(f"{what:48} {value:9.2f} {must:7.2f} {goal if goal is not None else '':>7}  "
              f"{'yes' if met else 'NO'} {extra}")


def main(argv: list[str] | None = None) -> None:
    """Parse the options, run the bench, print the table (and write it as JSON)."""
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seconds", type=int, default=5)
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", "2")))
    p.add_argument("--visit-set", type=int, default=200_000, help="visitors preloaded into the visit set")
    p.add_argument("--pageviews", type=int, default=100_000, help="page views for the per-day memory figure")
    p.add_argument("--active", type=int, default=50_000, help="visitors for the per-visitor memory figure")
    p.add_argument("--json", type=Path, help="also write every figure to this file")
    p.add_argument("--smoke", action="store_true", help="a few seconds in all: proves the bench runs")
    args = p.parse_args(argv)
    args.warmup, args.paced_seconds = not args.smoke, args.seconds * 2
    if args.smoke:
        args.rounds, args.seconds, args.connections, args.workers = 1, 1, 4, 1
        args.visit_set, args.pageviews, args.active, args.paced_seconds = 2_000, 2_000, 1_000, 1
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed: apt-get install wrk")
    out = run(args)
    report(out)
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
