"""A private TimescaleDB and Mosquitto for a benchmark run, with stations registered."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from aqm.localservices import MosquittoInstance, PostgresInstance, free_port
from storage.migrate import migrate


@contextmanager
def bench_services(
    prefix: str, station_ids: list[str]
) -> Iterator[tuple[PostgresInstance, MosquittoInstance]]:
    """Start both servers in a temporary folder, migrate, register the stations; clean up."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    root.chmod(0o755)  # the PostgreSQL server user must be able to enter it
    pg = PostgresInstance(root / "pg", free_port())
    mq = MosquittoInstance(root / "mq", free_port())
    pg.start()
    mq.start()
    try:
        migrate(pg.url())
        with psycopg.connect(pg.url(), autocommit=True) as conn:
            conn.cursor().executemany(
                "INSERT INTO stations (station_id, name, latitude, longitude, station_type)"
                " VALUES (%s, %s, 21.18, 106.07, 'fixed_automatic')",
                [(sid, f"Trạm {sid}") for sid in station_ids],
            )
        yield pg, mq
    finally:
        mq.stop()
        pg.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)
