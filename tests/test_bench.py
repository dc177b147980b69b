"""The benchmark's smoke run: it must keep producing its table (speeds are not checked here)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REQUIRE_REDIS, require_redis_server

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.redis
def test_smoke_run_produces_every_figure(tmp_path):
    """bench/load.py --smoke starts every server, runs every load and reports a number for each."""
    require_redis_server()
    if shutil.which("wrk") is None:
        if REQUIRE_REDIS:
            pytest.fail("wrk is required for the bench smoke run (COUNTER_REQUIRE_REDIS=1)")
        pytest.skip("wrk is not installed")
    out = tmp_path / "bench.json"
    done = subprocess.run([sys.executable, "bench/load.py", "--smoke", "--json", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:] + done.stdout[-3000:]
    figures = json.loads(out.read_text())
    loads = figures["loads"]
    assert set(loads) == {"noop-sync", "noop-gevent", "trivial-sync", "trivial-gevent",
                          "healthz", "hits_new", "hits_returning", "stats"}
    for row in loads.values():
        assert row["rps"] > 0 and row["p99_ms"] > 0
    for key, against in (("healthz", "noop"), ("hits_new", "trivial"),
                         ("hits_returning", "trivial"), ("stats", "trivial")):
        assert loads[key]["against"] == against and loads[key]["ratio"] > 0
    assert loads["hits_new"]["script_us"] > 0 and loads["hits_returning"]["script_us"] > 0
    assert set(figures["best_class"].values()) <= {"sync", "gevent"}
    assert figures["paced_rps"] > 0 and figures["paced_p99_ms"] > 0
    assert figures["visit_set"] >= 2_000
    assert figures["bytes_per_visitor"] > 0 and figures["bytes_per_day"] > 0
    for line in ("our POST hits, new visitors", "our GET stats", "target", "bytes per active visitor"):
        assert line in done.stdout


@pytest.mark.redis
def test_cpu_run_measures_every_load():
    """bench/cpu.py runs every load through the app in-process and prints a figure for each."""
    require_redis_server()
    done = subprocess.run([sys.executable, "bench/cpu.py", "--requests", "20", "--rounds", "2"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:] + done.stdout[-3000:]
    rows = {line[:32].strip(): line[32:].split() for line in done.stdout.splitlines()[2:7]}
    assert set(rows) == {"bare Flask no-op, GET /", "our GET /healthz", "our GET stats",
                         "our POST hits, new visitors", "our POST hits, returning"}
    assert all(float(least) > 0 and float(median) >= float(least) for least, median in rows.values())
    assert "/healthz against the no-op" in done.stdout


@pytest.mark.redis
def test_script_run_counts_instructions_per_hit():
    """bench/script.py counts a hit script call's Redis instructions under callgrind, for both loads."""
    require_redis_server()
    if shutil.which("valgrind") is None:
        if REQUIRE_REDIS:
            pytest.fail("valgrind is required for the script cost run (COUNTER_REQUIRE_REDIS=1)")
        pytest.skip("valgrind is not installed")
    done = subprocess.run([sys.executable, "bench/script.py", "--hits", "20", "--visit-set", "1000"],
                          cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:] + done.stdout[-3000:]
    rows = {line[:20].strip(): int(line[20:].replace(",", "")) for line in done.stdout.splitlines()[1:]}
    assert set(rows) == {"new visitors", "returning visitors"}
    # A new visitor's hit does all a returning one's does, and counts a visit besides.
    assert rows["new visitors"] > rows["returning visitors"] > 10_000
