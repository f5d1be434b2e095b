"""Each role can do its job and nothing more (migrations 0003 and 0004)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import psycopg
import pytest

from aqm.localservices import PostgresInstance

pytestmark = pytest.mark.services

T = dt.datetime(2025, 3, 10, 3, tzinfo=dt.UTC)


def _denied(url: str, statement: str, params: tuple[Any, ...] = ()) -> None:
    with psycopg.connect(url) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(statement, params)


def test_worker_can_claim_and_write_aggregates_but_not_readings_or_ddl(
    postgres: PostgresInstance, db: str
) -> None:
    url = postgres.url(user="aqm_worker")
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("INSERT INTO aqi_dirty_hours (station_id, hour) VALUES ('BN01', %s)", (T,))
    with psycopg.connect(url) as conn:
        claimed = conn.execute(
            "DELETE FROM aqi_dirty_hours WHERE id IN (SELECT id FROM aqi_dirty_hours"
            " FOR UPDATE SKIP LOCKED) RETURNING station_id"
        ).fetchall()
        assert claimed == [("BN01",)]
        conn.execute(
            "INSERT INTO hourly (station_id, parameter, hour, n_valid, n_flagged, n_expected,"
            " completeness, valid, min_completeness) VALUES ('BN01', 'pm25', %s, 0, 0, 12, 0,"
            " false, 0.75)", (T,),
        )  # fmt: skip
        conn.execute(
            "INSERT INTO aqi_hourly (station_id, standard, hour, method_version)"
            " VALUES ('BN01', 'vn_1459_2019', %s, 'x')", (T,),
        )  # fmt: skip
        conn.execute(
            "INSERT INTO aqi_daily (station_id, standard, day, method_version)"
            " VALUES ('BN01', 'vn_1459_2019', %s, 'x')", (T.date(),),
        )  # fmt: skip
        conn.execute("SELECT count(*) FROM readings")
        conn.rollback()
    _denied(url, "INSERT INTO readings (station_id, parameter, ts, value, original_value,"
                 " original_unit, source_format, received_at) VALUES ('BN01', 'pm25', now(), 1,"
                 " 1, 'µg/m³', 'aqm_json', now())")  # fmt: skip
    _denied(url, "DELETE FROM readings")
    _denied(url, "INSERT INTO stations (station_id, name, latitude, longitude, station_type)"
                 " VALUES ('X', 'x', 0, 0, 'mobile')")  # fmt: skip
    _denied(url, "DROP TABLE hourly")
    _denied(url, "DROP TABLE readings")
    _denied(url, "SELECT payload FROM rejected_messages")


def test_ingest_cannot_write_aggregates(postgres: PostgresInstance, db: str) -> None:
    url = postgres.url(user="aqm_ingest")
    _denied(url, "INSERT INTO hourly (station_id, parameter, hour, n_valid, n_flagged,"
                 " n_expected, completeness, valid, min_completeness)"
                 " VALUES ('BN01', 'pm25', now(), 0, 0, 12, 0, false, 0.75)")  # fmt: skip
    _denied(url, "INSERT INTO aqi_hourly (station_id, standard, hour, method_version)"
                 " VALUES ('BN01', 'vn_1459_2019', now(), 'x')")  # fmt: skip
    _denied(url, "INSERT INTO aqi_daily (station_id, standard, day, method_version)"
                 " VALUES ('BN01', 'vn_1459_2019', current_date, 'x')")  # fmt: skip
    _denied(url, "UPDATE aqi_hourly SET aqi = 1")
    _denied(url, "DELETE FROM aqi_dirty_hours")
    _denied(url, "UPDATE aqi_backfill_jobs SET next_day = current_date")
    with psycopg.connect(url) as conn:  # its own job still works
        conn.execute("INSERT INTO aqi_dirty_hours (station_id, hour) VALUES ('BN01', %s)", (T,))
        conn.rollback()


def test_reader_only_selects_and_never_sees_rejected_payloads(
    postgres: PostgresInstance, db: str
) -> None:
    url = postgres.url(user="aqm_reader")
    with psycopg.connect(url) as conn:
        for table in ("stations", "readings", "hourly", "aqi_hourly", "aqi_daily",
                      "aqi_categories", "parameters"):  # fmt: skip
            conn.execute(f"SELECT count(*) FROM {table}")
        conn.execute("SELECT id, reason_code, reason FROM rejected_messages")
    _denied(url, "SELECT payload FROM rejected_messages")
    _denied(url, "SELECT * FROM rejected_messages")
    _denied(url, "INSERT INTO aqi_hourly (station_id, standard, hour, method_version)"
                 " VALUES ('BN01', 'vn_1459_2019', now(), 'x')")  # fmt: skip
    _denied(url, "DELETE FROM aqi_daily")
    _denied(url, "SELECT * FROM aqi_dirty_hours")
    _denied(url, "SELECT * FROM aqi_backfill_jobs")
