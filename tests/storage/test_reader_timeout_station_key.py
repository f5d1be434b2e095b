"""Migration 0010: aqm_reader's statement timeout and the key from readings to stations,
on the real TimescaleDB (a hypertable referencing a plain table)."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest

from aqm.localservices import PostgresInstance


def test_the_reader_role_has_a_statement_timeout(clean_db: str, postgres: PostgresInstance) -> None:
    with psycopg.connect(postgres.url(user="aqm_reader")) as conn:
        row = conn.execute("SHOW statement_timeout").fetchone()
        assert row is not None and row[0] == "1min"
        # and it is enforced: a statement over the limit (lowered for the test) is cancelled
        conn.execute("SET statement_timeout = '200ms'")
        with pytest.raises(psycopg.errors.QueryCanceled):
            conn.execute("SELECT pg_sleep(2)")


def _reading(station: str) -> tuple[object, ...]:
    return (
        station,
        "pm25",
        datetime(2025, 3, 1, 1, tzinfo=UTC),
        10.0,
        10.0,
        "µg/m³",
        "00",
        "aqm_json",
        datetime(2025, 3, 1, 1, tzinfo=UTC),
    )


INSERT = (
    "INSERT INTO readings (station_id, parameter, ts, value, original_value, original_unit,"
    " status, source_format, received_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
)


def test_readings_need_a_registered_station(clean_db: str) -> None:
    with psycopg.connect(clean_db, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO stations (station_id, name, latitude, longitude, station_type)"
            " VALUES ('BN-01', 'Trạm 1', 21.18, 106.07, 'fixed_automatic')"
        )
        conn.execute(INSERT, _reading("BN-01"))
        with pytest.raises(psycopg.errors.ForeignKeyViolation, match="readings_station_id_fkey"):
            conn.execute(INSERT, _reading("BN-NOT-REGISTERED"))
        # a station with stored readings cannot be deleted (retire it instead)
        with pytest.raises(psycopg.errors.ForeignKeyViolation):
            conn.execute("DELETE FROM stations WHERE station_id = 'BN-01'")
        # the hypertable itself carries it
        row = conn.execute(
            "SELECT count(*) FROM pg_constraint WHERE conname = 'readings_station_id_fkey'"
            " AND conrelid = 'readings'::regclass"
        ).fetchone()
        assert row == (1,)
