"""``aqm gaps`` end to end against the real TimescaleDB, as the ``aqm_reader`` role."""

from __future__ import annotations

import csv
import datetime as dt
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from aqm.cli import main
from aqm.commands.gaps import CSV_HEADER
from aqm.localservices import PostgresInstance
from tests.gaps.conftest import LOCAL, AddSeries, AddStation

REPO = Path(__file__).resolve().parents[2]
DAY = dt.datetime(2025, 3, 1, tzinfo=LOCAL)


def local(hour: int, minute: int = 0, day: dt.datetime = DAY) -> dt.datetime:
    return day + dt.timedelta(hours=hour, minutes=minute)


def read_csv(path: Path) -> list[list[str]]:
    raw = path.read_bytes()
    assert raw.startswith("\ufeff".encode()), "a BOM, so Excel reads the Vietnamese right"
    return list(csv.reader(raw.decode("utf-8-sig").splitlines()))


@pytest.fixture
def one_station_day(
    add_station: AddStation, add_series: AddSeries, sql: Callable[..., None]
) -> None:
    """BN-01 (5 min, pm25 and no2) on 1 March 2025 local, with gaps written here:
    pm25 10:00-10:10 lost; both 14:00-14:55 lost (an outage); pm25 20:00 lost while a
    reading at 20:03 sits nearer 20:05 (which has its own); no2 08:00 arrived at 08:02
    (jitter: present); pm25 09:00 has status 01 (delivered: present)."""
    add_station("BN-01", ["pm25", "no2"], installed_on=dt.date(2025, 2, 1))
    for parameter in ("pm25", "no2"):
        add_series("BN-01", parameter, DAY, DAY + dt.timedelta(days=1))
    delete = "DELETE FROM readings WHERE station_id = 'BN-01' AND parameter = ANY(%s) AND ts >= %s AND ts < %s"
    sql(delete, ["pm25"], local(10), local(10, 15))
    sql(delete, ["pm25", "no2"], local(14), local(15))
    sql(delete, ["pm25"], local(20), local(20, 1))
    sql("INSERT INTO readings VALUES ('BN-01', 'pm25', %s, 1, 1, 'µg/m³', '00', 'aqm_json', now())",
        local(20, 3))  # fmt: skip
    sql("UPDATE readings SET ts = %s WHERE parameter = 'no2' AND ts = %s", local(8, 2), local(8))
    sql("UPDATE readings SET status = '01' WHERE parameter = 'pm25' AND ts = %s", local(9))
    sql("DELETE FROM readings WHERE parameter = 'pm25' AND ts = %s", local(9, 5))
    sql("INSERT INTO readings VALUES ('BN-01', 'pm25', %s, 1, 1, 'µg/m³', '01', 'aqm_json', now())",
        local(9, 5))  # fmt: skip


def test_one_station_day_table_and_csv(
    one_station_day: None, reader_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    no_aqm_settings: None,
) -> None:  # fmt: skip
    out = tmp_path / "thieu.csv"
    code = main(["gaps", "--station", "BN-01", "--from", "2025-03-01", "--to", "2025-03-01",
                 "-o", str(out), "--database-url", reader_url])  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    name = "Trạm BN-01"
    assert read_csv(out) == [
        list(CSV_HEADER),
        ["BN-01", name, "Bụi PM2.5", "pm25", "2025-03-01 10:00:00+07:00",
         "2025-03-01 10:10:00+07:00", "3", "300"],
        ["BN-01", name, "Bụi PM2.5, NO2", "pm25;no2", "2025-03-01 14:00:00+07:00",
         "2025-03-01 14:55:00+07:00", "12", "300"],
        ["BN-01", name, "Bụi PM2.5", "pm25", "2025-03-01 20:00:00+07:00",
         "2025-03-01 20:00:00+07:00", "1", "300"],
    ]  # fmt: skip
    # 2 parameters x 288 slots; pm25 misses 3 + 12 + 1, no2 12
    assert "BN-01 (Trạm BN-01), every 300 s, pm25, no2: 28 of 576 samples missing" in printed
    assert "  2025-03-01 14:00:00+07:00  2025-03-01 14:55:00+07:00       12  pm25, no2" in printed
    assert f"wrote {out}" in printed


def test_times_with_offset_and_another_time_zone(
    one_station_day: None, reader_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    no_aqm_settings: None,
) -> None:  # fmt: skip
    monkeypatch.setenv("AQM_TIMEZONE", "UTC")
    out = tmp_path / "utc.csv"
    # 03:00-07:30 UTC = 10:00-14:30 local: pm25 10:00-10:10, both 14:00-14:25
    assert main(["gaps", "--station", "BN-01", "--from", "2025-03-01T03:00:00Z", "--to",
                 "2025-03-01T14:30+07:00", "-o", str(out), "--database-url", reader_url]) == 0  # fmt: skip
    assert [row[4:7] for row in read_csv(out)[1:]] == [
        ["2025-03-01 03:00:00+00:00", "2025-03-01 03:10:00+00:00", "3"],
        ["2025-03-01 07:00:00+00:00", "2025-03-01 07:25:00+00:00", "6"],
    ]
    # a time without offset is local time (here UTC): 07:20-07:30 UTC
    assert main(["gaps", "--station", "BN-01", "--from", "2025-03-01T07:20", "--to",
                 "2025-03-01T07:30", "-o", str(out), "--database-url", reader_url]) == 0  # fmt: skip
    assert [row[4:7] for row in read_csv(out)[1:]] == [
        ["2025-03-01 07:20:00+00:00", "2025-03-01 07:25:00+00:00", "2"],
    ]


def test_parameter_filter(
    one_station_day: None, reader_url: str, tmp_path: Path, no_aqm_settings: None
) -> None:
    out = tmp_path / "no2.csv"
    assert main(["gaps", "--station", "BN-01", "--from", "2025-03-01", "--to", "2025-03-01",
                 "--parameter", "no2", "-o", str(out), "--database-url", reader_url]) == 0  # fmt: skip
    assert [row[3:7] for row in read_csv(out)[1:]] == [
        ["no2", "2025-03-01 14:00:00+07:00", "2025-03-01 14:55:00+07:00", "12"],
    ]


def test_all_stations_installation_retirement_and_no_data(
    add_station: AddStation, add_series: AddSeries, sql: Callable[..., None],
    reader_url: str, tmp_path: Path, no_aqm_settings: None, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    day2 = DAY + dt.timedelta(days=1)
    # hourly; installed on the 2nd and silent since: the whole 2nd is missing
    add_station("BN-02", ["pm25"], 3600, installed_on=day2.date())
    # retired on the 2nd: only the 1st is expected, where 05:00 is lost
    add_station("BN-03", ["pm25", "pm10"], 3600, retired_on=day2.date())
    for parameter in ("pm25", "pm10"):
        add_series("BN-03", parameter, DAY, day2, 3600)
    sql("DELETE FROM readings WHERE station_id = 'BN-03' AND ts = %s", local(5))
    # retired before the range: not listed
    add_station("BN-04", ["pm25"], retired_on=dt.date(2025, 2, 15))
    out = tmp_path / "all.csv"
    assert main(["gaps", "--from", "2025-03-01", "--to", "2025-03-02", "-o", str(out),
                 "--database-url", reader_url]) == 0  # fmt: skip
    assert [row[:1] + row[3:7] for row in read_csv(out)[1:]] == [
        ["BN-02", "pm25", "2025-03-02 00:00:00+07:00", "2025-03-02 23:00:00+07:00", "24"],
        ["BN-03", "pm25;pm10", "2025-03-01 05:00:00+07:00", "2025-03-01 05:00:00+07:00", "1"],
    ]
    printed = capsys.readouterr().out
    assert "BN-04" not in printed and "2 stations, 26 samples missing" in printed


def test_samples_not_yet_due_are_not_missing(
    add_station: AddStation, add_series: AddSeries, reader_url: str, tmp_path: Path,
    no_aqm_settings: None,
) -> None:  # fmt: skip
    now = dt.datetime.now(dt.UTC)
    first = now - dt.timedelta(hours=2, seconds=now.timestamp() % 300)
    stop = now - dt.timedelta(minutes=30)  # nothing since: 15 of these 30 minutes are due
    add_station("BN-05", ["pm25"])
    add_series("BN-05", "pm25", first, stop)
    out = tmp_path / "now.csv"
    assert main(["gaps", "--station", "BN-05", "--from", first.isoformat(), "--to", "2999-01-01",
                 "-o", str(out), "--database-url", reader_url]) == 0  # fmt: skip
    rows = read_csv(out)[1:]
    assert len(rows) == 1
    first_missing = dt.datetime.fromisoformat(rows[0][4])
    last_missing = dt.datetime.fromisoformat(rows[0][5])
    assert stop <= first_missing < stop + dt.timedelta(minutes=5)
    # the last missing sample is at most 15 minutes old (and the one after it is not due)
    due = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=15)
    assert due - dt.timedelta(minutes=6) < last_missing <= due
    assert int(rows[0][6]) == (last_missing - first_missing) // dt.timedelta(minutes=5) + 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "March"], "--from: 'March' is neither a date"),
        (["--from", "2025-03-01", "--to", "2025-02-31"], "--to: '2025-02-31' is neither"),
        (
            ["--from", "2025-03-02", "--to", "2025-03-01"],
            r"--from 2025-03-02T00:00:00\+07:00 is not before --to 2025-03-02T00:00:00\+07:00",
        ),
        (
            ["--from", "2025-03-01", "--parameter", "PM2.5"],
            "--parameter: unknown parameter 'PM2.5'.*did you mean pm25",
        ),
        (["--from", "2025-03-01", "--station", "BN-99"], "--station: no station 'BN-99'"),
        (
            ["--from", "2999-01-01", "--to", "2999-01-02"],
            r"--from 2999-01-01T00:00:00\+07:00: no sample is due yet",
        ),
        (["--from", "2025-03-01", "--limit", "-1"], r"--limit must be 0 \(all\) or more"),
        (
            ["--from", "2025-03-01", "-o", "/nonexistent/x.csv"],
            "-o: /nonexistent/x.csv: folder /nonexistent does not exist",
        ),
    ],
)
def test_errors_name_the_option(
    args: list[str], message: str, reader_url: str, capsys: pytest.CaptureFixture[str],
    no_aqm_settings: None,
) -> None:  # fmt: skip
    assert main(["gaps", *args, "--database-url", reader_url]) == 2
    err = capsys.readouterr().err
    assert err.startswith("aqm gaps: error: ")

    assert re.search(message, err), err


def test_an_unreachable_database_is_one_line(
    no_aqm_settings: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["gaps", "--from", "2025-03-01", "--database-url",
                 "postgresql://aqm_reader:secret@127.0.0.1:1/aqm"]) == 2  # fmt: skip
    err = capsys.readouterr().err
    assert "cannot connect to the database" in err and "secret" not in err


def test_a_role_that_may_not_read_readings_is_told_so(
    postgres: PostgresInstance, clean_db: str, add_station: AddStation,
    capsys: pytest.CaptureFixture[str], no_aqm_settings: None,
) -> None:  # fmt: skip
    add_station("BN-01")
    assert main(["gaps", "--from", "2025-03-01", "--to", "2025-03-01", "--database-url",
                 postgres.url(user="aqm_ingest")]) == 2  # fmt: skip
    err = capsys.readouterr().err
    assert "the database role may not read what gaps need" in err, err


def test_help_answers_without_loading_numpy_or_psycopg() -> None:
    code = (
        "import sys\n"
        "from aqm.cli import build_parser\n"
        "import aqm.commands.gaps\n"
        "assert 'worker.gaps' not in sys.modules and 'storage.gaps' not in sys.modules\n"
    )
    env = {**os.environ, "AQM_CONFIG": ""}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "aqm.cli", "gaps", "--help"], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert done.returncode == 0 and "re-sent readings are stored once" in done.stdout
    assert time.perf_counter() - started < 30
    assert subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, timeout=60,
                          check=False).returncode == 0  # fmt: skip
