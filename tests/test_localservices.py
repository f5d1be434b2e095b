"""The private PostgreSQL instance is configured as timescaledb-tune configures production."""

from __future__ import annotations

import psycopg
import pytest

from aqm.localservices import PostgresInstance, shared_buffers_mb

GIB = 1 << 30


def test_shared_buffers_are_a_quarter_of_memory_within_bounds() -> None:
    assert shared_buffers_mb(8 * GIB) == 2048
    assert shared_buffers_mb(2 * GIB) == 512
    assert shared_buffers_mb(256 << 20) == 128  # never below PostgreSQL's usual default
    assert shared_buffers_mb(64 * GIB) == 4096  # a development instance stays modest


@pytest.mark.services
def test_started_instance_uses_the_tuned_memory_and_wal_settings(
    postgres: PostgresInstance,
) -> None:
    with psycopg.connect(postgres.url("postgres")) as conn:
        settings: dict[str, str] = dict(
            conn.execute(
                "SELECT name, setting || coalesce(unit, '') FROM pg_settings"
                " WHERE name IN ('shared_buffers', 'min_wal_size', 'max_wal_size')"
            ).fetchall()
        )
    assert settings == {
        "shared_buffers": f"{shared_buffers_mb() * 128}8kB",  # pages of 8 kB
        "min_wal_size": "512MB",
        "max_wal_size": "1024MB",
    }
