"""The command line, on the same stores as the service."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from counter.__main__ import main


@pytest.fixture
def env(monkeypatch, redis_url):
    """Point the CLI at the test's store."""
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("COUNTER_SITES", "demo,other")


def run(capsys, *argv) -> tuple[int, str, str]:
    """Run the CLI; return its exit status, output and errors."""
    try:
        status = main(list(argv))
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else 1
        if isinstance(exc.code, str):
            print(exc.code, file=__import__("sys").stderr)
    out, err = capsys.readouterr()
    return status, out, err


def test_set_total_then_stats(env, capsys):
    assert run(capsys, "set-total", "demo", "1672241")[:2] == (0, "demo: total 0 -> 1672241\n")
    status, out, _ = run(capsys, "stats", "demo")
    assert status == 0
    body = json.loads(out)
    assert body["site"] == "demo" and body["total"] == 1672241


def test_import_then_export_daily(env, capsys, tmp_path):
    day1 = date.today() - timedelta(days=3)
    day2 = day1 + timedelta(days=1)
    path = tmp_path / "history.csv"
    path.write_text(f"date,visits,pageviews\n{day1},120,400\n{day2},130,410\n")
    assert run(capsys, "import-daily", "demo", str(path))[:2] == (0, "demo: imported 2 days\n")
    status, out, _ = run(capsys, "export-daily", "demo", "--from", str(day1), "--to", str(day2))
    assert status == 0
    assert out.splitlines() == ["date,visits,pageviews,unique_visitors,peak_online",
                                f"{day1},120,400,0,0", f"{day2},130,410,0,0"]
    status, out, _ = run(capsys, "export-daily", "demo")
    assert len(out.splitlines()) == 31


def test_online_lists_every_site(env, capsys):
    status, out, _ = run(capsys, "online")
    assert status == 0 and "demo: 0" in out and "other: 0" in out


@pytest.mark.parametrize(("argv", "message"), [
    (("stats", "nosuch"), "unknown site"),
    (("set-total", "demo", "-5"), "non-negative"),
    (("set-total", "demo", str(2**53)), "up to 9007199254740991"),
    (("export-daily", "demo", "--from", "2026-11-25", "--to", "2026-11-01"), "must not be after"),
])
def test_mistakes_give_a_clear_error_and_a_failing_status(env, capsys, argv, message):
    status, _, err = run(capsys, *argv)
    assert status != 0 and message in err


def test_bad_csv_is_refused_before_anything_is_written(env, capsys, tmp_path, redis):
    path = tmp_path / "bad.csv"
    path.write_text("date,visits,pageviews\n2020-01-01,1,2\n2020-01-02,x,2\n")
    status, _, err = run(capsys, "import-daily", "demo", str(path))
    assert status != 0 and "bad.csv:3" in err
    assert redis.dbsize() == 0


def test_unreachable_store_and_bad_config_exit_nonzero(monkeypatch, capsys):
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    status, _, err = run(capsys, "stats", "demo")
    assert status == 1 and "unavailable" in err
    monkeypatch.setenv("COUNTER_TIMEZONE", "Nowhere/Land")
    status, _, err = run(capsys, "stats", "demo")
    assert status == 2 and "COUNTER_TIMEZONE" in err


def test_a_sentinel_url_without_a_service_is_a_config_error(monkeypatch, capsys):
    monkeypatch.setenv("REDIS_URL", "redis+sentinel://127.0.0.1:26379")
    status, _, err = run(capsys, "stats", "demo")
    assert status == 2 and "REDIS_URL" in err and "service" in err
