"""Payloads of received files follow the archive's retention (migration 0018), pruned by
a real ``aqm ftp`` in a real TimescaleDB, never while forwarding still needs them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from tests.ftp.conftest import rows
from tests.ftp_servers import AqmFtp, wait_for

NOW = datetime.now(UTC)
OLD = NOW - timedelta(days=90)
RECENT = NOW - timedelta(days=1)


def _file(conn: psycopg.Connection[tuple[object, ...]], name: str, recorded: datetime,
          readings: int) -> int:  # fmt: skip
    row = conn.execute(
        "INSERT INTO ftp_files (station_id, file_name, digest, size, measured_at, received_at,"
        " readings, rejected, payload, recorded_at)"
        " VALUES ('BN-01', %s, sha256(%s::bytea), 3, %s, %s, %s, 0, %s, %s) RETURNING id",
        (name, name.encode(), recorded, recorded, readings, name.encode(), recorded),
    ).fetchone()
    assert row is not None
    value = row[0]
    assert isinstance(value, int)
    return value


def _delivery(conn: psycopg.Connection[tuple[object, ...]], destination: str, file_id: int,
              name: str, delivered: datetime | None) -> None:  # fmt: skip
    conn.execute(
        "INSERT INTO forward_deliveries (destination, station_id, measured_at, file_name,"
        " remote_path, origin, ftp_file_id, payload, available_at, delivered_at)"
        " VALUES (%s, 'BN-01', %s, %s, '/BN-01', 'ftp', %s, %s, %s, %s)",
        (destination, OLD, name, file_id, name.encode(), OLD, delivered),
    )


def test_payloads_older_than_the_retention_are_emptied_unless_forwarding_needs_them(
    tmp_path: Path, ftp_db: str, accounts: Path
) -> None:
    with psycopg.connect(ftp_db, autocommit=True) as conn:
        delivered = _file(conn, "delivered.txt", OLD, 1)
        pending = _file(conn, "pending.txt", OLD, 1)
        no_data = _file(conn, "no-data.txt", OLD, 0)  # never forwarded
        _file(conn, "recent.txt", RECENT, 1)
        unplanned = _file(conn, "unplanned.txt", OLD + timedelta(days=5), 1)
        _delivery(conn, "bo-tnmt", delivered, "delivered.txt", OLD + timedelta(minutes=1))
        _delivery(conn, "bo-tnmt", pending, "pending.txt", None)  # the Ministry is down
        # one destination has read everything, another is behind "unplanned.txt"
        conn.execute(
            "INSERT INTO forward_cursors VALUES ('bo-tnmt', now(), now(), %s),"
            " ('so-tnmt', %s, %s, %s)",
            (OLD - timedelta(days=1), OLD + timedelta(days=2), OLD, OLD - timedelta(days=1)),
        )
        _delivery(conn, "so-tnmt", delivered, "delivered.txt", OLD + timedelta(minutes=2))
        _delivery(conn, "so-tnmt", pending, "pending.txt", OLD + timedelta(minutes=2))
    assert no_data and unplanned

    server = AqmFtp(tmp_path / "ftp", ftp_db, accounts, ftp_archive_days="60").start()
    try:
        wait_for(lambda: "payloads older than 60 days emptied" in server.logs(), 30)
        kept = dict(rows(ftp_db, "SELECT file_name, payload IS NOT NULL FROM ftp_files"))
        assert kept == {
            "delivered.txt": False,  # delivered everywhere, 90 days old
            "no-data.txt": False,  # nothing to forward
            "pending.txt": True,  # its delivery to bo-tnmt is still pending
            "recent.txt": True,  # within the retention
            "unplanned.txt": True,  # so-tnmt's planner has not read it yet
        }
        # the rows stay: the file log and its digest
        assert len(kept) == 5
        sent = {
            (d, f): p
            for d, f, p in rows(
                ftp_db,
                "SELECT destination, file_name, payload IS NOT NULL FROM forward_deliveries",
            )
        }
        assert sent == {
            ("bo-tnmt", "delivered.txt"): False,
            ("bo-tnmt", "pending.txt"): True,  # still to be sent
            ("so-tnmt", "delivered.txt"): False,
            ("so-tnmt", "pending.txt"): False,
        }
        assert "3 received files older than 60 days keep their payload" not in server.logs()
        assert "2 received files older than 60 days keep their payload" in server.logs()
    finally:
        server.stop()
