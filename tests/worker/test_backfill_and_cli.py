"""``aqm aqi backfill`` (chunks, resume, agreement with the worker) and ``aqm worker``."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

from aqm.commands.backfill import add_backfill_parser
from aqm_core.settings import Settings
from worker.backfill import (
    DEFAULT_CHUNK_DAYS,
    ChunkDone,
    UnknownStationError,
    run_backfill,
    station_groups,
)
from worker.service import drain_once

pytestmark = pytest.mark.services

LOCAL = dt.timezone(dt.timedelta(hours=7))
FIRST = dt.date(2025, 3, 1)
START = dt.datetime(2025, 3, 1, tzinfo=LOCAL).astimezone(dt.UTC)
REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def history(
    db: str, add_station: Callable[..., None], add_readings: Callable[..., int],
    series: Callable[..., list[Any]],
) -> str:  # fmt: skip
    """Ten days of two stations, with a gap; the queue emptied (history already stored)."""
    for station, level in (("BN01", 30.0), ("BN02", 70.0)):
        add_station(station)
        values: list[float | None] = [level + (h % 24) for h in range(240)]
        values[100:110] = [None] * 10
        add_readings(series(station, "pm25", START, values)
                     + series(station, "no2", START, [level] * 240))  # fmt: skip
    return db


def _drain_reference(db: str, settings: Settings, snapshot: Callable[[], Any]) -> Any:
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("TRUNCATE hourly, aqi_hourly, aqi_daily")
    drain_once(settings=settings)
    return snapshot()


def test_backfill_agrees_with_the_worker(
    history: str, worker_url: str, settings: Settings, snapshot: Callable[[], Any]
) -> None:
    reference = _drain_reference(history, settings, snapshot)
    with psycopg.connect(history, autocommit=True) as conn:
        conn.execute("TRUNCATE hourly, aqi_hourly, aqi_daily")
    summary = run_backfill(worker_url, settings, FIRST, FIRST + dt.timedelta(days=9),
                           chunk_days=3)  # fmt: skip
    assert summary.finished and summary.days_done == 10 and summary.resumed_from is None
    assert snapshot() == reference


def test_interrupted_backfill_resumes_where_it_stopped(
    history: str, worker_url: str, settings: Settings, snapshot: Callable[[], Any]
) -> None:
    reference = _drain_reference(history, settings, snapshot)
    with psycopg.connect(history, autocommit=True) as conn:
        conn.execute("TRUNCATE hourly, aqi_hourly, aqi_daily")
    last = FIRST + dt.timedelta(days=9)
    stop = threading.Event()
    chunks: list[tuple[dt.date, dt.date]] = []

    def stop_after_two(chunk: ChunkDone) -> None:
        chunks.append((chunk.first_day, chunk.last_day))
        if len(chunks) == 2:
            stop.set()

    # One group: the chunks run one after the other, so the cursor is exact.
    first_run = run_backfill(worker_url, settings, FIRST, last, chunk_days=3, parallelism=1,
                             stop=stop, on_chunk=stop_after_two)  # fmt: skip
    assert not first_run.finished and first_run.days_done == 6
    with psycopg.connect(history) as conn:
        cursor = conn.execute("SELECT next_day, finished_at FROM aqi_backfill_jobs").fetchall()
    assert cursor == [(FIRST + dt.timedelta(days=6), None)]

    resumed_chunks: list[dt.date] = []
    second_run = run_backfill(worker_url, settings, FIRST, last, chunk_days=3, parallelism=1,
                              on_chunk=lambda c: resumed_chunks.append(c.first_day))  # fmt: skip
    assert second_run.finished and second_run.resumed_from == FIRST + dt.timedelta(days=6)
    assert resumed_chunks == [FIRST + dt.timedelta(days=6), FIRST + dt.timedelta(days=9)]
    assert snapshot() == reference
    # A finished range asked again is recomputed from its first day.
    third = run_backfill(worker_url, settings, FIRST, last, chunk_days=5)
    assert third.resumed_from is None and third.days_done == 10


def test_backfill_of_one_station_and_unknown_station(
    history: str, worker_url: str, settings: Settings
) -> None:
    with psycopg.connect(history, autocommit=True) as conn:
        conn.execute("TRUNCATE hourly, aqi_hourly, aqi_daily")
    run_backfill(worker_url, settings, FIRST, FIRST, station_id="BN02")
    with psycopg.connect(history) as conn:
        stations = conn.execute("SELECT DISTINCT station_id FROM aqi_daily").fetchall()
    assert stations == [("BN02",)]
    with pytest.raises(UnknownStationError, match="BN99"):
        run_backfill(worker_url, settings, FIRST, FIRST, station_id="BN99")


@pytest.fixture
def five_stations(
    db: str, add_station: Callable[..., None], add_readings: Callable[..., int],
    series: Callable[..., list[Any]],
) -> str:  # fmt: skip
    """Ten days of five stations with different levels and gaps (groups of unequal size)."""
    for i in range(5):
        station = f"BN{i + 1:02d}"
        add_station(station)
        values: list[float | None] = [20.0 + 15 * i + (h * (i + 3)) % 40 for h in range(240)]
        values[30 * i : 30 * i + 8] = [None] * 8
        add_readings(series(station, "pm25", START, values)
                     + series(station, "pm10", START, [2 * v if v else None for v in values])
                     + series(station, "no2", START, [40.0 + i] * 240))  # fmt: skip
    return db


def _truncate_aggregates(db: str) -> None:
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("TRUNCATE hourly, aqi_hourly, aqi_daily")


def test_parallel_backfill_equals_serial_row_for_row(
    five_stations: str, worker_url: str, settings: Settings, snapshot: Callable[[], Any]
) -> None:
    last = FIRST + dt.timedelta(days=9)
    reference = _drain_reference(five_stations, settings, snapshot)
    _truncate_aggregates(five_stations)
    serial = run_backfill(worker_url, settings, FIRST, last, chunk_days=4, parallelism=1)
    assert serial.groups == 1 and serial.finished
    serial_rows = snapshot()
    assert serial_rows == reference
    _truncate_aggregates(five_stations)
    parallel = run_backfill(worker_url, settings, FIRST, last, chunk_days=4, parallelism=3)
    assert parallel.groups == 3 and parallel.finished and parallel.days_done == 10
    assert snapshot() == serial_rows
    assert parallel.report.rows_written == serial.report.rows_written
    assert parallel.report.station_hours == serial.report.station_hours
    # Over stored, unchanged values a second backfill writes nothing, stamps untouched.
    with psycopg.connect(five_stations) as conn:
        stamps = conn.execute("SELECT max(computed_at) FROM aqi_hourly").fetchall()
    again = run_backfill(worker_url, settings, FIRST, last, chunk_days=4, parallelism=2)
    assert again.report.rows_written == 0 and snapshot() == serial_rows
    with psycopg.connect(five_stations) as conn:
        assert conn.execute("SELECT max(computed_at) FROM aqi_hourly").fetchall() == stamps


def test_backfill_over_stored_rows_rewrites_only_what_changed(
    five_stations: str, worker_url: str, settings: Settings, snapshot: Callable[[], Any]
) -> None:
    last = FIRST + dt.timedelta(days=9)
    run_backfill(worker_url, settings, FIRST, last, chunk_days=3, parallelism=2)
    # One PM2.5 reading corrected in place (no queue row: only a backfill sees it).
    changed_hour = START + dt.timedelta(hours=50)
    with psycopg.connect(five_stations, autocommit=True) as conn:
        conn.execute(
            "UPDATE readings SET value = value + 5 WHERE station_id = 'BN02'"
            " AND parameter = 'pm25' AND ts >= %s AND ts < %s",
            (changed_hour, changed_hour + dt.timedelta(hours=1)),
        )
    rerun = run_backfill(worker_url, settings, FIRST, last, chunk_days=3, parallelism=2)
    # The hourly mean, at most the 12 NowCast hours per standard and 2 days per standard.
    assert 1 < rerun.report.rows_written <= 1 + 2 * 12 + 2 * 2
    assert snapshot() == _drain_reference(five_stations, settings, snapshot)


def test_interrupted_parallel_backfill_resumes_every_station(
    five_stations: str, worker_url: str, settings: Settings, snapshot: Callable[[], Any]
) -> None:
    last = FIRST + dt.timedelta(days=9)
    reference = _drain_reference(five_stations, settings, snapshot)
    _truncate_aggregates(five_stations)
    stop = threading.Event()
    first_run = run_backfill(worker_url, settings, FIRST, last, chunk_days=2, parallelism=2,
                             stop=stop, on_chunk=lambda _c: stop.set())  # fmt: skip
    assert not first_run.finished
    with psycopg.connect(five_stations) as conn:
        cursors: dict[str, dt.date] = dict(conn.execute(
            "SELECT station_id, next_day FROM aqi_backfill_progress").fetchall())  # fmt: skip
        job = conn.execute("SELECT next_day, finished_at FROM aqi_backfill_jobs").fetchall()
        daily_days: dict[str, dt.date] = dict(conn.execute(
            "SELECT station_id, max(day) FROM aqi_daily GROUP BY 1").fetchall())  # fmt: skip
    assert sorted(cursors) == ["BN01", "BN02", "BN03", "BN04", "BN05"]
    assert job == [(min(cursors.values()), None)]
    assert any(day > FIRST for day in cursors.values())  # at least one chunk committed
    for station, day in cursors.items():  # a cursor never runs ahead of what is stored
        if day > FIRST:
            assert daily_days[station] >= day - dt.timedelta(days=1)
    # Resumed with another number of groups, every station continues at its own cursor.
    resumed_days: list[tuple[str, dt.date]] = []

    def record(chunk: ChunkDone) -> None:
        resumed_days.extend((s, chunk.first_day) for s in chunk.stations)

    second = run_backfill(worker_url, settings, FIRST, last, chunk_days=2, parallelism=3,
                          on_chunk=record)  # fmt: skip
    assert second.finished and second.resumed_from == min(cursors.values())
    for station, day in cursors.items():
        assert min(d for s, d in resumed_days if s == station) == day
    assert snapshot() == reference
    with psycopg.connect(five_stations) as conn:
        assert conn.execute("SELECT next_day, finished_at IS NOT NULL FROM aqi_backfill_jobs"
                            ).fetchall() == [(last + dt.timedelta(days=1), True)]  # fmt: skip


def test_station_groups_are_balanced_and_skip_finished_stations() -> None:
    to_day = FIRST + dt.timedelta(days=9)
    cursors = {f"S{i}": FIRST + dt.timedelta(days=i % 3) for i in range(7)}
    cursors["DONE"] = to_day + dt.timedelta(days=1)
    groups = station_groups(cursors, to_day, 3)
    assert sorted(len(g) for g in groups) == [2, 2, 3]
    assert sorted(s for g in groups for s in g) == sorted(set(cursors) - {"DONE"})
    assert station_groups(cursors, to_day, 20) == [[s] for s in
                                                   sorted(set(cursors) - {"DONE"},
                                                          key=lambda s: (cursors[s], s))]  # fmt: skip
    assert station_groups({"DONE": cursors["DONE"]}, to_day, 2) == []


def test_command_default_chunk_is_the_backfill_default() -> None:
    parser = argparse.ArgumentParser(prog="aqm aqi")
    add_backfill_parser(parser.add_subparsers(dest="aqi_command", required=True))
    args = parser.parse_args(["backfill", "--from", "2025-01-01", "--to", "2025-01-31"])
    assert args.chunk_days == DEFAULT_CHUNK_DAYS


def _backfill_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="aqm aqi")
    add_backfill_parser(parser.add_subparsers(dest="aqi_command", required=True))
    args = parser.parse_args(["backfill", *argv])
    result: int = args.handler(args)
    return result


def test_backfill_command(history: str, worker_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    from aqm.cli import CliError

    assert _backfill_cli(["--from", "2025-03-01", "--to", "2025-03-04", "--database-url",
                          worker_url, "--chunk-days", "2"]) == 0  # fmt: skip
    assert "done: computed" in capsys.readouterr().out
    with pytest.raises(CliError, match="--from 2025-03-05 is after --to 2025-03-04"):
        _backfill_cli(["--from", "2025-03-05", "--to", "2025-03-04"])
    with pytest.raises(CliError, match=r"--station.*BN99"):
        _backfill_cli(["--from", "2025-03-01", "--to", "2025-03-01", "--station", "BN99",
                       "--database-url", worker_url])  # fmt: skip
    with pytest.raises(SystemExit):
        _backfill_cli(["--from", "March", "--to", "2025-03-04"])


def test_worker_command_drains_once_and_stops_on_sigterm(
    db: str, worker_url: str, add_station: Callable[..., None],
    add_readings: Callable[..., int], series: Callable[..., list[Any]],
) -> None:  # fmt: skip
    add_station("BN01")
    add_readings(series("BN01", "pm25", START, [30.0] * 5))
    env = {**os.environ, "AQM_DATABASE_URL": worker_url, "AQM_WORKER_POLL_S": "0.1",
           "AQM_CONFIG": ""}  # read no file  # fmt: skip
    command = [sys.executable, "-m", "aqm.cli", "worker"]
    once = subprocess.run([*command, "--once"], env=env, cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=60, check=False)  # fmt: skip
    assert once.returncode == 0, once.stderr
    assert "queue drained: computed 16 station-hours" in once.stdout
    with psycopg.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM aqi_dirty_hours").fetchone() == (0,)

    add_readings(series("BN01", "pm25", START + dt.timedelta(hours=5), [30.0]))
    proc = subprocess.Popen(command, env=env, cwd=REPO_ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with psycopg.connect(db) as conn:
                left = conn.execute("SELECT count(*) FROM aqi_dirty_hours").fetchone()
            if left == (0,):
                break
            time.sleep(0.1)
        assert left == (0,), "the running worker drained the queue"
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    assert "AQI worker stopped" in stderr


def test_indices_only_backfill_recomputes_the_aqi_tables_from_stored_hourly_means(
    history: str, worker_url: str, settings: Settings, snapshot: Callable[[], Any]
) -> None:
    reference = _drain_reference(history, settings, snapshot)
    # the AQI tables lost (or computed by an older method), the hourly means kept
    with psycopg.connect(history, autocommit=True) as conn:
        conn.execute("TRUNCATE aqi_hourly, aqi_daily")
        # a reading changed after its hourly mean was computed: indices-only must not see it
        conn.execute("UPDATE readings SET value = value + 1000 WHERE parameter = 'no2'")
    summary = run_backfill(worker_url, settings, FIRST, FIRST + dt.timedelta(days=9),
                           chunk_days=3, indices_only=True)  # fmt: skip
    assert summary.finished and summary.days_done == 10
    assert summary.job.job_key.endswith(":indices")  # its own resumable job
    assert snapshot() == reference
    # a full backfill of the same range is a different job and does read the readings
    full = run_backfill(worker_url, settings, FIRST, FIRST + dt.timedelta(days=9), chunk_days=5)
    assert full.days_done == 10 and snapshot() != reference


def test_backfill_removes_means_whose_readings_were_deleted(
    db: str, worker_url: str, settings: Settings, add_station: Callable[..., None],
    add_readings: Callable[..., int], series: Callable[..., list[Any]],
) -> None:  # fmt: skip
    # 24 hours of PM2.5 at 30 µg/m³ except a wrong 200 at hour 5, which an operator then
    # deletes by hand (the correction path: a different value re-sent is kept as a reject).
    add_station("BN01")
    values: list[float | None] = [30.0] * 24
    values[5] = 200.0
    add_readings(series("BN01", "pm25", START, values))
    drain_once(settings=settings)
    wrong_hour = START + dt.timedelta(hours=5)
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute(
            "DELETE FROM readings WHERE station_id = 'BN01' AND ts >= %s"
            " AND ts < %s + interval '1 hour'",
            (wrong_hour, wrong_hour),
        )
    run_backfill(worker_url, settings, FIRST, FIRST)
    with psycopg.connect(db) as conn:
        stale = conn.execute("SELECT count(*) FROM hourly WHERE hour = %s", (wrong_hour,))
        assert stale.fetchone() == (0,)
        day = conn.execute(
            "SELECT pm25_mean, aqi FROM aqi_daily WHERE standard = 'vn_1459_2019' AND day = %s",
            (FIRST,),
        ).fetchone()
    # 23 valid hours of 30 (≥ 18): mean 30 → VN (100 − 50) / (50 − 25) · (30 − 25) + 50 = 60.
    assert day == (30.0, 60)
