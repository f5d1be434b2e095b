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
from aqm.settings import Settings
from worker.backfill import UnknownStationError, run_backfill
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

    def stop_after_two(first: dt.date, end: dt.date, _report: object) -> None:
        chunks.append((first, end))
        if len(chunks) == 2:
            stop.set()

    first_run = run_backfill(worker_url, settings, FIRST, last, chunk_days=3, stop=stop,
                             on_chunk=stop_after_two)  # fmt: skip
    assert not first_run.finished and first_run.days_done == 6
    with psycopg.connect(history) as conn:
        cursor = conn.execute("SELECT next_day, finished_at FROM aqi_backfill_jobs").fetchall()
    assert cursor == [(FIRST + dt.timedelta(days=6), None)]

    resumed_chunks: list[dt.date] = []
    second_run = run_backfill(worker_url, settings, FIRST, last, chunk_days=3,
                              on_chunk=lambda a, _b, _r: resumed_chunks.append(a))  # fmt: skip
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
           "AQM_CONFIG": "/nonexistent/aqm.toml"}  # fmt: skip
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
