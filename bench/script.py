"""Redis instructions per hit script call, by callgrind: the script's cost without the machine's speed.

bench/load.py's script time (`usec_per_call`) moves with the machine by more
than a change to the script makes. This runs a redis-server under valgrind's
callgrind, collecting only inside EVAL/EVALSHA, preloads the site as
bench/load.py does (a 200,000-member visit set and HyperLogLog, the month's
earlier days), sends hits through the app in-process (as bench/cpu.py: a
visitor id, a fresh hit id, one of 50 pages in turn, 50 hits to a client
address), and prints the instructions per script call for new and for
returning visitors. The count repeats within 1 % from run to run.

    python bench/script.py [--hits 500] [--visit-set 200000]    # about a minute
    python /path/to/other/checkout/bench/script.py              # the same for other code

It needs valgrind (`apt-get install valgrind`).
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import time
from itertools import count
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
SITE = "demo"


def start_redis(workdir: str, port: int) -> subprocess.Popen:
    """Start redis-server under callgrind, counting only inside the script commands."""
    proc = subprocess.Popen(["valgrind", "--tool=callgrind", f"--callgrind-out-file={workdir}/callgrind.out",
                             "--toggle-collect=evalGenericCommand", shutil.which("redis-server"),
                             "--port", str(port), "--save", "", "--appendonly", "no", "--dir", workdir],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = redis.Redis(port=port)
    for _ in range(300):  # valgrind takes a few seconds to start it
        try:
            client.ping()
            return proc
        except redis.ConnectionError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("redis-server did not start under valgrind")


def callgrind(proc: subprocess.Popen, command: str) -> None:
    """Send callgrind in `proc` a command: zero its counts, or dump them to a file."""
    # Well under a second; bounded, so that a stuck vgdb fails the run at once, not at the caller's limit.
    subprocess.run(["callgrind_control", f"--{command}", str(proc.pid)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)


def dumped_instructions(workdir: str, before: set[str]) -> int:
    """Return the instruction total of the dump that appeared since `before` (the files then)."""
    for _ in range(100):
        new = set(glob.glob(f"{workdir}/callgrind.out.*")) - before
        if new:
            text = Path(new.pop()).read_text()
            for line in text.splitlines():
                if line.startswith(("summary:", "totals:")):
                    return int(line.split()[1])
        time.sleep(0.1)
    raise RuntimeError("callgrind wrote no dump")


def main(argv: list[str] | None = None) -> None:
    """Count each load's instructions per script call and print them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hits", type=int, default=500, help="hits counted per load (after 300 to warm up)")
    parser.add_argument("--visit-set", type=int, default=200_000, help="visitors in the visit set first")
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None:
        raise SystemExit("bench/script.py needs valgrind (apt-get install valgrind)")
    with tempfile.TemporaryDirectory() as tmp:
        # As production runs: behind one proxy, metrics in a multiprocess directory (set before imports).
        os.environ.update(PROMETHEUS_MULTIPROC_DIR=tmp, COUNTER_TRUSTED_PROXIES="1", COUNTER_SITES=SITE)
        import cpu  # bench/cpu.py: environs of hits as widget.js sends them
        import load  # bench/load.py: a free port, and the site preloaded as the bench does

        port = load.free_port()
        url = os.environ["REDIS_URL"] = f"redis://127.0.0.1:{port}/0"

        from counter import create_app

        proc = start_redis(tmp, port)
        try:
            client = redis.Redis(port=port)
            load.preload(url, args.visit_set)
            app = create_app()
            n, run = count(), os.getpid()
            loads = {
                "new visitors": lambda: cpu.hit(i := next(n), f"new-{run}-{i:012d}"),
                "returning visitors": lambda: cpu.hit(i := next(n), f"returning-{run}-{i % 100}"),
            }
            counts = {}
            for name, make in loads.items():
                cpu.cpu_per_request(app, make, 300)  # warm up: the script's registration, the day's keys
                callgrind(proc, "zero")
                client.config_resetstat()
                cpu.cpu_per_request(app, make, args.hits)
                calls = client.info("commandstats")["cmdstat_evalsha"]["calls"]
                before = set(glob.glob(f"{tmp}/callgrind.out.*"))
                callgrind(proc, "dump")
                counts[name] = (dumped_instructions(tmp, before), calls)
        finally:
            proc.terminate()
            proc.wait()
    print(f"Redis instructions per hit script call (callgrind), {args.hits} hits each, "
          f"visit set {args.visit_set:,}")
    for name, (instructions, calls) in counts.items():
        print(f"{name:<20}{instructions / calls:>12,.0f}")


if __name__ == "__main__":
    main()
