"""The wrk scripts' client addresses, run under LuaJIT as wrk runs them: one state per thread."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import lupa.luajit21 as luajit  # lupa is pinned in requirements.txt (fakeredis's Lua)
import pytest

WRK = Path(__file__).resolve().parent.parent / "bench" / "wrk"
PER_ADDRESS = 50  # bench/wrk/addresses.lua
LIMIT = 120  # the service's default hits per client and minute


def run_wrk(script: str, threads: int, requests: int) -> list[tuple[str, dict]]:
    """Run `script` as wrk does (setup in the main state, then each thread): (address, body) per request."""

    def state():
        lua = luajit.LuaRuntime()
        lua.execute("wrk = {headers = {}, format = function(_, _, _, body) wrk.body = body; return '' end}")
        lua.globals().dofile(str(WRK / script))
        return lua

    main, states = state(), [state() for _ in range(threads)]
    for lua in states:
        thread = main.eval("{}")
        thread.set = lambda _self, name, value, lua=lua: lua.globals().__setitem__(name, value)
        main.globals().setup(thread)
    seen = []
    for lua in states:
        lua.globals().init(lua.eval("{}"))
        for _ in range(requests):
            lua.globals().request()
            seen.append((lua.eval("wrk.headers['X-Forwarded-For']"), json.loads(lua.eval("wrk.body"))))
    return seen


@pytest.mark.parametrize("script", ["hits_distinct.lua", "hits_returning.lua"])
def test_every_thread_sends_from_addresses_and_hit_ids_of_its_own(script):
    sent = run_wrk(script, threads=3, requests=500)
    seen = [address for address, _ in sent]
    assert len({body["hit"] for _, body in sent}) == len(sent)  # a repeated hit id is not counted
    assert all(a.startswith("10.") and all(0 <= int(p) <= 255 for p in a.split(".")) for a in seen)
    assert max(Counter(seen).values()) <= PER_ADDRESS < LIMIT
