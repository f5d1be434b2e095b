"""What waits to be recomputed: the dirty station-hour queue, station locks, backfill cursors.

Ingest appends ``(station_id, hour)`` rows to ``aqi_dirty_hours`` in the transaction that
stores the readings. A worker claims the oldest rows with ``FOR UPDATE SKIP LOCKED`` and
deletes them in the transaction that writes the recomputed aggregates, so a crash puts
them back and two workers never claim the same row.

Two workers may still claim different hours of one station whose recomputations overlap
(a NowCast reaches 11 hours ahead, a day spans 24 hours). :func:`lock_stations` makes
such transactions take turns, so the one that commits last has read every reading
committed before it: without it, each could overwrite the other's fresh hours with
values computed from a stale neighbour (a lost update).

``aqi_backfill_jobs`` (migration 0004) names each ``aqm aqi backfill`` request;
``aqi_backfill_progress`` (migration 0006) holds its cursor per station, so station
groups backfilled in parallel each move their own stations' cursors.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import psycopg

Connection = psycopg.Connection[tuple[object, ...]]

# First key of the two-key advisory locks held on stations ("aqmw").
STATION_LOCK_NAMESPACE = 0x61716D77

CLAIM = """
DELETE FROM aqi_dirty_hours
WHERE id IN (
    SELECT id FROM aqi_dirty_hours ORDER BY id LIMIT %(limit)s FOR UPDATE SKIP LOCKED
)
RETURNING station_id, hour
"""

# Locks are taken in one fixed order (by key) so two workers can never wait on each
# other in a cycle; hash collisions only make unrelated stations take turns.
LOCK_STATIONS = """
SELECT count(pg_advisory_xact_lock(%(namespace)s, k))
FROM (SELECT DISTINCT hashtext(s) AS k FROM unnest(%(stations)s::text[]) AS s ORDER BY k) AS keys
"""


def claim_dirty_hours(conn: Connection, limit: int) -> list[tuple[str, dt.datetime]]:
    """Delete and return up to ``limit`` queued station-hours (duplicates included).

    Rows another transaction has claimed are skipped, not waited for. The deletion only
    becomes final when the caller's transaction commits.
    """
    rows = conn.execute(CLAIM, {"limit": limit}).fetchall()
    return [(str(station), _as_datetime(hour)) for station, hour in rows]


# Hour H is queued for a station with a reading in [H − 3 h, H): a reading of hour b
# queues b + 1 h, b + 2 h and b + 3 h, those of them within first … last.
MARK_SILENT_HOURS = """
INSERT INTO aqi_dirty_hours (station_id, hour)
SELECT DISTINCT r.station_id, time_bucket(INTERVAL '1 hour', r.ts) + k * INTERVAL '1 hour'
FROM readings AS r CROSS JOIN generate_series(1, 3) AS k
WHERE r.ts >= %(first)s::timestamptz - INTERVAL '3 hours' AND r.ts < %(last)s::timestamptz
  AND time_bucket(INTERVAL '1 hour', r.ts) + k * INTERVAL '1 hour'
      BETWEEN %(first)s::timestamptz AND %(last)s::timestamptz
"""


def mark_new_hours(conn: Connection, first: dt.datetime, last: dt.datetime) -> int:
    """Queue each hour of ``first … last`` for every station that reported in the three
    hours before it.

    A station that falls silent still has a NowCast for the next hours (2 of the 3
    latest hours suffice), and an index that says "no data" after that; nothing else
    would queue those hours, since no reading arrives to mark them. Several hours at
    once: those that began while the worker was stopped.
    """
    return conn.execute(MARK_SILENT_HOURS, {"first": first, "last": last}).rowcount


def lock_stations(conn: Connection, stations: list[str]) -> None:
    """Hold a transaction-scoped lock on each station until commit or rollback."""
    if stations:
        conn.execute(LOCK_STATIONS, {"namespace": STATION_LOCK_NAMESPACE, "stations": stations})


def known_stations(conn: Connection, station_id: str | None = None) -> list[str]:
    """Station ids of the registry (or just ``station_id`` if registered), sorted."""
    if station_id is None:
        rows = conn.execute("SELECT station_id FROM stations ORDER BY station_id").fetchall()
    else:
        rows = conn.execute(
            "SELECT station_id FROM stations WHERE station_id = %s", (station_id,)
        ).fetchall()
    return [str(r[0]) for r in rows]


@dataclass(frozen=True)
class BackfillJob:
    """The cursors of one backfill request; days are local days, ``to_day`` inclusive."""

    job_key: str
    from_day: dt.date
    to_day: dt.date
    station_id: str | None
    cursors: Mapping[str, dt.date]  # station → first day not yet recomputed

    @property
    def next_day(self) -> dt.date:
        """The earliest station cursor (``to_day + 1`` when every station is done)."""
        return min(self.cursors.values(), default=self.to_day + dt.timedelta(days=1))

    @property
    def station_days_left(self) -> int:
        return sum(max((self.to_day - day).days + 1, 0) for day in self.cursors.values())


def backfill_job_key(
    from_day: dt.date, to_day: dt.date, station_id: str | None, indices_only: bool = False
) -> str:
    key = f"{from_day.isoformat()}..{to_day.isoformat()}:{station_id or '*'}"
    return key + ":indices" if indices_only else key


_START_JOB = """
INSERT INTO aqi_backfill_jobs (job_key, from_day, to_day, station_id, next_day)
VALUES (%(key)s, %(from)s, %(to)s, %(station)s, %(from)s)
ON CONFLICT (job_key) DO UPDATE SET next_day = EXCLUDED.next_day,
    started_at = now(), updated_at = now(), finished_at = NULL
"""

# Stations registered after the job started have no cursor yet: they start at from_day.
_ADD_STATION_CURSORS = """
INSERT INTO aqi_backfill_progress (job_key, station_id, next_day)
SELECT %(key)s, s, %(from)s FROM unnest(%(stations)s::text[]) AS s
ON CONFLICT (job_key, station_id) DO NOTHING
"""

_STATION_CURSORS = """
SELECT station_id, next_day FROM aqi_backfill_progress
WHERE job_key = %(key)s AND station_id = ANY(%(stations)s::text[])
"""


def open_backfill_job(
    conn: Connection,
    from_day: dt.date,
    to_day: dt.date,
    station_id: str | None,
    stations: Sequence[str],
    *,
    restart: bool = False,
    indices_only: bool = False,
) -> BackfillJob:
    """The job for this request over ``stations``: resumed if unfinished, else (re)started.

    A resumed job keeps each station's cursor; a new, finished or ``restart``-ed one
    starts every station at ``from_day``. An indices-only backfill is a job of its own.
    """
    key = backfill_job_key(from_day, to_day, station_id, indices_only)
    params = {"key": key, "from": from_day, "to": to_day, "station": station_id,
              "stations": list(stations)}  # fmt: skip
    with conn.transaction():
        row = conn.execute(
            "SELECT finished_at IS NOT NULL FROM aqi_backfill_jobs WHERE job_key = %s FOR UPDATE",
            (key,),
        ).fetchone()
        if row is None or restart or row[0]:
            conn.execute(_START_JOB, params)
            conn.execute("DELETE FROM aqi_backfill_progress WHERE job_key = %(key)s", params)
        conn.execute(_ADD_STATION_CURSORS, params)
        rows = conn.execute(_STATION_CURSORS, params).fetchall()
    cursors = {str(station): _as_date(day) for station, day in rows}
    return BackfillJob(key, from_day, to_day, station_id, cursors)


_ADVANCE_STATIONS = """
UPDATE aqi_backfill_progress SET next_day = %(next_day)s
WHERE job_key = %(key)s AND station_id = ANY(%(stations)s::text[])
"""

# Under concurrent groups this statement may not see another group's cursors committed
# meanwhile, so next_day is a lower bound until finish_backfill_job sets it exactly.
_ADVANCE_JOB = """
UPDATE aqi_backfill_jobs AS j
SET next_day = (SELECT min(p.next_day) FROM aqi_backfill_progress AS p
                WHERE p.job_key = j.job_key),
    updated_at = now()
WHERE j.job_key = %(key)s
"""


def advance_backfill_cursors(
    conn: Connection, job_key: str, stations: Sequence[str], next_day: dt.date
) -> None:
    """Move the cursors of ``stations`` (call inside the transaction that wrote the chunk).

    The job row is updated last: it is the only row concurrent groups share, so its lock
    is held only from here to the commit.
    """
    params = {"key": job_key, "stations": list(stations), "next_day": next_day}
    conn.execute(_ADVANCE_STATIONS, params)
    conn.execute(_ADVANCE_JOB, params)


_FINISH_JOB = """
UPDATE aqi_backfill_jobs AS j
SET next_day = coalesce(c.next_day, j.to_day + 1), updated_at = now(),
    finished_at = CASE WHEN coalesce(c.next_day, j.to_day + 1) > j.to_day THEN now() END
FROM (SELECT min(next_day) AS next_day FROM aqi_backfill_progress
      WHERE job_key = %(key)s) AS c
WHERE j.job_key = %(key)s
RETURNING j.next_day, j.finished_at IS NOT NULL
"""


def finish_backfill_job(conn: Connection, job_key: str) -> tuple[dt.date, bool]:
    """Set the job's cursor exactly once its groups stopped.

    Returns the job's first day not yet recomputed by every station, and whether every
    station is done (the job is then marked finished).
    """
    with conn.transaction():
        row = conn.execute(_FINISH_JOB, {"key": job_key}).fetchone()
    if row is None:
        raise LookupError(f"backfill job {job_key!r} vanished")
    return _as_date(row[0]), bool(row[1])


def _as_datetime(value: object) -> dt.datetime:
    if not isinstance(value, dt.datetime):
        raise TypeError(f"expected a timestamptz, got {value!r}")
    return value


def _as_date(value: object) -> dt.date:
    if not isinstance(value, dt.date):
        raise TypeError(f"expected a date, got {value!r}")
    return value
