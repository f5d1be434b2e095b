"""Stations and readings for the gap tests, written straight into the real database."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

import psycopg
import pytest

from aqm.localservices import PostgresInstance

LOCAL = dt.timezone(dt.timedelta(hours=7))

AddStation = Callable[..., None]
AddSeries = Callable[..., int]


@pytest.fixture
def add_station(clean_db: str) -> AddStation:
    def add(
        station_id: str,
        parameters: Sequence[str] = ("pm25",),
        report_interval_s: int = 300,
        installed_on: dt.date | None = None,
        retired_on: dt.date | None = None,
    ) -> None:
        with psycopg.connect(clean_db, autocommit=True) as conn:
            conn.execute(
                "INSERT INTO stations (station_id, name, latitude, longitude, station_type,"
                " report_interval_s, parameters, installed_on, retired_on, status)"
                " VALUES (%s, %s, 21.18, 106.07, 'fixed_automatic', %s, %s, %s, %s, %s)",
                (station_id, f"Trạm {station_id}", report_interval_s, list(parameters),
                 installed_on, retired_on, "retired" if retired_on else "active"),
            )  # fmt: skip

    return add


@pytest.fixture
def add_series(clean_db: str) -> AddSeries:
    """Readings every ``step_s`` seconds in ``[start, end)``; returns the rows added."""

    def add(station_id: str, parameter: str, start: dt.datetime, end: dt.datetime,
            step_s: int = 300, status: str = "00") -> int:  # fmt: skip
        with psycopg.connect(clean_db, autocommit=True) as conn:
            cur = conn.execute(
                "INSERT INTO readings (station_id, parameter, ts, value, original_value,"
                " original_unit, status, source_format, received_at)"
                " SELECT %s, %s, ts, 20, 20, 'µg/m³', %s, 'aqm_json', now()"
                " FROM generate_series(%s::timestamptz, %s::timestamptz - interval '1 us',"
                "                      make_interval(secs => %s)) AS ts",
                (station_id, parameter, status, start, end, step_s),
            )
            return cur.rowcount

    return add


@pytest.fixture
def sql(clean_db: str) -> Callable[..., None]:
    def run(statement: str, *params: object) -> None:
        with psycopg.connect(clean_db, autocommit=True) as conn:
            conn.execute(statement, params)

    return run


@pytest.fixture
def reader_url(postgres: PostgresInstance, clean_db: str) -> str:
    return postgres.url(user="aqm_reader")
