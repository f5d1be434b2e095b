"""Fixtures of the provisioning tests: the seeded database and a Grafana-like SQL runner."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from typing import Any

import psycopg
import pytest

from aqm.localservices import PostgresInstance
from tests.provisioning.macros import TimeRange, VariableValue, expand
from tests.provisioning.seed import (
    LAST_24H,
    SESSION_TIMEZONE,
    Result,
    Runner,
    seed_common,
    station_variables,
)


@pytest.fixture
def seeded_db(clean_db: str) -> str:
    seed_common(clean_db)
    return clean_db


@pytest.fixture
def reader(postgres: PostgresInstance, database_url: str) -> Iterator[psycopg.Connection[Any]]:
    """A connection as the read-only role Grafana uses."""
    with psycopg.connect(postgres.url(user="aqm_reader"), autocommit=True) as conn:
        conn.execute(f"SET TimeZone = '{SESSION_TIMEZONE}'")
        yield conn


@pytest.fixture
def run_sql(reader: psycopg.Connection[Any]) -> Runner:
    """Expand ``sql`` like Grafana for a time range and variables, run it as aqm_reader."""

    def run(
        sql: str,
        time_range: TimeRange = LAST_24H,
        variables: Mapping[str, VariableValue] | None = None,
        interval: dt.timedelta = dt.timedelta(minutes=5),
    ) -> Result:
        text = expand(sql, time_range, variables or station_variables(), interval=interval)
        cur = reader.execute(text.encode())
        columns = [c.name for c in cur.description or []]
        return Result(columns, cur.fetchall())

    return run
