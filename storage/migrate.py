"""Apply the versioned SQL migrations in ``storage/migrations/`` and seed reference tables.

Each file ``NNNN_name.sql`` runs once, in its own transaction, and is recorded with its
checksum in ``schema_migrations``; an applied file that has since changed is an error
(write a new migration instead). An advisory lock lets several processes call
``migrate`` at once. Reference tables (parameters, AQI categories) are re-seeded from
the Python sources of truth on every run, and compression is enabled where the
TimescaleDB licence allows it.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from aqi.categories import categories
from aqm_core.errors import AqmError
from aqm_core.parameters import PARAMETERS

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_LOCK_KEY = 0x61716D  # "aqm"
COMPRESS_AFTER = "90 days"


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    path: Path

    @property
    def sql_text(self) -> str:
        return self.path.read_text(encoding="utf-8")

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


def available_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    found = []
    for path in sorted(directory.glob("*.sql")):
        version, _, name = path.stem.partition("_")
        if not version.isdigit():
            raise ValueError(f"{path}: migration files are named NNNN_name.sql")
        found.append(Migration(version, name, path))
    return found


class MigrationError(AqmError, RuntimeError):
    pass


def migrate(
    url: str,
    directory: Path = MIGRATIONS_DIR,
    role_passwords: Mapping[str, str | None] | None = None,
) -> list[str]:
    """Bring the database at ``url`` up to date; returns the versions applied now.

    ``role_passwords`` maps a role (``aqm_ingest``…) to the password to set; roles
    missing or ``None`` keep theirs.
    """
    applied_now: list[str] = []
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version text PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done: dict[str, str] = dict(
                conn.execute("SELECT version, checksum FROM schema_migrations").fetchall()
            )
            for mig in available_migrations(directory):
                if mig.version in done:
                    if done[mig.version] != mig.checksum:
                        raise MigrationError(
                            f"{mig.path}: changed after it was applied (checksum differs); "
                            "add a new migration instead of editing an applied one"
                        )
                    continue
                log.info("applying migration %s_%s", mig.version, mig.name)
                try:
                    with conn.transaction():
                        conn.execute(mig.sql_text.encode())
                        conn.execute(
                            "INSERT INTO schema_migrations (version, name, checksum)"
                            " VALUES (%s, %s, %s)",
                            (mig.version, mig.name, mig.checksum),
                        )
                except psycopg.Error as exc:
                    raise MigrationError(f"{mig.path}: {exc}") from exc
                applied_now.append(mig.version)
            with conn.transaction():
                seed_reference_tables(conn)
                set_role_passwords(conn, role_passwords or {})
            enable_compression_if_licensed(conn)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    return applied_now


def seed_reference_tables(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    """Upsert ``parameters`` and ``aqi_categories`` from their Python sources of truth."""
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO parameters (parameter, unit, min_plausible, max_plausible,"
            " name_vi, name_en, is_pollutant) VALUES (%s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (parameter) DO UPDATE SET unit = EXCLUDED.unit,"
            " min_plausible = EXCLUDED.min_plausible, max_plausible = EXCLUDED.max_plausible,"
            " name_vi = EXCLUDED.name_vi, name_en = EXCLUDED.name_en,"
            " is_pollutant = EXCLUDED.is_pollutant",
            [
                (
                    p.name,
                    p.unit,
                    p.min_plausible,
                    p.max_plausible,
                    p.name_vi,
                    p.name_en,
                    p.is_pollutant,
                )
                for p in PARAMETERS.values()
            ],
        )
        rows = category_rows()
        if rows:
            cur.executemany(
                "INSERT INTO aqi_categories (standard, level, lower, upper, name_vi, name_en,"
                " color_hex, advice_vi, advice_en) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (standard, level) DO UPDATE SET lower = EXCLUDED.lower,"
                " upper = EXCLUDED.upper, name_vi = EXCLUDED.name_vi, name_en = EXCLUDED.name_en,"
                " color_hex = EXCLUDED.color_hex, advice_vi = EXCLUDED.advice_vi,"
                " advice_en = EXCLUDED.advice_en",
                rows,
            )


def category_rows() -> list[tuple[object, ...]]:
    """Rows of ``aqi_categories`` built from ``aqi.categories``."""
    return [
        (
            standard,
            cat.index + 1,
            cat.lower,
            cat.upper,
            cat.name_vi,
            cat.name_en,
            cat.hex,
            cat.advice_vi,
            cat.advice_en,
        )
        for standard in ("vn_1459_2019", "us_epa_2024")
        for cat in categories(standard)
    ]


def set_role_passwords(
    conn: psycopg.Connection[tuple[object, ...]], passwords: Mapping[str, str | None]
) -> None:
    for role, password in passwords.items():
        if password:
            conn.execute(
                sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                    sql.Identifier(role), sql.Literal(password)
                )
            )


def timescaledb_license(conn: psycopg.Connection[tuple[object, ...]]) -> str:
    row = conn.execute("SHOW timescaledb.license").fetchone()
    return str(row[0]) if row else "unknown"


def enable_compression_if_licensed(conn: psycopg.Connection[tuple[object, ...]]) -> bool:
    """Compress readings chunks older than 90 days where the licence allows (not Apache)."""
    if timescaledb_license(conn) != "timescale":
        log.info("TimescaleDB Apache licence: compression not available, skipped")
        return False
    conn.execute(
        "ALTER TABLE readings SET (timescaledb.compress,"
        " timescaledb.compress_segmentby = 'station_id, parameter',"
        " timescaledb.compress_orderby = 'ts')"
    )
    conn.execute(
        "SELECT add_compression_policy('readings', INTERVAL %s, if_not_exists => true)",
        (COMPRESS_AFTER,),
    )
    return True
