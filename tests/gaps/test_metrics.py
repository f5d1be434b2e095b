"""The missing-sample gauges of the AQI worker, served over HTTP from the real database."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from aqm.localservices import PostgresInstance, free_port
from tests.gaps.conftest import AddSeries, AddStation
from worker.gap_metrics import DELAY, WINDOW, start_gap_exporter

REPO = Path(__file__).resolve().parents[2]
NOW = dt.datetime(2025, 3, 2, 12, 7, tzinfo=dt.UTC)


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def wait_for(port: int, name: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        values = scrape(port)
        if any(key[0] == name for key in values):
            return values
        time.sleep(0.1)
    raise AssertionError(f"{name} never appeared")


def test_missing_samples_of_the_last_day_per_station_and_parameter(
    add_station: AddStation, add_series: AddSeries, sql: Callable[..., None],
    postgres: PostgresInstance,
) -> None:  # fmt: skip
    end = NOW - DELAY  # 11:52 UTC: the window's slots are 11:55 the day before … 11:50
    start = end - WINDOW
    add_station("BN-01", ["pm25", "no2"])
    add_series("BN-01", "pm25", start - dt.timedelta(hours=1), NOW)
    add_series("BN-01", "no2", start - dt.timedelta(hours=1), NOW)
    # an hour of no2 lost, and 3 samples of both
    sql("DELETE FROM readings WHERE parameter = 'no2' AND ts >= %s AND ts < %s",
        NOW - dt.timedelta(hours=5), NOW - dt.timedelta(hours=4))  # fmt: skip
    sql("DELETE FROM readings WHERE ts >= %s AND ts < %s",
        NOW - dt.timedelta(hours=2), NOW - dt.timedelta(hours=2) + dt.timedelta(minutes=15))  # fmt: skip
    add_station("BN-02", ["pm25"], report_interval_s=3600)  # silent
    add_station("BN-03", ["pm25"], retired_on=dt.date(2025, 1, 1))  # not expected
    stop = threading.Event()
    port, thread = start_gap_exporter(
        postgres.url(user="aqm_worker"),
        "Asia/Ho_Chi_Minh",
        "127.0.0.1",
        0,
        stop,
        every_s=0.2,
        clock=lambda: NOW,
    )
    try:
        values = wait_for(port, "aqm_gaps_missing_samples")
    finally:
        stop.set()
    thread.join(10)

    def value(name: str, station: str, parameter: str) -> float:
        return values[(name, (("parameter", parameter), ("station", station)))]

    assert value("aqm_gaps_expected_samples", "BN-01", "pm25") == 288
    assert value("aqm_gaps_missing_samples", "BN-01", "pm25") == 3
    assert value("aqm_gaps_missing_samples", "BN-01", "no2") == 12 + 3
    assert value("aqm_gaps_expected_samples", "BN-02", "pm25") == 24
    assert value("aqm_gaps_missing_samples", "BN-02", "pm25") == 24
    assert not any(dict(labels).get("station") == "BN-03" for _, labels in values)
    assert values[("aqm_gaps_refreshed_timestamp_seconds", ())] > 0


def test_the_worker_command_serves_the_gauges(
    add_station: AddStation, postgres: PostgresInstance
) -> None:
    add_station("BN-02", ["pm25"], report_interval_s=3600)
    port = free_port()
    env = {**os.environ, "AQM_CONFIG": "", "AQM_DATABASE_URL": postgres.url(user="aqm_worker"),
           "AQM_WORKER_METRICS_PORT": str(port)}  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-m", "aqm.cli", "worker"], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        values: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
        while time.monotonic() < deadline and not values:
            try:
                values = wait_for(port, "aqm_gaps_missing_samples")
            except OSError:
                time.sleep(0.2)
        key = ("aqm_gaps_missing_samples", (("parameter", "pm25"), ("station", "BN-02")))
        assert values[key] == 24
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("busy", [True])
def test_a_busy_port_is_an_error_naming_the_setting(
    busy: bool, postgres: PostgresInstance, database_url: str
) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        env = {**os.environ, "AQM_CONFIG": "", "AQM_DATABASE_URL": database_url,
               "AQM_WORKER_METRICS_PORT": str(port)}  # fmt: skip
        done = subprocess.run([sys.executable, "-m", "aqm.cli", "worker"], cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert done.returncode == 2
    assert f"AQM_WORKER_METRICS_PORT: cannot listen on 127.0.0.1:{port}" in done.stderr
