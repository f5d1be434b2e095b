"""A fault lab of its own: a TimescaleDB and a Mosquitto these tests may restart.

The session fixtures of tests/conftest.py stay untouched: restarting them would disturb
every other test. Each test gets a fresh database copied from a migrated template, with
the stream's stations registered.
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from aqm.localservices import MosquittoInstance, PostgresInstance, free_port
from storage.migrate import migrate

from .stream import REPORT_INTERVAL_S

TEMPLATE = "aqm_template"
_names = itertools.count(1)


@dataclass
class FaultLab:
    root: Path
    pg: PostgresInstance
    broker: MosquittoInstance

    def url(self, database: str, user: str = "postgres") -> str:
        return self.pg.url(database, user=user)

    def new_database(self, stations: Sequence[str] = ()) -> str:
        """A migrated database with ``stations`` registered; returns its name."""
        name = f"aqm_{next(_names)}"
        for attempt in range(50):
            try:
                with psycopg.connect(self.pg.url("postgres"), autocommit=True) as conn:
                    conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}"')
                break
            except psycopg.errors.ObjectInUse:  # a backend still leaving the template
                if attempt == 49:
                    raise
                time.sleep(0.1)
        register_stations(self.url(name), list(stations))
        return name


def register_stations(url: str, stations: list[str]) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.cursor().executemany(
            "INSERT INTO stations (station_id, name, latitude, longitude, station_type,"
            " report_interval_s) VALUES (%s, %s, 21.18, 106.07, 'fixed_automatic', %s)"
            " ON CONFLICT (station_id) DO NOTHING",
            [(s, f"Trạm {s}", REPORT_INTERVAL_S) for s in stations],
        )


@pytest.fixture(scope="session")
def fault_lab() -> Iterator[FaultLab]:
    root = Path(tempfile.mkdtemp(prefix="aqm-faults-"))
    root.chmod(0o755)  # the PostgreSQL server user must be able to enter it
    pg = PostgresInstance(root / "pg", free_port(), database=TEMPLATE)
    broker = MosquittoInstance(root / "mosquitto", free_port())
    pg.start()
    broker.start()
    try:
        migrate(pg.url(TEMPLATE))
        with psycopg.connect(pg.url("postgres"), autocommit=True) as conn:
            # TimescaleDB's scheduler connects to every database with the extension; a
            # template must have none, or CREATE DATABASE … TEMPLATE refuses to copy it.
            conn.execute(f'ALTER DATABASE "{TEMPLATE}" WITH ALLOW_CONNECTIONS false')
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (TEMPLATE,),
            )
        yield FaultLab(root, pg, broker)
    finally:
        broker.stop()
        pg.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)
