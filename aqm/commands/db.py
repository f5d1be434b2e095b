"""``aqm db migrate``: bring the database schema up to date."""

from __future__ import annotations

import argparse

import psycopg

from aqm.cli import CliError
from aqm.settings import load_settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    db = sub.add_parser("db", help="database schema", description="Manage the TimescaleDB schema.")
    actions = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    mig = actions.add_parser(
        "migrate",
        help="apply pending migrations (idempotent)",
        description=(
            "Apply the versioned SQL migrations in storage/migrations/ that the database has not "
            "seen, re-seed the parameter and AQI category tables, create the roles aqm_ingest, "
            "aqm_worker and aqm_reader (passwords from AQM_INGEST_PASSWORD, AQM_WORKER_PASSWORD, "
            "AQM_READER_PASSWORD when set), and enable compression where TimescaleDB's licence "
            "allows. Needs a superuser connection (AQM_DATABASE_URL or --database-url)."
        ),
    )
    mig.add_argument("--database-url", help="override AQM_DATABASE_URL")
    mig.set_defaults(handler=_migrate)


def _migrate(args: argparse.Namespace) -> int:
    from storage.migrate import MigrationError, migrate

    url = args.database_url or load_settings().database_url
    try:
        applied = migrate(url)
    except MigrationError as exc:
        raise CliError(str(exc)) from exc
    except psycopg.OperationalError as exc:
        raise CliError(f"cannot connect to the database ({url}): {exc}") from exc
    print(f"applied migrations: {', '.join(applied)}" if applied else "schema is up to date")
    return 0
