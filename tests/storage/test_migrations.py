"""Migrations against a real TimescaleDB: from empty, re-run, tamper detection."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from aqm.localservices import PostgresInstance
from storage.migrate import MIGRATIONS_DIR, MigrationError, available_migrations, migrate


def _fresh_db(postgres: PostgresInstance, name: str) -> str:
    with psycopg.connect(postgres.url("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return postgres.url(name)


def test_migrate_from_empty_then_rerun_changes_nothing(postgres: PostgresInstance) -> None:
    url = _fresh_db(postgres, "aqm_migrate_empty")
    applied = migrate(url)
    assert applied == [m.version for m in available_migrations()]
    assert migrate(url) == []
    with psycopg.connect(url) as conn:
        hypertables = {
            r[0]
            for r in conn.execute("SELECT hypertable_name FROM timescaledb_information.hypertables")
        }
        assert {"readings", "hourly", "aqi_hourly", "aqi_daily"} <= hypertables
        versions = conn.execute("SELECT count(*) FROM schema_migrations").fetchone()
        assert versions == (len(applied),)
        n_params = conn.execute("SELECT count(*) FROM parameters WHERE is_pollutant").fetchone()
        assert n_params is not None and n_params[0] >= 6


def test_edited_applied_migration_is_refused(postgres: PostgresInstance, tmp_path: Path) -> None:
    url = _fresh_db(postgres, "aqm_migrate_tamper")
    for mig in available_migrations():
        (tmp_path / mig.path.name).write_bytes(mig.path.read_bytes())
    migrate(url, tmp_path)
    first = sorted(tmp_path.glob("*.sql"))[0]
    first.write_text(first.read_text() + "\n-- edited\n")
    with pytest.raises(MigrationError, match=first.name):
        migrate(url, tmp_path)


def test_migrations_dir_is_ordered() -> None:
    versions = [m.version for m in available_migrations(MIGRATIONS_DIR)]
    assert versions == sorted(versions) and len(set(versions)) == len(versions)


def test_migrate_sets_the_role_passwords_it_is_given(
    postgres: PostgresInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From the settings (AQM_VALIDATOR_PASSWORD), not from the environment behind them."""
    from aqm_core.settings import load_settings

    monkeypatch.setenv("AQM_VALIDATOR_PASSWORD", "officers-only")
    passwords = load_settings().role_passwords
    assert passwords["aqm_validator"] == "officers-only"
    assert passwords["aqm_reader"] is None  # unset: left as it is
    url = _fresh_db(postgres, "aqm_migrate_passwords")
    query = "SELECT rolpassword IS NOT NULL FROM pg_authid WHERE rolname = 'aqm_validator'"
    try:
        migrate(url, role_passwords=passwords)
        with psycopg.connect(url) as conn:
            assert conn.execute(query).fetchone() == (True,)
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("ALTER ROLE aqm_validator PASSWORD NULL")
