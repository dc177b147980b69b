"""CPU per request inside one process: our WSGI stack against the bare no-op's, without HTTP.

bench/load.py's rates follow the machine, whose speed swings from run to
run by more than a change of a few microseconds makes. This measures the
code: the process's CPU time per request (Redis's own work and the wait for
it are not in it), calling each WSGI app directly with an environ as
gunicorn builds it, as production runs the service (behind one proxy,
metrics in a multiprocess directory, a redis-server of its own). Each load
runs in turn for several rounds; it prints each one's least and median
microseconds per request, and the ratio of the no-op's least to /healthz's.

    python bench/cpu.py [--requests 3000] [--rounds 7]
    python /path/to/other/checkout/bench/cpu.py    # the same for other code
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import tempfile
import time
from itertools import count
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
SITE = "demo"
UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
PER_ADDRESS = 50  # hits from one client address, within the default limits (bench/wrk/addresses.lua)


def environ(method: str, path: str, n: int, body: bytes = b"") -> dict:
    """Return the WSGI environ of a request that came through the proxy from the n-th client address."""
    a = n // PER_ADDRESS
    return {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": "", "SCRIPT_NAME": "",
            "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "127.0.0.1:8000", "HTTP_USER_AGENT": UA,
            "HTTP_X_FORWARDED_FOR": f"10.{a >> 16 & 255}.{a >> 8 & 255}.{a & 255}",
            "HTTP_X_FORWARDED_PROTO": "http", "CONTENT_TYPE": "application/json" if body else "",
            "CONTENT_LENGTH": str(len(body)) if body else "", "wsgi.input": io.BytesIO(body),
            "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr}


def hit(n: int, visitor: str) -> dict:
    """Return the environ of a hit as widget.js sends it: a visitor id, a fresh hit id, a path."""
    body = json.dumps({"visitor": visitor, "hit": f"hit-{n:012d}",
                       "path": f"/tin-tuc/bai-{n % 50}"}).encode()
    return environ("POST", f"/api/v1/sites/{SITE}/hits", n, body)


def cpu_per_request(app, make_environ, requests: int) -> float:
    """Call `app` with `requests` environs from `make_environ()`; return its CPU µs per request."""
    statuses = set()
    started = time.process_time()
    for _ in range(requests):
        for _chunk in app(make_environ(), lambda status, headers, exc_info=None: statuses.add(status)):
            pass
    spent = time.process_time() - started
    if statuses != {"200 OK"}:
        raise SystemExit(f"unexpected answers: {statuses}")
    return spent / requests * 1e6


def main(argv: list[str] | None = None) -> None:
    """Measure every load for several rounds and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000, help="requests per load and round")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.update(PROMETHEUS_MULTIPROC_DIR=tmp, COUNTER_TRUSTED_PROXIES="1", COUNTER_SITES=SITE)
        import memory  # bench/memory.py: a throwaway redis-server
        import noop

        from counter import create_app

        redis_proc, port = memory.start_redis(tmp)
        try:
            os.environ["REDIS_URL"] = f"redis://127.0.0.1:{port}/0"
            ours = create_app()
            n, run = count(), os.getpid()
            loads = {
                "bare Flask no-op, GET /": (noop.app, lambda: environ("GET", "/", 0)),
                "our GET /healthz": (ours, lambda: environ("GET", "/healthz", 0)),
                "our GET stats": (ours, lambda: environ("GET", f"/api/v1/sites/{SITE}/stats", 0)),
                "our POST hits, new visitors": (ours, lambda: hit(i := next(n), f"new-{run}-{i:012d}")),
                "our POST hits, returning": (ours, lambda: hit(i := next(n), f"returning-{run}-{i % 100}")),
            }
            for app, make in loads.values():  # warm up: imports, caches, the script's registration
                cpu_per_request(app, make, 200)
            spent: dict[str, list[float]] = {name: [] for name in loads}
            for _ in range(args.rounds):
                for name, (app, make) in loads.items():
                    spent[name].append(cpu_per_request(app, make, args.requests))
        finally:
            redis_proc.terminate()
            redis_proc.wait()
    print(f"CPU µs per request in one process, {args.rounds} rounds of {args.requests} requests")
    print(f"{'load':<32}{'least':>8}{'median':>8}")
    for name, values in spent.items():
        print(f"{name:<32}{min(values):>8.1f}{statistics.median(values):>8.1f}")
    ratio = min(spent["bare Flask no-op, GET /"]) / min(spent["our GET /healthz"])
    print(f"/healthz against the no-op (least CPU, as a rate ratio): {ratio:.2f}")


if __name__ == "__main__":
    main()
