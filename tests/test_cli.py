"""The command line, on the same stores as the service."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import redis as redis_py

import counter
import counter.__main__ as cli
from counter import embedded, imports
from counter.__main__ import main
from counter.clock import FixedClock
from counter.store import Store, StoreUnavailable
from tests.helpers import START, require_redis_server

ROOT = Path(__file__).resolve().parent.parent
HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
TODAY = date(2026, 11, 25)  # START's local date


@pytest.fixture
def clock(monkeypatch):
    """Stand the CLI's clock at START (2026-11-25 09:00 in Hanoi)."""
    fixed = FixedClock(START)
    monkeypatch.setattr(counter, "SystemClock", lambda: fixed)
    return fixed


@pytest.fixture
def env(monkeypatch, redis_url, clock):
    """Point the CLI at the test's store."""
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("COUNTER_SITES", "demo,other")


def run(capsys, *argv) -> tuple[int, str, str]:
    """Run the CLI in this process; return its exit status, output and errors."""
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return status, out, err


def export(capsys, start: date, end: date) -> list[str]:
    """Return export-daily's data lines from `start` to `end`."""
    status, out, _ = run(capsys, "export-daily", "demo", "--from", start, "--to", end)
    assert status == 0
    return out.splitlines()[1:]


def snapshot(client) -> dict:
    """Return every key of the store with its value, to show nothing changed."""
    state = {}
    for key in client.scan_iter():
        kind = client.type(key)
        state[key] = client.hgetall(key) if kind == "hash" else (kind, client.dump(key))
    return state


def subprocess_env(redis_url: str | None, **extra: str) -> dict:
    """Return an environment for running the CLI as its own process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_URL", "COUNTER_"))}
    env.update(PYTHONPATH=str(ROOT), COUNTER_SITES="demo,other", **extra)
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env


# -- commands ---------------------------------------------------------------

def test_set_total_then_stats(env, capsys):
    assert run(capsys, "set-total", "demo", "1672241")[:2] == (0, "demo: total 0 -> 1672241\n")
    status, out, _ = run(capsys, "stats", "demo")
    assert status == 0
    body = json.loads(out)
    assert body["site"] == "demo" and body["total"] == 1672241


def test_the_cli_waits_longer_for_redis_than_a_page_view_does(env):
    assert cli._counter().store.redis.timeout == cli.REDIS_TIMEOUT > 0.5


def test_set_total_takes_up_to_2_to_the_53_minus_1(env, capsys):
    assert run(capsys, "set-total", "demo", 2**53 - 1)[0] == 0
    status, _, err = run(capsys, "set-total", "demo", 2**53)
    assert status == 2 and "9007199254740991" in err


def test_import_then_export_daily(env, capsys, tmp_path):
    day1, day2 = date(2026, 11, 22), date(2026, 11, 23)
    path = tmp_path / "history.csv"
    path.write_text(f"date,visits,pageviews\n{day1},120,400\n{day2},130,410\n")
    assert run(capsys, "import-daily", "demo", path)[:2] == (0, "demo: imported 2 days\n")
    status, out, _ = run(capsys, "export-daily", "demo", "--from", str(day1), "--to", str(day2))
    assert status == 0
    assert out.splitlines() == ["date,visits,pageviews,unique_visitors,peak_online",
                                f"{day1},120,400,0,0", f"{day2},130,410,0,0"]
    status, out, _ = run(capsys, "export-daily", "demo")
    assert len(out.splitlines()) == 31
    assert out.splitlines()[-1].startswith("2026-11-25,")  # today in the site's zone


def test_an_export_imports_back(env, capsys, tmp_path):
    path = tmp_path / "history.csv"
    path.write_text("date,visits,pageviews\n2026-10-01,7,9\n2026-10-02,8,10\n")
    run(capsys, "import-daily", "demo", path)
    status, out, _ = run(capsys, "export-daily", "demo", "--from", "2026-10-01", "--to", "2026-10-02")
    path.write_text(out.replace(",7,9,", ",70,90,"))
    status, out, err = run(capsys, "import-daily", "demo", path)
    assert status == 0
    assert "unique_visitors" in err and "peak_online" in err  # read, said to be left out
    assert export(capsys, date(2026, 10, 1), date(2026, 10, 2)) == ["2026-10-01,70,90,0,0",
                                                                     "2026-10-02,8,10,0,0"]


def test_online_lists_every_site(env, capsys):
    status, out, _ = run(capsys, "online")
    assert status == 0 and "demo: 0" in out and "other: 0" in out


def test_online_watch_prints_each_sites_local_time(monkeypatch, redis_url, clock, capsys, tmp_path):
    sites = tmp_path / "sites.toml"
    sites.write_text('[ninhbinh]\n[lima]\ntimezone = "America/Lima"\n')
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("COUNTER_SITES_FILE", str(sites))
    pauses = []

    def sleep(seconds):
        pauses.append(seconds)
        if len(pauses) == 3:
            raise KeyboardInterrupt  # Ctrl-C ends a watch
        clock.advance(seconds)

    monkeypatch.setattr(cli, "_sleep", sleep)
    status, out, _ = run(capsys, "online", "--watch", "--interval", "10")
    assert status == 0 and pauses == [10, 10, 10]
    assert out.splitlines() == [
        "09:00:00 +07  ninhbinh: 0 | 21:00:00 -05  lima: 0",
        "09:00:10 +07  ninhbinh: 0 | 21:00:10 -05  lima: 0",
        "09:00:20 +07  ninhbinh: 0 | 21:00:20 -05  lima: 0",
    ]


@pytest.mark.parametrize("argv", [
    ("online", "--interval", "-1"),
    ("online", "--interval", "soon"),
    ("online", "--nosuch"),
    ("online", "--interval", "10"),  # without --watch it would be ignored
    ("set-total", "demo", "-5"),
    ("set-total", "demo", "1x"),
    ("set-total", "demo", "--5"),
    ("set-total", "demo", "1.5"),
    ("set-total", "demo"),
    ("export-daily", "demo", "--from", "2026-13-01"),
    ("export-daily", "demo", "--from", "2026-11-25", "--to", "2026-11-01"),
    ("export-daily", "demo", "--from", "2000-01-01", "--to", "2026-11-01"),
    ("import-daily", "demo", "no-such-file.csv"),
    ("import-daily", "demo", "{file}", "--format", "xls"),
    ("import-daily", "demo", "{file}", "--initial", "5"),
    ("import-daily", "demo", "{file}", "--set-total", "--initial", "-5"),
    ("import-daily", "demo", "{file}", "--format", "vinaora", "--date-format", "%d/%m/%Y"),
    ("stats", "nosuch"),
    ("nosuch",),
])
def test_bad_usage_exits_2_without_a_traceback(env, capsys, tmp_path, redis, argv):
    path = tmp_path / "h.csv"
    path.write_text("date,visits\n2026-11-01,5\n")
    status, _, err = run(capsys, *[a.format(file=path) for a in argv])
    assert status == 2
    assert err.strip()
    assert redis.dbsize() == 0


@pytest.mark.parametrize(("argv", "message"), [
    (("stats", "nosuch"), "unknown site"),
    (("set-total", "demo", "-5"), "non-negative"),
    (("set-total", "demo", str(2**53)), "up to 9007199254740991"),
    (("export-daily", "demo", "--from", "2026-11-25", "--to", "2026-11-01"), "--from must not be after --to"),
])
def test_mistakes_give_a_clear_error_and_a_failing_status(env, capsys, argv, message):
    status, _, err = run(capsys, *argv)
    assert status != 0 and message in err


def test_every_command_has_help_with_examples(capsys):
    for command in ("stats", "online", "set-total", "import-daily", "export-daily"):
        status, out, _ = run(capsys, command, "--help")
        assert status == 0 and "e.g." in out
    status, out, _ = run(capsys, "import-daily", "--help")
    for word in ("SITE", "FILE", "--format", "vinaora", "wp-statistics", "--dry-run", "--set-total",
                 "--initial", "--date-format", "%d/%m/%Y"):
        assert word in out


# -- import formats ---------------------------------------------------------

def test_csv_as_a_spreadsheet_saves_it(env, capsys, tmp_path):
    path = tmp_path / "Thống kê.csv"
    # "CSV UTF-8" from a spreadsheet in a Vietnamese locale: BOM, ';', dd/mm/yyyy, grouped numbers.
    path.write_bytes("Date;Visits;Pageviews\r\n"
                     "01/11/2026;1.234;12.345.678\r\n"
                     "02/11/2026;1 234;1\u00a0000\r\n"
                     "03/11/2026;\"1,234\";7\r\n"
                     "\r\n".encode("utf-8-sig"))
    status, out, _ = run(capsys, "import-daily", "demo", path, "--date-format", "%d/%m/%Y")
    assert (status, out) == (0, "demo: imported 3 days\n")
    assert export(capsys, date(2026, 11, 1), date(2026, 11, 3)) == [
        "2026-11-01,1234,12345678,0,0", "2026-11-02,1234,1000,0,0", "2026-11-03,1234,7,0,0"]


def test_csv_with_a_spreadsheets_trailing_separators(env, capsys, tmp_path):
    path = tmp_path / "h.csv"
    path.write_text("date;visits;pageviews;;\n2026-11-01;5;6;;\n2026-11-02;7;8\n")
    assert run(capsys, "import-daily", "demo", path)[0] == 0
    assert export(capsys, date(2026, 11, 1), date(2026, 11, 2)) == ["2026-11-01,5,6,0,0",
                                                                     "2026-11-02,7,8,0,0"]


def test_csv_with_commas_and_quoted_grouped_numbers(env, capsys, tmp_path):
    path = tmp_path / "h.csv"
    path.write_text('date,pageviews,visits\n2026-11-01,"2,500",10\n')
    assert run(capsys, "import-daily", "demo", path)[0] == 0
    assert export(capsys, date(2026, 11, 1), date(2026, 11, 1)) == ["2026-11-01,10,2500,0,0"]


def test_csv_columns_and_empty_cells_leave_the_rest_as_it_is(env, capsys, tmp_path):
    path = tmp_path / "h.csv"
    path.write_text("date,visits,pageviews\n2026-11-01,10,20\n2026-11-02,11,21\n")
    run(capsys, "import-daily", "demo", path)
    path.write_text("date,pageviews\n2026-11-01,99\n")
    run(capsys, "import-daily", "demo", path)
    path.write_text("date,visits,pageviews\n2026-11-02,,77\n")
    assert run(capsys, "import-daily", "demo", path)[0] == 0
    assert export(capsys, date(2026, 11, 1), date(2026, 11, 2)) == ["2026-11-01,10,99,0,0",
                                                                     "2026-11-02,11,77,0,0"]


def vinaora_dump(sep: str = "\t") -> str:
    """Write Vinaora's log table as `mysql -B` does: hourly rows, each at the end of its hour."""
    def at(text: str) -> int:
        return int(datetime.fromisoformat(text).timestamp())

    rows = [
        (at("2026-11-20T23:00:00+07:00"), 30, 20, 2, 8),   # 22:00-23:00 on the 20th
        (at("2026-11-21T00:00:00+07:00"), 10, 9, 0, 1),    # 23:00-24:00: still the 20th
        (at("2026-11-21T01:00:00+07:00"), 5, 5, 0, 0),     # the 21st
        (at("2026-11-21T12:00:00+07:00"), 100, 80, 5, 15),
        (at("2026-11-22T00:00:00+07:00"), 0, 0, 0, 0),
    ]
    lines = [sep.join(("time", "visits", "guests", "members", "bots"))]
    lines += [sep.join(str(v) for v in row) for row in rows]
    return "\n".join(lines) + "\n"


def test_vinaora_dump_sums_hours_into_local_days_without_bots(env, capsys, tmp_path):
    path = tmp_path / "vvcounter_logs.tsv"
    path.write_text(vinaora_dump("\t"))
    status, out, _ = run(capsys, "import-daily", "demo", path, "--format", "vinaora")
    assert (status, out) == (0, "demo: imported 2 days\n")
    # 20th: (30-8) + (10-1) = 31; 21st: 5 + (100-15) + 0 = 90; page views are not in the dump.
    assert export(capsys, date(2026, 11, 20), date(2026, 11, 22)) == [
        "2026-11-20,31,0,0,0", "2026-11-21,90,0,0,0", "2026-11-22,0,0,0,0"]


def test_vinaora_csv_export_with_set_total_and_initial(env, capsys, tmp_path):
    path = tmp_path / "vvcounter_logs.csv"
    text = vinaora_dump(",").splitlines()
    text[0] = '"time","visits","guests","members","bots"'  # as phpMyAdmin quotes the header
    path.write_text("\n".join(text) + "\n")
    status, out, _ = run(capsys, "import-daily", "demo", path, "--format", "vinaora",
                         "--set-total", "--initial", "1000")
    assert status == 0
    assert out.splitlines() == ["demo: imported 2 days", "demo: total 0 -> 1121"]  # 31 + 90 + 1000
    assert json.loads(run(capsys, "stats", "demo")[1])["total"] == 1121


def test_wp_statistics_visit_table(env, capsys, tmp_path):
    path = tmp_path / "wp_statistics_visit.csv"
    path.write_text('"ID","last_visit","last_counter","visit"\n'
                    '"1","2026-11-01 23:59:01","2026-11-01","1530"\n'
                    '"2","2026-11-02 23:58:40","2026-11-02","1611"\n')
    status, out, _ = run(capsys, "import-daily", "demo", path, "--format", "wp-statistics",
                         "--set-total")
    assert status == 0
    assert out.splitlines() == ["demo: imported 2 days", "demo: total 0 -> 3141"]
    assert export(capsys, date(2026, 11, 1), date(2026, 11, 2)) == ["2026-11-01,1530,0,0,0",
                                                                     "2026-11-02,1611,0,0,0"]


def test_wp_statistics_own_export_without_column_names(env, capsys, tmp_path):
    # As the plugin's Optimization > Export writes it when "Include header row" is off.
    path = tmp_path / "wp-statistics-2026-11-25-09-00.tsv"
    path.write_text('"1"\t"2026-11-05 21:04:11"\t"2026-11-05"\t"77"\n'
                    '"2"\t"2026-11-06 22:00:00"\t"2026-11-06"\t"1.234"\n')
    assert run(capsys, "import-daily", "demo", path, "--format", "wp-statistics")[0] == 0
    assert export(capsys, date(2026, 11, 5), date(2026, 11, 6)) == ["2026-11-05,77,0,0,0",
                                                                     "2026-11-06,1234,0,0,0"]


def test_wp_statistics_tab_separated(env, capsys, tmp_path):
    path = tmp_path / "visit.tsv"
    path.write_text("ID\tlast_visit\tlast_counter\tvisit\n7\t2026-11-03 10:00:00\t2026-11-03\t42\n")
    assert run(capsys, "import-daily", "demo", path, "--format", "wp-statistics")[0] == 0
    assert export(capsys, date(2026, 11, 3), date(2026, 11, 3)) == ["2026-11-03,42,0,0,0"]


def test_standard_input(env, capsys, tmp_path, monkeypatch):
    import io

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"date,visits\n2026-11-04,3\n")))
    assert run(capsys, "import-daily", "demo", "-")[0] == 0
    assert export(capsys, date(2026, 11, 4), date(2026, 11, 4)) == ["2026-11-04,3,0,0,0"]


def test_dry_run_prints_the_changes_and_writes_nothing(env, capsys, tmp_path, redis):
    path = tmp_path / "h.csv"
    path.write_text("date,visits,pageviews\n2026-11-01,10,20\n")
    run(capsys, "import-daily", "demo", path)
    run(capsys, "set-total", "demo", 500)
    before = snapshot(redis)
    path.write_text("date,visits,pageviews\n2026-11-01,10,25\n2026-11-02,7,8\n2026-11-03,,\n")
    status, out, _ = run(capsys, "import-daily", "demo", path, "--dry-run", "--set-total",
                         "--initial", "100")
    assert status == 0
    assert out.splitlines() == [
        "demo: dry run, nothing is written",
        "2026-11-01  pageviews 20 -> 25",
        "2026-11-02  visits 0 -> 7  pageviews 0 -> 8",
        "demo: 2 of 3 days would change",
        "demo: total 500 -> 117",
    ]
    assert snapshot(redis) == before


def test_set_total_without_initial_is_the_imported_visits(env, capsys, tmp_path):
    path = tmp_path / "h.csv"
    path.write_text("date,visits\n2026-11-01,10\n2026-11-02,15\n")
    run(capsys, "set-total", "demo", 999)
    status, out, _ = run(capsys, "import-daily", "demo", path, "--set-total")
    assert status == 0 and out.splitlines()[-1] == "demo: total 999 -> 25"


def test_a_long_history_in_batches(env, capsys, tmp_path):
    days = [TODAY - timedelta(days=i) for i in range(2500)]  # more than two pipelines
    path = tmp_path / "h.csv"
    path.write_text("date,visits,pageviews\n" + "".join(f"{d},{d.day},{d.month}\n" for d in days))
    assert run(capsys, "import-daily", "demo", path)[:2] == (0, "demo: imported 2500 days\n")
    lines = export(capsys, days[-1], days[0])
    assert lines == [f"{d},{d.day},{d.month},0,0" for d in reversed(days)]
    # The month's visit sums stay right, as in live counting.
    assert json.loads(run(capsys, "stats", "demo")[1])["this_month"] == sum(range(1, 26))


@pytest.mark.parametrize(("failure", "status", "message"), [
    (KeyboardInterrupt(), 130, "interrupted: 1000 of 2500 days were written"),
    (StoreUnavailable("Connection reset by peer"), 1, "unavailable (Connection reset by peer); 1000 of 2500"),
])
def test_an_import_cut_short_says_how_far_it_got_and_runs_again(env, capsys, tmp_path, monkeypatch,
                                                                failure, status, message):
    days = [TODAY - timedelta(days=i) for i in range(2500)]
    path = tmp_path / "h.csv"
    path.write_text("date,visits\n" + "".join(f"{d},7\n" for d in days))
    real = Store.set_days
    calls = []

    def set_days(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise failure
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Store, "set_days", set_days)
    got, _, err = run(capsys, "import-daily", "demo", path)
    assert got == status and message in err and "again is safe" in err
    monkeypatch.setattr(Store, "set_days", real)
    got, _, err = run(capsys, "import-daily", "demo", path)
    assert got == 0, err
    assert export(capsys, days[-1], days[0]) == [f"{d},7,0,0,0" for d in reversed(days)]


# -- bad input --------------------------------------------------------------

BAD = [
    ("csv", [], "date,visits\n2026-11-01,5\n2026-11-02,x\n", 3, "not a whole number"),
    ("csv", [], "date,visits\n2026-11-01,-5\n", 2, "negative"),
    ("csv", [], "date,visits\n2026-11-01,1.5\n", 2, "not a whole number"),
    ("csv", [], "date,visits\n2026-11-01,1.234,5\n", 2, "3 fields where the header has 2"),
    ("csv", [], "date,visits\n2026-11-01,1,234\n", 2, "must be quoted"),
    ("csv", [], "date,visits\n2026-11-01,9007199254740992\n", 2, "above"),
    ("csv", [], "date,visits\n\n2026-11-01,5\n2026-11-01,6\n", 4, "already on line 3"),
    ("csv", [], "date,visits\n2026-11-26,5\n", 2, "after today (2026-11-25)"),
    ("csv", [], "date,visits\n01/11/2026,5\n", 2, "--date-format %d/%m/%Y"),
    ("csv", ["--date-format", "%d/%m/%Y"], "date,visits\n2026-11-01,5\n", 2, "does not match"),
    ("csv", [], "date,visitors\n2026-11-01,5\n", 1, "unknown column 'visitors'"),
    ("csv", [], "day,visits\n2026-11-01,5\n", 1, "missing: date"),
    ("csv", [], "date,unique_visitors\n2026-11-01,5\n", 1, "neither visits nor pageviews"),
    ("csv", [], "", 1, "empty"),
    ("csv", [], "date,visits\n\n", 2, "no days"),
    ("csv", [], "\n\ndate,visits\n", 4, "no days after the header"),
    ("vinaora", [], "\ntime\tvisits\tbots\n", 3, "no days after the header"),
    ("csv", [], "date,visits\n2026-11-01,5\n2026-11-02,\x00\n", 3, "not a whole number"),
    ("csv", [], 'date,visits\n2026-11-01,5\n2026-11-02,"6\n', 3, "not readable as CSV"),
    ("csv", [], "date,,visits\n2026-11-01,,5\n", 1, "column 2 has no name"),
    ("csv", [], "date,visits,\n2026-11-01,5,6\n", 2, "3 fields where the header has 2"),
    ("vinaora", [], "time\tvisits\tbots\n1763917200\t5\t6\n", 2, "bots (6) above visits (5)"),
    ("vinaora", [], "time\tvisits\tbots\n1763917200\t5\t1\nsoon\t5\t1\n", 3, "time"),
    ("vinaora", [], "time\tvisits\tguests\n1763917200\t5\t6\n", 1, "missing: bots"),
    ("vinaora", [], "time\tvisits\tbots\n99999999999\t5\t1\n", 2, "after today"),
    ("vinaora", [], "time\tvisits\tbots\n1763920800\t9007199254740991\t0\n1763924400\t1\t0\n", 3,
     "add up to more than 9007199254740991"),
    ("wp-statistics", [], "ID,last_counter,visit\n1,2026-11-01,5\n2,2026-11-01,6\n", 3, "already on line 2"),
    ("wp-statistics", [], "1,2026-11-01,5\n", 1, "last_counter and visit"),
    ("wp-statistics", [], '"1","2026-11-01 10:00:00","2026-11-01","5"\n"2","x","2026-11-0","6"\n', 2,
     "last_counter '2026-11-0' is not a date"),
    ("wp-statistics", [], "<?xml version=\"1.0\"?>\n<Workbook>\n", 1, "XML export"),
]


@pytest.mark.parametrize(("fmt", "extra", "text", "line", "message"), BAD)
def test_a_bad_line_is_named_and_nothing_is_written(env, capsys, tmp_path, redis, fmt, extra, text,
                                                    line, message):
    path = tmp_path / "bad.txt"
    path.write_text(text)
    status, out, err = run(capsys, "import-daily", "demo", path, "--format", fmt, *extra)
    assert status == 2 and out == ""
    assert f"bad.txt:{line}: " in err and f"(line {line}; nothing was imported)" in err
    assert message in err
    assert redis.dbsize() == 0


def test_not_utf8_is_named_with_its_line(env, capsys, tmp_path, redis):
    path = tmp_path / "latin1.csv"
    path.write_bytes("date,visits\n2026-11-01,5\n2026-11-02,6 Hà\n".encode("latin-1"))
    status, _, err = run(capsys, "import-daily", "demo", path)
    assert status == 2 and "latin1.csv:3: " in err and "UTF-8" in err
    assert redis.dbsize() == 0


def test_bad_csv_is_refused_before_anything_is_written(env, capsys, tmp_path, redis):
    path = tmp_path / "bad.csv"
    path.write_text("date,visits,pageviews\n2020-01-01,1,2\n2020-01-02,x,2\n")
    status, _, err = run(capsys, "import-daily", "demo", str(path))
    assert status != 0 and "bad.csv:3" in err
    assert redis.dbsize() == 0


# -- the store --------------------------------------------------------------

def test_unreachable_store_and_bad_config_exit_nonzero(monkeypatch, capsys):
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    status, _, err = run(capsys, "stats", "demo")
    assert status == 1 and "unavailable" in err
    monkeypatch.setenv("COUNTER_TIMEZONE", "Nowhere/Land")
    status, _, err = run(capsys, "stats", "demo")
    assert status == 2 and "COUNTER_TIMEZONE" in err


@pytest.mark.parametrize("argv", [("online",), ("set-total", "demo", "5"), ("export-daily", "demo"),
                                  ("import-daily", "demo", "{file}")])
def test_store_down_exits_1(monkeypatch, capsys, tmp_path, clock, argv):
    path = tmp_path / "h.csv"
    path.write_text("date,visits\n2026-11-01,5\n")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    status, _, err = run(capsys, *[a.format(file=path) for a in argv])
    assert status == 1 and "unavailable" in err


def test_without_redis_url_and_no_service_it_says_where_it_looked(monkeypatch, capsys, tmp_path):
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(embedded.shutil, "which", lambda name: "/usr/bin/redis-server")
    status, _, err = run(capsys, "stats", "demo")
    assert status == 1
    assert str(tmp_path / "var") in err and "COUNTER_DATA_DIR" in err and "REDIS_URL" in err
    assert not (tmp_path / "var").exists()  # no new, empty store was started
    monkeypatch.setattr(cli.shutil, "which", lambda name: None)
    status, _, err = run(capsys, "stats", "demo")
    assert status == 1 and "not installed" in err


@pytest.mark.parametrize("argv", [
    ("import-daily", "demo", "{file}"),  # the file's bad line
    ("import-daily", "nosuch", "{file}"),
    ("stats", "nosuch"), ("set-total", "nosuch", "5"), ("export-daily", "nosuch"),
])
def test_bad_input_is_a_usage_error_even_with_no_store_to_reach(monkeypatch, capsys, tmp_path, clock, argv):
    # The input is checked before the store is sought: 2, not the store's 1.
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setenv("COUNTER_SITES", "demo")
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "history.csv"
    path.write_text("date,visits\n2026-11-01,3\n2026-11-02,many\n")
    status, _, err = run(capsys, *[a.format(file=path) for a in argv])
    assert status == 2
    assert ":3:" in err if argv[1] == "demo" else "nosuch" in err
    assert not (tmp_path / "var").exists()


@pytest.fixture
def service_store(tmp_path, monkeypatch):
    """Start the service's embedded store in its own data directory, as the service does."""
    require_redis_server()
    data = tmp_path / "data"
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setenv("COUNTER_DATA_DIR", str(data))
    url = counter.create_app().extensions["counter"].store.url
    assert url == f"unix://{data / 'redis.sock'}"
    yield data, url
    redis_py.Redis.from_url(url).shutdown(nosave=True)


def test_a_data_directory_too_long_for_a_socket_is_a_config_error(monkeypatch, capsys, tmp_path):
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setenv("COUNTER_DATA_DIR", str(tmp_path / ("x" * 120)))
    status, _, err = run(capsys, "stats", "demo")
    assert status == 2 and "COUNTER_DATA_DIR" in err and "too long" in err


@pytest.mark.redis
def test_from_another_directory_it_finds_the_services_store(service_store, tmp_path):
    data, url = service_store
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = subprocess_env(None, COUNTER_DATA_DIR=str(data))
    done = subprocess.run([sys.executable, "-m", "counter", "set-total", "demo", "4242"], cwd=elsewhere,
                          env=env, capture_output=True, text=True, timeout=30)
    assert (done.returncode, done.stdout, done.stderr) == (0, "demo: total 0 -> 4242\n", "")
    assert redis_py.Redis.from_url(url).hget("vc:{demo}:all", "total") == b"4242"
    # The same data directory given relative to the working directory.
    done = subprocess.run([sys.executable, "-m", "counter", "stats", "demo"], cwd=tmp_path,
                          env=dict(env, COUNTER_DATA_DIR="data"), capture_output=True, text=True,
                          timeout=30)
    assert done.returncode == 0 and json.loads(done.stdout)["total"] == 4242
    # Without the setting, from elsewhere: a clear refusal, not a new empty store.
    done = subprocess.run([sys.executable, "-m", "counter", "stats", "demo"], cwd=elsewhere,
                          env=subprocess_env(None), capture_output=True, text=True, timeout=30)
    assert done.returncode == 1 and str(elsewhere / "var") in done.stderr
    assert "Traceback" not in done.stderr and not (elsewhere / "var").exists()


# -- pipes, Ctrl-C and terminals -----------------------------------------------

def test_a_closed_pipe_ends_quietly(fake_redis_url, tmp_path):
    # About 90 KB of CSV: more than a pipe holds, so the writer meets the closed end.
    with subprocess.Popen(
            [sys.executable, "-m", "counter", "export-daily", "demo", "--from", "2016-11-01",
             "--to", "2026-11-01"],
            cwd=tmp_path, env=subprocess_env(fake_redis_url), stdout=subprocess.PIPE,
            stderr=subprocess.PIPE) as proc:
        assert proc.stdout.readline() == b"date,visits,pageviews,unique_visitors,peak_online\n"
        proc.stdout.close()  # as `| head -n 1` does
        err = proc.stderr.read().decode()
        assert proc.wait(timeout=30) == 0
    assert err == ""


def test_a_watch_into_head_ends_quietly(fake_redis_url, tmp_path):
    done = subprocess.run(
        f"'{sys.executable}' -m counter online --watch --interval 0.5 | head -n 2; "
        "echo \"status ${PIPESTATUS[0]}\"",
        shell=True, executable="/bin/bash", cwd=tmp_path, env=subprocess_env(fake_redis_url),
        capture_output=True, text=True, timeout=30)
    lines = done.stdout.splitlines()
    assert len(lines) == 3 and "demo: 0" in lines[0] and lines[2] == "status 0"
    assert done.stderr == ""


def test_ctrl_c_ends_a_watch_quietly(fake_redis_url, tmp_path):
    with subprocess.Popen([sys.executable, "-m", "counter", "online", "--watch", "--interval", "0.5"],
                          cwd=tmp_path, env=subprocess_env(fake_redis_url), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE) as proc:
        assert b"demo: 0" in proc.stdout.readline()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
        assert b"Traceback" not in proc.stderr.read()


def read_all(fd: int, proc: subprocess.Popen) -> bytes:
    """Read a pseudo-terminal until the process has exited and nothing is left."""
    data = b""
    while True:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # the other end is closed
                break
            if not chunk:
                break
            data += chunk
        elif proc.poll() is not None:
            break
    return data


def test_progress_bar_on_a_terminal_only(fake_redis_url, tmp_path, capsys, monkeypatch):
    path = tmp_path / "h.csv"
    path.write_text("date,visits\n" + "".join(f"{TODAY - timedelta(days=i)},{i}\n" for i in range(1500)))
    flush_url = fake_redis_url
    main_fd, other_fd = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "counter", "import-daily", "demo", str(path)],
                            cwd=tmp_path, env=subprocess_env(flush_url), stdin=subprocess.DEVNULL,
                            stdout=other_fd, stderr=other_fd)
    os.close(other_fd)
    shown = read_all(main_fd, proc).decode()
    os.close(main_fd)
    assert proc.wait(timeout=30) == 0
    assert "demo: importing" in shown and "100%" in shown and "demo: imported 1500 days" in shown
    # Not on a pipe: only the summary.
    done = subprocess.run([sys.executable, "-m", "counter", "import-daily", "demo", str(path)],
                          cwd=tmp_path, env=subprocess_env(flush_url), capture_output=True, text=True,
                          timeout=30)
    assert (done.returncode, done.stdout, done.stderr) == (0, "demo: imported 1500 days\n", "")


# -- the parsers alone ------------------------------------------------------

@pytest.mark.parametrize(("text", "number"), [
    ("0", 0), ("1234", 1234), (" 42 ", 42), ("1.234", 1234), ("1,234", 1234), ("1 234", 1234),
    ("1\u00a0234", 1234), ("1\u202f234", 1234), ("1'234", 1234), ("12.345.678", 12345678),
    ("9.007.199.254.740.991", 2**53 - 1),
])
def test_whole_numbers_as_people_write_them(text, number):
    assert imports.whole_number(text, 7, "visits") == number


@pytest.mark.parametrize("text", ["", "x", "1.5", "1,23", "1.2345", "0.500", "1.234,567", "1,234.5",
                                  "1.234 567", "12.34.567", "+5", "1e3", "9007199254740992",
                                  "\u0663", "1.\u0662\u0663\u0664"])
def test_ambiguous_or_wrong_numbers_are_refused_with_their_line(text):
    with pytest.raises(imports.BadInput) as caught:
        imports.whole_number(text, 7, "visits")
    assert caught.value.line == 7 and "visits" in str(caught.value)


@pytest.mark.parametrize("text", ["20261101", "2026-W44-7", "2026-305", "2026-11-1", "\u0662026-11-01"])
def test_only_dates_as_yyyy_mm_dd_are_taken_without_a_date_format(text):
    with pytest.raises(imports.BadInput) as caught:
        imports.read_date(text, 7, "date", None)
    assert caught.value.line == 7 and "YYYY-MM-DD" in str(caught.value)
    assert imports.read_date("2026-11-01", 7, "date", None) == date(2026, 11, 1)


def test_parse_sorts_days_and_keeps_line_numbers():
    parsed = imports.parse("csv", "date;visits\n\n2026-11-02;5\n2026-11-01;6\n", HANOI, TODAY)
    assert parsed.rows == [imports.Row(date(2026, 11, 1), 6, None, 4),
                           imports.Row(date(2026, 11, 2), 5, None, 3)]
    assert parsed.visits == 11


def test_a_vinaora_row_belongs_to_the_hour_it_ends():
    midnight = int(datetime(2026, 11, 21, tzinfo=HANOI).timestamp())
    text = f"time,visits,bots\n{midnight},10,1\n{midnight + 1},4,0\n"
    rows = imports.parse("vinaora", text, HANOI, TODAY).rows
    assert [(r.date, r.visits) for r in rows] == [(date(2026, 11, 20), 9), (date(2026, 11, 21), 4)]
    # The same rows in another zone fall on other days.
    rows = imports.parse("vinaora", text, ZoneInfo("UTC"), TODAY).rows
    assert [(r.date, r.visits) for r in rows] == [(date(2026, 11, 20), 13)]


def test_a_sentinel_url_without_a_service_is_a_config_error(monkeypatch, capsys):
    monkeypatch.setenv("REDIS_URL", "redis+sentinel://127.0.0.1:26379")
    status, _, err = run(capsys, "stats", "demo")
    assert status == 2 and "REDIS_URL" in err and "service" in err
