"""Migration 0019: aqm_reader compiles only queries estimated far dearer than a dashboard's
(JIT compilation took longer than the per-station lookups it was meant to speed up)."""

from __future__ import annotations

from typing import Any

import psycopg

from aqm.localservices import PostgresInstance

# A plan the planner costs between PostgreSQL's default threshold (100 000) and the
# reader's (1 000 000): about 0.0125 per generated and summed row.
MID_COST_SQL = "SELECT sum(x) FROM generate_series(1, 20000000) x"


def _plan(conn: psycopg.Connection[Any]) -> dict[str, Any]:
    row = conn.execute("EXPLAIN (FORMAT JSON) " + MID_COST_SQL).fetchone()
    assert row is not None
    plan: dict[str, Any] = row[0][0]
    return plan


def test_the_reader_compiles_only_queries_above_a_million(
    clean_db: str, postgres: PostgresInstance
) -> None:
    with (
        psycopg.connect(postgres.url(user="aqm_reader")) as reader,
        psycopg.connect(clean_db) as admin,
    ):
        row = reader.execute("SHOW jit_above_cost").fetchone()
        assert row is not None and float(row[0]) == 1_000_000
        cost = _plan(reader)["Plan"]["Total Cost"]
        assert 100_000 < cost < 1_000_000
        assert "JIT" not in _plan(reader)
        available = admin.execute("SELECT pg_jit_available()").fetchone()
        if available is not None and available[0]:
            # the same plan under the server's default threshold would be compiled
            assert "JIT" in _plan(admin)
