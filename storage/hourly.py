"""The ``hourly`` table and the automatic QA/QC flags: written from screened readings.

The worker reads a batch's readings (:func:`read_readings_range`,
:func:`read_readings_hours`), flags them (:mod:`qaqc.rules`) and aggregates the
readings no rule flagged into hourly means (:mod:`worker.screening`) in numpy; this
module moves the results in and out. Status 01 (calibration) and 02 (fault) readings
are counted in ``n_flagged``, the readings removed by the other rules in ``n_qc_*``;
none enters a mean. The hour is valid when ``completeness = min(n_valid / n_expected,
1)`` reaches the configured rule (``hourly_min_completeness``, stored with each row),
with ``n_expected = 3600 // stations.report_interval_s``.

Means are summed in time order so a recomputation gives bit-identical values and the
merge can skip unchanged rows (idempotence).

Readings and hourly windows are read as ``bytea`` values of fixed-width binary records
(every column NOT NULL, so each record has the same size), decoded with numpy; rows are
written with one binary COPY of fixed-width records into a coded staging table.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import psycopg

from storage.aqi_tables import pack_copy_binary

Connection = psycopg.Connection[tuple[object, ...]]
Int32Array = npt.NDArray[np.int32]
IntArray = npt.NDArray[np.int64]

QC_COUNT_COLUMNS = ("n_qc_manual", "n_qc_range", "n_qc_negative", "n_qc_flat_line",
                    "n_qc_spike", "n_qc_pm_ratio")  # fmt: skip
_HOURLY_VALUES = (
    "mean",
    "n_valid",
    "n_flagged",
    "n_expected",
    "completeness",
    "valid",
    "min_completeness",
    *QC_COUNT_COLUMNS,
    "rules_version",
    "data_level",
)

STAGING_DDL = f"""
CREATE TEMP TABLE IF NOT EXISTS work_dirty_hours (
    station_id text NOT NULL, hour timestamptz NOT NULL
) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS work_read_hours (
    station_id text NOT NULL, hour timestamptz NOT NULL
) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS staging_hourly_codes (
    station int4 NOT NULL, parameter int4 NOT NULL, hour timestamptz NOT NULL,
    mean float8 NOT NULL, n_valid int4 NOT NULL, n_flagged int4 NOT NULL,
    n_expected int4 NOT NULL, completeness float8 NOT NULL, valid bool NOT NULL,
    min_completeness float8 NOT NULL,
    {", ".join(f"{c} int4 NOT NULL" for c in QC_COUNT_COLUMNS)}, level int2 NOT NULL
) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS staging_hourly (
    station_id text NOT NULL, parameter text NOT NULL, hour timestamptz NOT NULL,
    mean double precision, n_valid integer NOT NULL, n_flagged integer NOT NULL,
    n_expected integer NOT NULL, completeness double precision NOT NULL,
    valid boolean NOT NULL, min_completeness double precision NOT NULL,
    {", ".join(f"{c} integer NOT NULL" for c in QC_COUNT_COLUMNS)},
    rules_version text, data_level text NOT NULL
) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS staging_qc_flags_codes (
    station int4 NOT NULL, parameter int4 NOT NULL, ts timestamptz NOT NULL,
    flags int2 NOT NULL
) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS staging_qc_flags (
    station_id text NOT NULL, parameter text NOT NULL, ts timestamptz NOT NULL,
    flags smallint NOT NULL, rules_version text NOT NULL
) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS work_changed_hours (
    station_id text NOT NULL, hour timestamptz NOT NULL
) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS work_vanished (
    station_id text NOT NULL, hour timestamptz NOT NULL
) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS work_windows (
    row_index integer NOT NULL, station_id text NOT NULL,
    t0 timestamptz NOT NULL, t1 timestamptz NOT NULL
) ON COMMIT DELETE ROWS;
"""

HOURLY_CODE_FIELDS = (
    ("station", "int4", ">i4"), ("parameter", "int4", ">i4"), ("hour", "timestamptz", ">i8"),
    ("mean", "float8", ">f8"), ("n_valid", "int4", ">i4"), ("n_flagged", "int4", ">i4"),
    ("n_expected", "int4", ">i4"), ("completeness", "float8", ">f8"), ("valid", "bool", "?"),
    ("min_completeness", "float8", ">f8"),
    *((c, "int4", ">i4") for c in QC_COUNT_COLUMNS), ("level", "int2", ">i2"),
)  # fmt: skip
FLAG_CODE_FIELDS = (
    ("station", "int4", ">i4"), ("parameter", "int4", ">i4"), ("ts", "timestamptz", ">i8"),
    ("flags", "int2", ">i2"),
)  # fmt: skip

DECODE_HOURLY = f"""
INSERT INTO staging_hourly
SELECT (%(stations)s::text[])[c.station], (%(parameters)s::text[])[c.parameter], c.hour,
       NULLIF(c.mean, 'NaN'), c.n_valid, c.n_flagged, c.n_expected, c.completeness, c.valid,
       c.min_completeness, {", ".join("c." + c for c in QC_COUNT_COLUMNS)},
       %(rules_version)s, (ARRAY['provisional', 'verified'])[c.level]
FROM staging_hourly_codes AS c
"""

DECODE_FLAGS = """
INSERT INTO staging_qc_flags
SELECT (%(stations)s::text[])[c.station], (%(parameters)s::text[])[c.parameter], c.ts,
       c.flags, %(rules_version)s
FROM staging_qc_flags_codes AS c
"""

# Readings of the batch's stations, as (station, parameter) positions in the arrays
# passed, the time (timestamptz_send: µs since 2000), value and status.
_READING_COLUMNS = """
    SELECT s.position::int4 AS f0, p.position::int4 AS f1, r.ts AS f2, r.value AS f3,
           r.status::int2 AS f4
"""
READ_READINGS_RANGE = f"""
    {_READING_COLUMNS}
    FROM unnest(%(stations)s::text[]) WITH ORDINALITY AS s(station_id, position)
    CROSS JOIN unnest(%(parameters)s::text[]) WITH ORDINALITY AS p(parameter, position)
    JOIN readings AS r ON r.station_id = s.station_id AND r.parameter = p.parameter
    WHERE r.ts >= %(t_min)s AND r.ts < %(t_max)s
"""
# Joining through the parameter list lets every lookup use the full primary key
# (station_id, parameter, ts); the constant bounds let TimescaleDB skip other chunks.
READ_READINGS_HOURS = f"""
    {_READING_COLUMNS}
    FROM work_read_hours AS w
    JOIN unnest(%(stations)s::text[]) WITH ORDINALITY AS s(station_id, position)
      ON s.station_id = w.station_id
    CROSS JOIN unnest(%(parameters)s::text[]) WITH ORDINALITY AS p(parameter, position)
    JOIN readings AS r
      ON r.station_id = w.station_id AND r.parameter = p.parameter
     AND r.ts >= w.hour AND r.ts < w.hour + INTERVAL '1 hour'
    WHERE r.ts >= %(t_min)s AND r.ts < %(t_max)s
"""

_FLAG_MATCH = "s.station_id = o.station_id AND s.parameter = o.parameter AND s.ts = o.ts"
_FLAG_SAME = f"{_FLAG_MATCH} AND s.flags = o.flags AND s.rules_version = o.rules_version"
DELETE_STALE_FLAGS_IN_RANGE = f"""
DELETE FROM qc_flags AS o
WHERE o.station_id = ANY(%(stations)s::text[]) AND o.ts >= %(t_min)s AND o.ts < %(t_max)s
  AND NOT EXISTS (SELECT FROM staging_qc_flags AS s WHERE {_FLAG_SAME})
"""
DELETE_STALE_FLAGS_IN_DIRTY_HOURS = f"""
DELETE FROM qc_flags AS o
USING work_dirty_hours AS w
WHERE o.station_id = w.station_id AND o.ts >= w.hour AND o.ts < w.hour + INTERVAL '1 hour'
  AND o.ts >= %(t_min)s AND o.ts < %(t_max)s
  AND NOT EXISTS (SELECT FROM staging_qc_flags AS s WHERE {_FLAG_SAME})
"""
INSERT_NEW_FLAGS = f"""
INSERT INTO qc_flags (station_id, parameter, ts, flags, rules_version)
SELECT s.* FROM staging_qc_flags AS s
WHERE NOT EXISTS (SELECT FROM qc_flags AS o WHERE {_FLAG_MATCH}
                  AND o.ts >= %(t_min)s AND o.ts < %(t_max)s)
"""

# Writing hourly means: what is new or changed, in two statements: an UPDATE of the stored rows
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
WITH gone AS (
    DELETE FROM hourly AS o
    WHERE o.station_id = ANY(%(stations)s::text[]) AND {_IN_BOUNDS}
      AND NOT EXISTS (SELECT FROM staging_hourly AS s WHERE {_KEY_MATCH})
    RETURNING o.station_id, o.hour
)
INSERT INTO work_vanished SELECT * FROM gone
"""

DELETE_VANISHED_IN_DIRTY_HOURS = f"""
WITH gone AS (
    DELETE FROM hourly AS o
    USING work_dirty_hours AS w
    WHERE o.station_id = w.station_id AND o.hour = w.hour AND {_IN_BOUNDS}
      AND NOT EXISTS (SELECT FROM staging_hourly AS s WHERE {_KEY_MATCH})
    RETURNING o.station_id, o.hour
)
INSERT INTO work_vanished SELECT * FROM gone
"""

VANISHED_STATION_HOURS = """
    SELECT s.position::int4 AS f0, (date_part('epoch', v.hour) / 3600)::int8 AS f1
    FROM unnest(%(stations)s::text[]) WITH ORDINALITY AS s(station_id, position)
    JOIN {table} AS v ON v.station_id = s.station_id
    GROUP BY s.position, v.hour
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
_SEND = {">i2": "int2send", ">i4": "int4send", ">i8": "int8send", ">f8": "float8send",
         "ts": "timestamptz_send"}  # fmt: skip
_PG_EPOCH_US = 946_684_800_000_000  # 2000-01-01 in µs since 1970-01-01


def prepare(conn: Connection) -> None:
    """Create this connection's work tables (cheap when they exist)."""
    conn.execute(STAGING_DDL)


@dataclass(frozen=True)
class Readings:
    """A batch's readings sorted by station, parameter and time."""

    station: IntArray  # index into the stations passed
    parameter: IntArray  # index into the parameters passed
    ts_us: IntArray  # µs since 1970-01-01 UTC
    value: npt.NDArray[np.float64]
    status: IntArray  # 0, 1, 2

    def __len__(self) -> int:
        return len(self.ts_us)


def read_readings_range(
    conn: Connection,
    stations: Sequence[str],
    parameters: Sequence[str],
    t_min: dt.datetime,
    t_max: dt.datetime,
) -> Readings:
    """Every reading of ``stations`` and ``parameters`` in ``[t_min, t_max)``."""
    params = {"stations": list(stations), "parameters": list(parameters),
              "t_min": t_min, "t_max": t_max}  # fmt: skip
    with conn.cursor() as cur:
        return _readings(cur, READ_READINGS_RANGE, params)


def read_readings_hours(
    conn: Connection,
    stations: Sequence[str],
    parameters: Sequence[str],
    station_hours: Sequence[tuple[str, dt.datetime]],
) -> Readings:
    """The readings of ``station_hours`` (each station's hour ``[hour, hour + 1 h)``)."""
    if not station_hours:
        return _readings_of(None)
    with conn.cursor() as cur:
        with cur.copy("COPY work_read_hours (station_id, hour) FROM STDIN") as copy:
            for row in station_hours:
                copy.write_row(row)
        hours = [h for _, h in station_hours]
        params = {"stations": list(stations), "parameters": list(parameters),
                  "t_min": min(hours), "t_max": max(hours) + dt.timedelta(hours=1)}  # fmt: skip
        return _readings(cur, READ_READINGS_HOURS, params)


def _readings(cur: psycopg.Cursor[tuple[object, ...]], query: str,
              params: dict[str, object]) -> Readings:  # fmt: skip
    # One bytea per 16 stations: a year of 5-minute data of three pollutants is
    # ~8 MB per station, far below the 1 GB limit of one value.
    records = _fetch_records(cur, query, params, [">i4", ">i4", "ts", ">f8", ">i2"],
                             group_by="q.f0 / 16")  # fmt: skip
    return _readings_of(records)


def _readings_of(records: npt.NDArray[np.void] | None) -> Readings:
    if records is None:
        empty = np.empty(0, np.int64)
        return Readings(empty, empty, empty, np.empty(0), empty)
    station = records["f0"].astype(np.int64) - 1
    parameter = records["f1"].astype(np.int64) - 1
    ts = records["f2"].astype(np.int64) + _PG_EPOCH_US
    span = int(ts.max() - ts.min()) if len(ts) else 0
    if span < 1 << 42 and int(station.max()) < 1 << 12 and int(parameter.max()) < 1 << 9:
        # One int64 key (station, parameter, time offset) sorts in one pass.
        key = ((station << 9) | parameter) << 42 | (ts - ts.min())
        if len(key) > 1 and not bool(np.all(key[1:] >= key[:-1])):
            order = np.argsort(key, kind="stable")
        else:
            order = None
    else:
        order = np.lexsort((ts, parameter, station))
    value = records["f3"].astype(np.float64)
    status = records["f4"].astype(np.int64)
    if order is None:
        return Readings(station, parameter, ts, value, status)
    return Readings(station[order], parameter[order], ts[order], value[order], status[order])


def write_hourly_and_flags(
    conn: Connection,
    stations: Sequence[str],
    parameters: Sequence[str],
    hourly_columns: Mapping[str, npt.NDArray[np.generic]],
    flag_columns: Mapping[str, npt.NDArray[np.generic]],
    rules_version: str,
    t_min: dt.datetime,
    t_max: dt.datetime,
    *,
    write_hours: Sequence[tuple[str, dt.datetime]] | None = None,
) -> int:
    """Replace the hourly means and automatic flags of a batch with the ones computed.

    The batch is every hour of ``stations`` in ``[t_min, t_max)``, or, with
    ``write_hours``, just those station-hours. Means and flags the batch no longer
    produces are deleted (the deleted station-hours are kept in ``work_vanished`` for
    :func:`vanished_station_hours`). Returns the number of rows inserted, changed or
    deleted (unchanged rows are not rewritten).
    """
    bounds = {"t_min": t_min, "t_max": t_max}
    names = {"stations": list(stations), "parameters": list(parameters),
             "rules_version": rules_version}  # fmt: skip
    written = 0
    with conn.cursor() as cur:
        if write_hours is not None:
            with cur.copy("COPY work_dirty_hours (station_id, hour) FROM STDIN") as copy:
                for row in write_hours:
                    copy.write_row(row)
        _copy_codes(cur, "staging_hourly_codes", HOURLY_CODE_FIELDS, hourly_columns)
        cur.execute(DECODE_HOURLY, names)
        _copy_codes(cur, "staging_qc_flags_codes", FLAG_CODE_FIELDS, flag_columns)
        cur.execute(DECODE_FLAGS, names)
        params = {**names, **bounds}
        if write_hours is not None:
            cur.execute(DELETE_VANISHED_IN_DIRTY_HOURS, bounds)
            written += cur.rowcount + _write_staged(cur, bounds, record_changed=True)
            cur.execute(DELETE_STALE_FLAGS_IN_DIRTY_HOURS, bounds)
        else:
            found = cur.execute(ANY_STORED_HOURLY, params).fetchone()
            any_stored = bool(found and found[0])
            if any_stored:
                cur.execute(DELETE_VANISHED_IN_RANGE, params)
                written += cur.rowcount
            written += _write_staged(cur, bounds, any_stored=any_stored)
            cur.execute(DELETE_STALE_FLAGS_IN_RANGE, params)
        written += cur.rowcount
        cur.execute(INSERT_NEW_FLAGS, bounds)
        written += cur.rowcount
    return written


def _copy_codes(
    cur: psycopg.Cursor[tuple[object, ...]],
    table: str,
    fields: Sequence[tuple[str, str, str]],
    columns: Mapping[str, npt.NDArray[np.generic]],
) -> None:
    # Station and parameter travel as 1-based subscripts of the name arrays.
    shifted = dict(columns)
    if "parameter" in shifted:
        shifted["parameter"] = np.asarray(shifted["parameter"], np.int64) + 1
    payload = pack_copy_binary(fields, shifted)
    if payload is None:
        return
    names = ", ".join(name for name, _, _ in fields)
    with cur.copy(f"COPY {table} ({names}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.write(payload)


def vanished_station_hours(
    conn: Connection, stations: Sequence[str], *, changed: bool = False
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int64]]:
    """Station-hours whose hourly means this transaction deleted (station index, hour);
    with ``changed``, those it inserted or changed for a list of ``write_hours``."""
    query = VANISHED_STATION_HOURS.format(
        table="work_changed_hours" if changed else "work_vanished"
    )
    with conn.cursor() as cur:
        records = _fetch_records(cur, query, {"stations": list(stations)}, [">i4", ">i8"])
    if records is None:
        return np.empty(0, np.int32), np.empty(0, np.int64)
    return records["f0"].astype(np.int32) - 1, records["f1"].astype(np.int64)


def pg_time_us(ts_us: npt.ArrayLike) -> IntArray:
    """µs since 1970 → the binary COPY's timestamptz (µs since 2000)."""
    return np.asarray(ts_us, np.int64) - _PG_EPOCH_US


def _write_staged(
    cur: psycopg.Cursor[tuple[object, ...]],
    bounds: dict[str, dt.datetime],
    *,
    any_stored: bool = True,
    record_changed: bool = False,
) -> int:
    """Move the staged hourly means into ``hourly``: changed rows, then new ones.

    ``any_stored=False`` says no row of the staged stations is stored inside ``bounds``
    (a first backfill): nothing can have changed, so the UPDATE's join is skipped. The
    caller's station locks keep other writers out, so no row can appear meanwhile.
    ``record_changed`` keeps the station-hours written in ``work_changed_hours``.
    """
    changed = 0
    statements = [(UPDATE_CHANGED_HOURLY, "o.")] if any_stored else []
    for plain, alias in [*statements, (INSERT_NEW_HOURLY, "")]:
        recorded = (f"WITH c AS ({plain} RETURNING {alias}station_id, {alias}hour)"
                    " INSERT INTO work_changed_hours SELECT * FROM c")  # fmt: skip
        cur.execute(recorded if record_changed else plain, bounds)
        changed += cur.rowcount
    return changed


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
    group_by: str = "q.f0 / 1024",
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
        f" GROUP BY {group_by}",
        params, binary=True,
    ).fetchall()  # fmt: skip
    if not rows:
        return None
    dtype = np.dtype([(f"f{i}", ">i8" if kind == "ts" else kind) for i, kind in enumerate(kinds)])
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
