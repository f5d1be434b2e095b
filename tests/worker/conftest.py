"""Fixtures for the AQI worker tests: stations, readings queued the way ingest queues them,
the worker's connection URL (the ``aqm_worker`` role) and table snapshots."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import psycopg
import pytest

from aqm.localservices import PostgresInstance
from aqm_core.settings import Settings, load_settings
from qaqc.rules import RULES_FILE

UTC = dt.UTC
LOCAL = dt.timezone(dt.timedelta(hours=7))

Reading = tuple[str, str, dt.datetime, float, str]  # station, parameter, ts, value, status
AddReadings = Callable[[Iterable[Reading]], int]
Snapshot = dict[str, list[tuple[Any, ...]]]

# Same statement shape as ingest's writer: readings and their dirty station-hours in one
# transaction, duplicates ignored, one queue row per station-hour per batch.
_INGEST = """
WITH inserted AS (
    INSERT INTO readings (station_id, parameter, ts, value, original_value, original_unit,
                          status, source_format, received_at)
    SELECT DISTINCT ON (station_id, parameter, ts)
           station_id, parameter, ts, value, value, 'µg/m³', status, 'aqm_json', now()
    FROM test_staging
    ORDER BY station_id, parameter, ts
    ON CONFLICT (station_id, parameter, ts) DO NOTHING
    RETURNING station_id, ts
)
INSERT INTO aqi_dirty_hours (station_id, hour)
SELECT DISTINCT station_id, time_bucket(INTERVAL '1 hour', ts) FROM inserted
"""


@pytest.fixture
def db(clean_db: str) -> str:
    """Superuser URL of an emptied database (backfill cursors included)."""
    with psycopg.connect(clean_db, autocommit=True) as conn:
        conn.execute("TRUNCATE aqi_backfill_jobs CASCADE")  # and their station cursors
    return clean_db


@pytest.fixture
def worker_url(postgres: PostgresInstance, db: str) -> str:
    return postgres.url(user="aqm_worker")


@pytest.fixture(scope="session")
def rules_without_flat_line(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped QA/QC rules with the flat-line rule off.

    The AQI arithmetic tests feed constant concentrations (their indices are computed by
    hand), which the flat-line rule rightly removes as a stuck instrument; every other
    rule stays as shipped. tests/qaqc test the flat-line rule itself.
    """
    text = RULES_FILE.read_text(encoding="utf-8")
    text = re.sub(r"(?m)^flat_line_n = \d+", "flat_line_n = 0", text)
    text = re.sub(r'(?m)^version = "([^"]+)"', r'version = "\1-no-flat-line"', text)
    path = tmp_path_factory.mktemp("rules") / "rules.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def settings(worker_url: str, rules_without_flat_line: Path) -> Settings:
    return load_settings(database_url=worker_url, worker_batch_hours=500, worker_poll_s=0.05,
                         qc_rules_file=rules_without_flat_line)  # fmt: skip


@pytest.fixture
def add_station(db: str) -> Callable[..., None]:
    def add(station_id: str, report_interval_s: int = 3600) -> None:
        with psycopg.connect(db, autocommit=True) as conn:
            conn.execute(
                "INSERT INTO stations (station_id, name, latitude, longitude, station_type,"
                " report_interval_s) VALUES (%s, %s, 21.18, 106.07, 'fixed_automatic', %s)",
                (station_id, f"Trạm {station_id}", report_interval_s),
            )

    return add


@pytest.fixture
def add_readings(db: str) -> AddReadings:
    """Store readings as ingest does (one batch); returns the queue rows added."""

    def add(readings: Iterable[Reading]) -> int:
        with psycopg.connect(db) as conn, conn.cursor() as cur:
            cur.execute(
                "CREATE TEMP TABLE test_staging (station_id text, parameter text,"
                " ts timestamptz, value float8, status text) ON COMMIT DROP"
            )
            with cur.copy("COPY test_staging FROM STDIN") as copy:
                for row in readings:
                    copy.write_row(row)
            cur.execute(_INGEST)
            return cur.rowcount

    return add


@pytest.fixture
def snapshot(db: str) -> Callable[[], Snapshot]:
    """Every aggregate row, without computed_at (values only)."""

    def take() -> Snapshot:
        tables = {
            "hourly": "station_id, parameter, hour",
            "aqi_hourly": "station_id, standard, hour",
            "aqi_daily": "station_id, standard, day",
        }
        result: Snapshot = {}
        with psycopg.connect(db) as conn:
            for table, key in tables.items():
                columns = [
                    r[0]
                    for r in conn.execute(
                        "SELECT column_name FROM information_schema.columns WHERE table_name = %s"
                        " AND column_name <> 'computed_at' ORDER BY ordinal_position",
                        (table,),
                    )
                ]
                result[table] = conn.execute(
                    f"SELECT {', '.join(columns)} FROM {table} ORDER BY {key}"
                ).fetchall()
        return result

    return take


def hourly_series(
    station: str, parameter: str, first_hour: dt.datetime, values: Iterable[float | None],
    minute: int = 30, status: str = "00",
) -> list[Reading]:
    """One reading per hour at ``minute`` past, None = no reading that hour."""
    return [
        (station, parameter, first_hour + dt.timedelta(hours=i, minutes=minute), v, status)
        for i, v in enumerate(values)
        if v is not None
    ]


@pytest.fixture
def series() -> Callable[..., list[Reading]]:
    return hourly_series
