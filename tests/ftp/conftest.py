"""Fixtures of the FTP tests: stations in the registry, and ``aqm ftp`` running."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.ftp_servers import PASSWORDS, AqmFtp, write_accounts

STATIONS = [("BN-01", "active"), ("BN-02", "active"), ("BN-03", "active"), ("BN-09", "retired")]


def seed_stations(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.cursor().executemany(
            "INSERT INTO stations (station_id, name, latitude, longitude, station_type, status)"
            " VALUES (%s, %s, 21.18, 106.07, 'fixed_automatic', %s)"
            " ON CONFLICT (station_id) DO UPDATE SET status = EXCLUDED.status",
            [(sid, f"Trạm {sid}", status) for sid, status in STATIONS],
        )


@pytest.fixture
def ftp_db(clean_db: str) -> str:
    seed_stations(clean_db)
    return clean_db


@pytest.fixture
def accounts(tmp_path: Path) -> Path:
    return write_accounts(tmp_path / "secrets" / "ftp-users", PASSWORDS)


@pytest.fixture
def aqm_ftp(tmp_path: Path, ftp_db: str, accounts: Path) -> Iterator[AqmFtp]:
    server = AqmFtp(tmp_path / "ftp", ftp_db, accounts).start()
    try:
        yield server
    finally:
        server.stop()


def rows(url: str, sql: str, *args: object) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(sql, args).fetchall()


def count(url: str, sql: str, *args: object) -> int:
    value = rows(url, sql, *args)[0][0]
    assert isinstance(value, int)
    return value
