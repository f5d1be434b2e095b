"""``aqm db migrate``: bring the database schema up to date.

Also the database helpers every command shares: settings with ``--database-url``
checked like ``AQM_DATABASE_URL``, :func:`connect`, and :func:`database_error`, whose
messages never show the password.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import psycopg

    from aqm_core.settings import Settings

from aqm.cli import CliError

DATABASE_URL_OPTION = "--database-url"


def settings_with_database_url(database_url: str | None) -> Settings:
    """Settings, with the URL of ``--database-url`` (when given) over AQM_DATABASE_URL.

    A URL libpq cannot parse is a settings error naming the option or the variable.
    """
    from aqm_core.settings import load_settings

    return load_settings(options={"database_url": (DATABASE_URL_OPTION, database_url or None)})


def database_error(url: str, exc: psycopg.Error) -> CliError:
    """A one-line CliError for a database that cannot be reached, password masked."""
    from aqm_core.settings import redact, redact_in

    reason = " ".join(redact_in(str(exc), url).split())
    return CliError(f"cannot connect to the database at {redact(url)}: {reason}")


def connect(url: str) -> psycopg.Connection[tuple[object, ...]]:
    """An autocommit connection to ``url``; a failure is a :class:`CliError` naming the URL."""
    import psycopg

    try:
        return psycopg.connect(url, autocommit=True)
    except (psycopg.OperationalError, psycopg.ProgrammingError) as exc:  # down; unparsable
        raise database_error(url, exc) from exc


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    db = sub.add_parser("db", help="database schema", description="Manage the TimescaleDB schema.")
    actions = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    mig = actions.add_parser(
        "migrate",
        help="apply pending migrations (idempotent)",
        description=(
            "Apply the versioned SQL migrations in storage/migrations/ that the database has not "
            "seen, re-seed the parameter and AQI category tables, create the roles aqm_ingest, "
            "aqm_worker, aqm_reader, aqm_forward and aqm_validator (passwords from "
            "AQM_INGEST_PASSWORD, AQM_WORKER_PASSWORD, AQM_READER_PASSWORD, AQM_FORWARD_PASSWORD, "
            "AQM_VALIDATOR_PASSWORD when set), and enable compression where TimescaleDB's licence "
            "allows. Needs a superuser connection (AQM_DATABASE_URL or --database-url)."
        ),
    )
    mig.add_argument("--database-url", help="override AQM_DATABASE_URL")
    mig.set_defaults(handler=_migrate)


def _migrate(args: argparse.Namespace) -> int:
    import psycopg

    from aqm_core.settings import redact_in
    from storage.migrate import MigrationError, migrate

    settings = settings_with_database_url(args.database_url)
    url = settings.database_url
    try:
        applied = migrate(url, role_passwords=settings.role_passwords)
    except MigrationError as exc:
        raise CliError(redact_in(str(exc), url)) from exc
    except psycopg.OperationalError as exc:  # a URL libpq cannot parse failed in settings
        raise database_error(url, exc) from exc
    print(f"applied migrations: {', '.join(applied)}" if applied else "schema is up to date")
    return 0
