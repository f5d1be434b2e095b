"""Session fixtures: a real TimescaleDB and a real Mosquitto on free ports.

They run as private instances in a temporary folder and are stopped at the end of the
session. A missing server binary is an error naming it (never a silent skip).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from aqm.localservices import MosquittoInstance, PostgresInstance, free_port
from storage.migrate import migrate
from tests.production_broker import production_broker  # noqa: F401  (a shared fixture)
from tests.reference_data import SHARED_DATA, skip_without_reference_data

# Tables holding data (not schema or reference data), emptied between tests.
DATA_TABLES = (
    "readings",
    "reading_slots",
    "rejected_messages",
    "aqi_dirty_hours",
    "hourly",
    "aqi_hourly",
    "aqi_daily",
    "stations",
    "aqi_backfill_jobs",
    "rejected_payloads",
    "ftp_files",
    "forward_deliveries",
    "forward_cursors",
    "qc_flags",
    "opendata_pending",
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
    with psycopg.connect(instance.url("postgres")) as conn:
        version = conn.execute("SHOW server_version").fetchone()
        tsdb = conn.execute(
            "SELECT default_version FROM pg_available_extensions WHERE name = 'timescaledb'"
        ).fetchone()
    _service_report["postgres"] = (
        f"PostgreSQL {version[0] if version else '?'} with TimescaleDB {tsdb[0] if tsdb else '?'} "
        f"on port {instance.port} ({instance.bindir})"
    )
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
        conn.execute("TRUNCATE " + ", ".join(DATA_TABLES) + " CASCADE")
        # The officers' audit trail refuses TRUNCATE for every role; only a superuser
        # can switch its triggers off to empty it between tests.
        conn.execute("SET session_replication_role = replica")
        conn.execute("TRUNCATE qc_actions")
        conn.execute("RESET session_replication_role")
    return database_url


@pytest.fixture(scope="session")
def broker(services_root: Path) -> Iterator[MosquittoInstance]:
    instance = MosquittoInstance(services_root / "mosquitto", free_port())
    instance.start()
    _service_report["mosquitto"] = f"Mosquitto ({instance.binary}) on port {instance.port}"
    try:
        yield instance
    finally:
        instance.stop()


@pytest.fixture
def no_aqm_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """No aqm.toml and no AQM_* variable from outside: only what a test sets counts."""
    for name in list(os.environ):
        if name.upper().startswith("AQM_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AQM_CONFIG", "")


@pytest.fixture
def shared_data() -> Path:
    """../shared/data relative to the repository root; the test is skipped when absent."""
    return skip_without_reference_data(SHARED_DATA)


SERVICE_FIXTURES = {"postgres", "database_url", "clean_db", "broker", "production_broker"}
_service_report: dict[str, str] = {}
_service_outcomes: dict[str, int] = {"passed": 0, "failed": 0, "skipped": 0}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses a real server, so the summary can count them."""
    for item in items:
        if SERVICE_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.services)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if "services" in report.keywords and (report.when == "call" or report.outcome == "skipped"):
        _service_outcomes[report.outcome] = _service_outcomes.get(report.outcome, 0) + 1


def pytest_terminal_summary(terminalreporter: Any) -> None:
    total = sum(_service_outcomes.values())
    if not total:
        return
    terminalreporter.write_sep("-", "real services")
    for line in _service_report.values():
        terminalreporter.write_line(line)
    terminalreporter.write_line(
        f"tests against the real TimescaleDB/Mosquitto: {_service_outcomes['passed']} passed, "
        f"{_service_outcomes['failed']} failed, {_service_outcomes['skipped']} skipped"
    )
