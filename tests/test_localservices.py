"""The private PostgreSQL instance is configured as timescaledb-tune configures production."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from aqm.localservices import PostgresInstance, available_memory_bytes, shared_buffers_mb

GIB = 1 << 30


def test_shared_buffers_are_a_quarter_of_memory_within_bounds() -> None:
    assert shared_buffers_mb(8 * GIB) == 2048
    assert shared_buffers_mb(2 * GIB) == 512
    assert shared_buffers_mb(256 << 20) == 128  # never below PostgreSQL's usual default
    assert shared_buffers_mb(64 * GIB) == 4096  # a development instance stays modest


def test_a_container_memory_limit_counts_not_the_hosts_memory(tmp_path: Path) -> None:
    host = available_memory_bytes(tmp_path / "none")  # no control group files: physical
    assert host > 0
    v2 = tmp_path / "v2"
    v2.mkdir()
    (v2 / "memory.max").write_text("2147483648\n")
    assert available_memory_bytes(v2) == min(host, 2 * GIB)
    (v2 / "memory.max").write_text("max\n")
    assert available_memory_bytes(v2) == host
    v1 = tmp_path / "v1" / "memory"
    v1.mkdir(parents=True)
    (v1 / "memory.limit_in_bytes").write_text("9223372036854771712\n")  # v1's "no limit"
    assert available_memory_bytes(tmp_path / "v1") == host


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
