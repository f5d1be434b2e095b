"""What each destination must receive, written into ``forward_deliveries``.

Two sources, read from a per-destination cursor with an overlap (a transaction that
commits late still gets its rows planned; the delivery log's unique key makes planning
a row twice harmless):

- files received by FTP (``ftp_files`` with at least one valid reading), forwarded as
  received, under their own name;
- readings of stations that deliver otherwise (MQTT), grouped by station and
  measurement time into one Circular 10 file each. A measurement time an FTP file
  already covers is not built again. A group is planned once its newest reading is
  ``settle_s`` old, so the readings of one measurement arriving in a few messages end up
  in one file.
"""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo
from typing import Any

import psycopg

from forward.circular_file import circular_file
from forward.config import Destination
from ingest.files.naming import expand

OVERLAP = timedelta(minutes=5)

FTP_FILES = """
SELECT id, station_id, file_name, measured_at, received_at, payload, recorded_at
FROM ftp_files
WHERE recorded_at >= %s AND measured_at IS NOT NULL AND readings > 0
  AND payload IS NOT NULL
ORDER BY recorded_at
"""

READING_GROUPS = """
SELECT r.station_id, r.ts, max(r.inserted_at) AS available_at,
       array_agg(r.parameter ORDER BY r.parameter), array_agg(r.value ORDER BY r.parameter),
       array_agg(r.status ORDER BY r.parameter)
FROM readings r
WHERE r.inserted_at >= %s AND r.inserted_at < %s
  AND NOT EXISTS (SELECT 1 FROM ftp_files f
                  WHERE f.station_id = r.station_id AND f.measured_at = r.ts)
GROUP BY r.station_id, r.ts
HAVING max(r.inserted_at) < %s
"""

INSERT = """
INSERT INTO forward_deliveries (destination, station_id, measured_at, file_name, remote_path,
                                origin, ftp_file_id, payload, available_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (destination, station_id, remote_path, file_name) DO NOTHING
"""


def plan(conn: psycopg.Connection[Any], destination: Destination, local_tz: tzinfo) -> int:
    """Plan what is new for ``destination``; returns how many deliveries were added."""
    with conn.transaction():
        now = conn.execute("SELECT now()").fetchone()[0]  # type: ignore[index]
        row = conn.execute(
            "SELECT ftp_recorded_at, readings_inserted_at, started_at FROM forward_cursors"
            " WHERE destination = %s FOR UPDATE",
            (destination.name,),
        ).fetchone()
        if row is None:
            start = now - timedelta(hours=destination.backfill_hours)
            ftp_since, readings_since = start, start
            conn.execute(
                "INSERT INTO forward_cursors VALUES (%s, %s, %s, %s)",
                (destination.name, start, start, start),
            )
        else:
            # the overlap catches late commits, but never reaches before the start
            ftp_since = max(row[0] - OVERLAP, row[2])
            readings_since = max(row[1] - OVERLAP, row[2])
        rows: list[tuple[object, ...]] = []
        for fid, station, name, measured, received, payload, _rec in conn.execute(
            FTP_FILES, (ftp_since,)
        ):
            if not destination.wants(station):
                continue
            base = str(name).rsplit("/", 1)[-1]
            rows.append(
                (
                    destination.name,
                    station,
                    measured,
                    base,
                    _remote_path(destination, station, measured, local_tz),
                    "ftp",
                    fid,
                    bytes(payload),
                    received,
                )
            )
        until = now - timedelta(seconds=destination.settle_s)
        for station, ts, available, params, values, statuses in conn.execute(
            READING_GROUPS, (readings_since, until, until)
        ):
            if not destination.wants(station):
                continue
            content = circular_file(ts, list(zip(params, values, statuses, strict=True)), local_tz)
            name = expand(
                destination.file_name,
                province=destination.province,
                facility=destination.facility,
                station=station,
                measured_at=ts,
                local_tz=local_tz,
            )
            rows.append(
                (
                    destination.name,
                    station,
                    ts,
                    name,
                    _remote_path(destination, station, ts, local_tz),
                    "readings",
                    None,
                    content,
                    available,
                )
            )
        added = 0
        if rows:
            with conn.cursor() as cur:
                for r in rows:
                    cur.execute(INSERT, r)
                    added += cur.rowcount
        conn.execute(
            "UPDATE forward_cursors SET ftp_recorded_at = greatest(ftp_recorded_at, %s),"
            " readings_inserted_at = greatest(readings_inserted_at, %s) WHERE destination = %s",
            (now, until, destination.name),
        )
    return added


def _remote_path(
    destination: Destination, station: str, measured: datetime, local_tz: tzinfo
) -> str:
    return expand(
        destination.remote_path,
        province=destination.province,
        facility=destination.facility,
        station=station,
        measured_at=measured,
        local_tz=local_tz,
    )
