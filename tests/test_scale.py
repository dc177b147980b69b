"""Redis Cluster and Sentinel: slots, and failovers under load."""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest
import redis as redis_py
from test_faults import Load, app_on

from tests.helpers import BROWSER_UA, RedisClusterNodes, RedisServer, flush, free_port, require_redis_server

pytestmark = pytest.mark.redis


def test_each_sites_keys_share_one_slot(redis_cluster):
    flush(redis_cluster.url)  # the session's cluster holds what earlier tests left
    app = app_on(redis_cluster.url)
    c = app.test_client()
    c.environ_base["HTTP_USER_AGENT"] = BROWSER_UA
    for site in ("demo", "other"):
        c.post(f"/api/v1/sites/{site}/hits", json={"visitor": "a" * 16, "hit": "hit-0001"})
        c.post(f"/api/v1/sites/{site}/heartbeat", json={"visitor": "a" * 16})
    assert c.get("/api/v1/sites").get_json()["sites"][1]["total"] == 1
    client = redis_cluster.client()
    slots: dict[str, set[int]] = {}
    for key in client.scan_iter("vc:{*"):
        site = key.split("{")[1].split("}")[0]
        slots.setdefault(site, set()).add(client.keyslot(key))
    assert set(slots) == {"demo", "other"}
    assert all(len(s) == 1 for s in slots.values()), slots
    assert sum(len(list(client.scan_iter(f"vc:{{{site}}}:*"))) for site in slots) > 10


def wait_until(condition, timeout: float, what: str) -> float:
    """Wait for `condition`; return how long it took."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, f"{what} within {timeout} s"
        time.sleep(0.1)
    return time.monotonic() - started


def kill_under_load(app, master: RedisServer, read_total) -> None:
    """Kill `master` under a load of new visits and check what the failover kept.

    Counting must resume within 15 s without a restart, nothing may be counted
    twice, and only visits acknowledged in the last second before the kill
    (not yet replicated) may be lost.
    """
    with Load(app) as load:
        load.wait_for(200)
        master.stop(kill=True)
        killed = time.monotonic()
        before = len(load.acked)
        took = wait_until(lambda: len(load.acked) > before + 50, 15, "hits counted again")
        load.stop.set()
    assert set(load.statuses) <= {200, 503}, load.statuses
    at_risk = sum(1 for t in load.acked if killed - 1 < t <= killed)
    total = read_total()
    assert len(load.acked) - at_risk <= total <= len(load.acked) + len(load.threads)
    print(f"failover: counting again after {took:.1f} s; "
          f"{len(load.acked) - total} of {len(load.acked)} acknowledged visits lost")


def test_cluster_failover_under_load(tmp_path):
    require_redis_server()
    cluster = RedisClusterNodes(tmp_path).start()
    try:
        app = app_on(cluster.url)
        client = cluster.client()
        slot = client.keyslot("vc:{demo}:all")
        master = next(n for n in cluster.nodes if _serves(n.port, slot))
        kill_under_load(app, master, lambda: int(client.hget("vc:{demo}:all", "total")))
    finally:
        cluster.stop()


def _serves(port: int, slot: int) -> bool:
    """Tell whether the node on `port` is the master serving `slot`."""
    node = redis_py.Redis(port=port, decode_responses=True)
    if node.info("replication")["role"] != "master":
        return False
    for start, end, owner, *_ in node.execute_command("CLUSTER", "SLOTS"):
        if start <= slot <= end:
            return int(owner[1]) == port
    return False


def test_sentinel_failover_under_load(tmp_path):
    require_redis_server()
    master = RedisServer(tmp_path / "master", "--appendonly", "yes").start()
    replica = RedisServer(tmp_path / "replica", "--replicaof", "127.0.0.1", str(master.port)).start()
    sentinel_port = free_port()
    conf = tmp_path / "sentinel.conf"
    conf.write_text(
        f"port {sentinel_port}\nbind 127.0.0.1\ndir {tmp_path}\n"
        f"sentinel monitor counter 127.0.0.1 {master.port} 1\n"
        "sentinel down-after-milliseconds counter 1000\n"
        "sentinel failover-timeout counter 5000\n"
    )
    proc = subprocess.Popen([shutil.which("redis-server"), str(conf), "--sentinel"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: _replica_ready(replica.port), 10, "replica in sync")
        app = app_on(f"redis+sentinel://127.0.0.1:{sentinel_port}/counter")
        kill_under_load(app, master,
                        lambda: int(redis_py.Redis(port=replica.port).hget("vc:{demo}:all", "total")))
    finally:
        proc.kill()
        proc.wait()
        replica.stop(kill=True)
        master.stop(kill=True)


def _replica_ready(port: int) -> bool:
    """Tell whether the replica on `port` is linked to its master."""
    info = redis_py.Redis(port=port, decode_responses=True).info("replication")
    return info.get("master_link_status") == "up"
