"""Session fixtures: a real TimescaleDB and a real Mosquitto on free ports.

They run as private instances in a temporary folder and are stopped at the end of the
session. A missing server binary is an error naming it (never a silent skip).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from aqm.localservices import MosquittoInstance, PostgresInstance, free_port
from storage.migrate import migrate

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"

# Tables holding data (not schema or reference data), emptied between tests.
DATA_TABLES = (
    "readings",
    "rejected_messages",
    "aqi_dirty_hours",
    "hourly",
    "aqi_hourly",
    "aqi_daily",
    "stations",
    "aqi_backfill_jobs",
)


@pytest.fixture(scope="session")
def services_root() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="aqm-test-"))
    root.chmod(0o755)  # the PostgreSQL server user must be able to enter it
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres(services_root: Path) -> Iterator[PostgresInstance]:
    instance = PostgresInstance(services_root / "pg", free_port())
    instance.start()
    try:
        yield instance
    finally:
        instance.stop("immediate")


@pytest.fixture(scope="session")
def database_url(postgres: PostgresInstance) -> str:
    """URL of a migrated aqm database (superuser)."""
    migrate(postgres.url())
    return postgres.url()


@pytest.fixture
def clean_db(database_url: str) -> str:
    """The migrated database with every data table emptied."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("TRUNCATE " + ", ".join(DATA_TABLES))
    return database_url


@pytest.fixture(scope="session")
def broker(services_root: Path) -> Iterator[MosquittoInstance]:
    instance = MosquittoInstance(services_root / "mosquitto", free_port())
    instance.start()
    try:
        yield instance
    finally:
        instance.stop()


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"reference data folder {SHARED_DATA} is absent")
    return SHARED_DATA
