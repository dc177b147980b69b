"""Write stamps: what keeps the stats cache of one host's workers in step."""

from __future__ import annotations

import multiprocessing

from counter.stamps import FILE_NAME, Stamps, for_this_host


def test_a_bump_changes_the_sites_stamp_only():
    stamps = Stamps()
    before = {site: stamps.read(site) for site in ("demo", "other")}
    stamps.bump("demo")
    assert stamps.read("demo") != before["demo"]
    assert stamps.read("other") == before["other"]
    seen = stamps.read("demo")
    stamps.bump("demo")
    assert stamps.read("demo") != seen  # every stamp is new


def _bump(path: str) -> None:
    """Bump `demo` in the stamps at `path` (in another process)."""
    Stamps(path).bump("demo")


def test_workers_mapping_one_file_see_each_others_writes(tmp_path):
    path = str(tmp_path / FILE_NAME)
    worker = Stamps(path)
    seen = worker.read("demo")
    other = multiprocessing.get_context("fork").Process(target=_bump, args=(path,))
    other.start()
    other.join()
    assert other.exitcode == 0
    assert worker.read("demo") != seen


def test_the_host_stamps_live_in_the_workers_shared_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    first, second = for_this_host(), for_this_host()
    assert first.shared and (tmp_path / FILE_NAME).exists()
    first.bump("demo")
    assert second.read("demo") == first.read("demo")
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR")
    assert for_this_host() is for_this_host() and not for_this_host().shared
