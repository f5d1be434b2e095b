"""The ``hourly`` table: hourly means computed from readings, and reading them back.

An hourly mean is the mean of the hour's status-00 readings; status 01 (calibration)
and 02 (fault) readings are counted in ``n_flagged`` and never in the mean. The hour is
valid when ``completeness = min(n_valid / n_expected, 1)`` reaches the configured rule
(``hourly_min_completeness``, stored with each row), with ``n_expected = 3600 //
stations.report_interval_s``. The aggregation runs in the database: readings never
travel to Python, only one row per station-parameter-hour does.

Means are averaged in time order (``avg(value ORDER BY ts)``) so a recomputation gives
bit-identical values and the upsert can skip unchanged rows (idempotence).

Reading back asks the server for one ``bytea`` of fixed-width binary records (every
column NOT NULL, so each record has the same size), decoded with numpy.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import psycopg

Connection = psycopg.Connection[tuple[object, ...]]
Int32Array = npt.NDArray[np.int32]

STAGING_DDL = """
CREATE TEMP TABLE IF NOT EXISTS work_dirty_hours (
    station_id text NOT NULL, hour timestamptz NOT NULL
) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS staging_hourly (
    station_id text NOT NULL, parameter text NOT NULL, hour timestamptz NOT NULL,
    mean double precision, n_valid integer NOT NULL, n_flagged integer NOT NULL,
    n_expected integer NOT NULL, completeness double precision NOT NULL,
    valid boolean NOT NULL, min_completeness double precision NOT NULL
) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS work_windows (
    row_index integer NOT NULL, station_id text NOT NULL,
    t0 timestamptz NOT NULL, t1 timestamptz NOT NULL
) ON COMMIT DELETE ROWS;
"""

_HOURLY_VALUES = ("mean", "n_valid", "n_flagged", "n_expected", "completeness", "valid",
                  "min_completeness")

# Step 1: aggregate the readings of the changed hours into the staging table.
_AGGREGATE = """
INSERT INTO staging_hourly
SELECT a.station_id, a.parameter, a.hour, a.mean, a.n_valid, a.n_flagged, e.n_expected,
       least(a.n_valid::float8 / e.n_expected, 1.0),
       least(a.n_valid::float8 / e.n_expected, 1.0) >= %(min_completeness)s,
       %(min_completeness)s
FROM ({aggregate}) AS a
JOIN (SELECT station_id, greatest(3600 / report_interval_s, 1) AS n_expected FROM stations) AS e
  ON e.station_id = a.station_id
"""

_AGGREGATE_COLUMNS = """
    r.station_id, r.parameter, time_bucket(INTERVAL '1 hour', r.ts) AS hour,
    avg(r.value ORDER BY r.ts) FILTER (WHERE r.status = '00') AS mean,
    count(*) FILTER (WHERE r.status = '00') AS n_valid,
    count(*) FILTER (WHERE r.status IN ('01', '02')) AS n_flagged
"""

# Joining through the parameter list lets every lookup use the full primary key
# (station_id, parameter, ts); the constant bounds let TimescaleDB skip other chunks.
AGGREGATE_DIRTY_HOURS = _AGGREGATE.format(
    aggregate=f"""
    SELECT {_AGGREGATE_COLUMNS}
    FROM work_dirty_hours AS w
    CROSS JOIN parameters AS p
    JOIN readings AS r
      ON r.station_id = w.station_id AND r.parameter = p.parameter
     AND r.ts >= w.hour AND r.ts < w.hour + INTERVAL '1 hour'
    WHERE r.ts >= %(t_min)s AND r.ts < %(t_max)s
    GROUP BY 1, 2, 3
    """
)

AGGREGATE_RANGE = _AGGREGATE.format(
    aggregate=f"""
    SELECT {_AGGREGATE_COLUMNS}
    FROM readings AS r
    WHERE r.ts >= %(t_min)s AND r.ts < %(t_max)s
      AND r.station_id = ANY(%(stations)s::text[])
    GROUP BY 1, 2, 3
    """
)

# Step 2: write what is new or changed, in two statements: an UPDATE of the stored rows
# whose values differ, then a plain INSERT of the keys not stored yet. Unchanged rows
# are never rewritten (a recomputation that changes nothing writes nothing), and new
# rows skip ON CONFLICT's speculative insertion, which costs about as much as the
# insertion itself. A plain INSERT is safe because every writer of these tables holds
# the station locks of :mod:`storage.dirty_queue` for the rows it writes, so no other
# transaction can insert the same key between this transaction's check and insert.
_KEY_MATCH = "o.station_id = s.station_id AND o.parameter = s.parameter AND o.hour = s.hour"
_IN_BOUNDS = "o.hour >= %(t_min)s AND o.hour < %(t_max)s"  # lets TimescaleDB skip chunks

UPDATE_CHANGED_HOURLY = f"""
UPDATE hourly AS o SET
    {", ".join(f"{c} = s.{c}" for c in _HOURLY_VALUES)}, computed_at = now()
FROM staging_hourly AS s
WHERE {_KEY_MATCH} AND {_IN_BOUNDS}
  AND ({", ".join("o." + c for c in _HOURLY_VALUES)})
      IS DISTINCT FROM ({", ".join("s." + c for c in _HOURLY_VALUES)})
"""

ANY_STORED_HOURLY = """
SELECT EXISTS (
    SELECT FROM hourly AS o
    WHERE o.station_id = ANY(%(stations)s::text[]) AND o.hour >= %(t_min)s AND o.hour < %(t_max)s
)
"""

# Stored means whose readings are all gone (deleted by hand to correct them): an hour
# recomputed without a reading of a parameter has no mean for it any more. Recomputing
# only produces the keys that still have readings, so these must be removed explicitly.
DELETE_VANISHED_IN_RANGE = f"""
DELETE FROM hourly AS o
WHERE o.station_id = ANY(%(stations)s::text[]) AND {_IN_BOUNDS}
  AND NOT EXISTS (SELECT FROM staging_hourly AS s WHERE {_KEY_MATCH})
"""

DELETE_VANISHED_IN_DIRTY_HOURS = f"""
DELETE FROM hourly AS o
USING work_dirty_hours AS w
WHERE o.station_id = w.station_id AND o.hour = w.hour AND {_IN_BOUNDS}
  AND NOT EXISTS (SELECT FROM staging_hourly AS s WHERE {_KEY_MATCH})
"""

INSERT_NEW_HOURLY = f"""
INSERT INTO hourly (station_id, parameter, hour, {", ".join(_HOURLY_VALUES)}, computed_at)
SELECT s.*, now() FROM staging_hourly AS s
WHERE NOT EXISTS (SELECT FROM hourly AS o WHERE {_KEY_MATCH} AND {_IN_BOUNDS})
"""

# Record queries, read with _fetch_records (their columns are NOT NULL by construction).
# Hour numbers come from date_part (float8: whole hours are exact) rather than extract,
# whose numeric arithmetic costs more per row.
READ_WINDOWS = """
    SELECT w.row_index AS f0,
           (date_part('epoch', h.hour - w.t0) / 3600)::int4 AS f1,
           p.position::int4 AS f2,
           h.mean AS f3
    FROM work_windows AS w
    CROSS JOIN unnest(%(parameters)s::text[]) WITH ORDINALITY AS p(parameter, position)
    JOIN hourly AS h
      ON h.station_id = w.station_id AND h.parameter = p.parameter
     AND h.hour >= w.t0 AND h.hour < w.t1
    WHERE h.valid AND h.mean IS NOT NULL
      AND h.hour >= %(t_min)s AND h.hour < %(t_max)s
"""

AGGREGATED_STATION_HOURS = """
    SELECT s.position::int4 AS f0, (date_part('epoch', h.hour) / 3600)::int8 AS f1
    FROM unnest(%(stations)s::text[]) WITH ORDINALITY AS s(station_id, position)
    JOIN staging_hourly AS h ON h.station_id = s.station_id
    GROUP BY s.position, h.hour
"""

STORED_STATION_HOURS = """
    SELECT s.position::int4 AS f0, (date_part('epoch', h.hour) / 3600)::int8 AS f1
    FROM unnest(%(stations)s::text[]) WITH ORDINALITY AS s(station_id, position)
    JOIN hourly AS h ON h.station_id = s.station_id
    WHERE h.hour >= %(t_min)s AND h.hour < %(t_max)s
    GROUP BY s.position, h.hour
"""

# PostgreSQL's binary send function of each column type read by _fetch_records.
_SEND = {">i4": "int4send", ">i8": "int8send", ">f8": "float8send"}


def prepare(conn: Connection) -> None:
    """Create this connection's work tables (cheap when they exist)."""
    conn.execute(STAGING_DDL)


def upsert_hourly_for_dirty_hours(
    conn: Connection, station_hours: Sequence[tuple[str, dt.datetime]], min_completeness: float
) -> int:
    """Recompute ``hourly`` for the given station-hours from their readings.

    Means whose readings are gone are deleted. Returns the number of rows inserted,
    changed or deleted (unchanged rows are not rewritten).
    """
    if not station_hours:
        return 0
    with conn.cursor() as cur:
        with cur.copy("COPY work_dirty_hours (station_id, hour) FROM STDIN") as copy:
            for row in station_hours:
                copy.write_row(row)
        hours = [h for _, h in station_hours]
        bounds = {"t_min": min(hours), "t_max": max(hours) + dt.timedelta(hours=1)}
        cur.execute(AGGREGATE_DIRTY_HOURS, {"min_completeness": min_completeness, **bounds})
        cur.execute(DELETE_VANISHED_IN_DIRTY_HOURS, bounds)
        return cur.rowcount + _write_staged(cur, bounds)


def upsert_hourly_for_range(
    conn: Connection,
    t_min: dt.datetime,
    t_max: dt.datetime,
    min_completeness: float,
    stations: Sequence[str],
) -> int:
    """Recompute ``hourly`` for every reading of ``stations`` in ``[t_min, t_max)``.

    Means whose readings are gone are deleted. Returns the number of rows inserted,
    changed or deleted (unchanged rows are not rewritten).
    """
    bounds = {"t_min": t_min, "t_max": t_max}
    with conn.cursor() as cur:
        params = {"min_completeness": min_completeness, "stations": list(stations), **bounds}
        cur.execute(AGGREGATE_RANGE, params)
        row = cur.execute(ANY_STORED_HOURLY, params).fetchone()
        any_stored = bool(row and row[0])
        deleted = 0
        if any_stored:
            cur.execute(DELETE_VANISHED_IN_RANGE, params)
            deleted = cur.rowcount
        return deleted + _write_staged(cur, bounds, any_stored=any_stored)


def _write_staged(
    cur: psycopg.Cursor[tuple[object, ...]],
    bounds: dict[str, dt.datetime],
    *,
    any_stored: bool = True,
) -> int:
    """Move the staged hourly means into ``hourly``: changed rows, then new ones.

    ``any_stored=False`` says no row of the staged stations is stored inside ``bounds``
    (a first backfill): nothing can have changed, so the UPDATE's join is skipped. The
    caller's station locks keep other writers out, so no row can appear meanwhile.
    """
    changed = 0
    if any_stored:
        cur.execute(UPDATE_CHANGED_HOURLY, bounds)
        changed = cur.rowcount
    cur.execute(INSERT_NEW_HOURLY, bounds)
    return changed + cur.rowcount


def read_hourly_windows(
    conn: Connection,
    windows: Sequence[tuple[int, str, dt.datetime, dt.datetime]],
    parameters: Sequence[str],
) -> tuple[Int32Array, Int32Array, Int32Array, npt.NDArray[np.float64]]:
    """Valid hourly means inside each window ``(row_index, station_id, t0, t1)``.

    Returns
    -------
    row_index, column, parameter_index, mean : ndarrays of equal length
        ``column`` counts hours from the window's ``t0``; ``parameter_index`` indexes
        ``parameters``. Invalid hours are absent (the caller treats them as missing).
    """
    empty = (np.empty(0, np.int32), np.empty(0, np.int32), np.empty(0, np.int32), np.empty(0))
    if not windows:
        return empty
    with conn.cursor() as cur:
        with cur.copy("COPY work_windows (row_index, station_id, t0, t1) FROM STDIN") as copy:
            for window in windows:
                copy.write_row(window)
        params = {
            "parameters": list(parameters),
            "t_min": min(w[2] for w in windows),
            "t_max": max(w[3] for w in windows),
        }
        records = _fetch_records(cur, READ_WINDOWS, params, [">i4", ">i4", ">i4", ">f8"])
    if records is None:
        return empty
    return (
        records["f0"].astype(np.int32),
        records["f1"].astype(np.int32),
        records["f2"].astype(np.int32) - 1,
        records["f3"].astype(np.float64),
    )


def aggregated_station_hours(
    conn: Connection, stations: Sequence[str]
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int64]]:
    """Station-hours the last upsert of this transaction aggregated (any parameter).

    Returns station indices into ``stations`` and hour numbers (hours since 1970 UTC).
    """
    with conn.cursor() as cur:
        records = _fetch_records(
            cur, AGGREGATED_STATION_HOURS, {"stations": list(stations)}, [">i4", ">i8"]
        )
    if records is None:
        return np.empty(0, np.int32), np.empty(0, np.int64)
    return records["f0"].astype(np.int32) - 1, records["f1"].astype(np.int64)


def stored_station_hours(
    conn: Connection, stations: Sequence[str], t_min: dt.datetime, t_max: dt.datetime
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int64]]:
    """Station-hours with a stored hourly mean in ``t_min … t_max`` (any parameter).

    Returns station indices into ``stations`` and hour numbers (hours since 1970 UTC).
    """
    params = {"stations": list(stations), "t_min": t_min, "t_max": t_max}
    with conn.cursor() as cur:
        records = _fetch_records(cur, STORED_STATION_HOURS, params, [">i4", ">i8"])
    if records is None:
        return np.empty(0, np.int32), np.empty(0, np.int64)
    return records["f0"].astype(np.int32) - 1, records["f1"].astype(np.int64)


def _fetch_records(
    cur: psycopg.Cursor[tuple[object, ...]],
    query: str,
    params: dict[str, object],
    kinds: list[str],
) -> npt.NDArray[np.void] | None:
    """Rows of ``query`` (columns ``f0, f1, …``, NOT NULL) as numpy records, None if none.

    The server packs the rows into ``bytea`` values of big-endian fixed-width records
    (``int4send``, ``float8send`` …), so they cross the connection as a few values: a
    COPY would hand them to Python one row at a time, at a cost per row that dominated
    reading a backfill chunk's hundreds of thousands of hourly means. One value per
    1,024 values of ``f0`` (window rows, stations: ≤ ~110 MB each even for a year-long
    chunk) keeps every value below PostgreSQL's 1 GB limit for one ``bytea``.
    """
    packed = " || ".join(f"{_SEND[kind]}(q.f{i})" for i, kind in enumerate(kinds))
    rows = cur.execute(
        f"SELECT count(*), string_agg({packed}, ''::bytea) FROM ({query}) AS q"
        " GROUP BY q.f0 / 1024",
        params, binary=True,
    ).fetchall()  # fmt: skip
    if not rows:
        return None
    dtype = np.dtype([(f"f{i}", kind) for i, kind in enumerate(kinds)])
    count = 0
    parts: list[bytes] = []
    for n, data in rows:
        if not isinstance(n, int) or not isinstance(data, bytes):
            raise TypeError(f"unexpected result types {type(n)}, {type(data)}")
        count += n
        parts.append(data)
    data = b"".join(parts)
    if len(data) != count * dtype.itemsize:  # a NULL column drops its row from string_agg
        raise ValueError(f"{count} rows, {len(data)} bytes: a NULL in {query.strip()[:60]}…")
    return np.frombuffer(data, dtype=dtype)
