"""The ``aqi_hourly`` and ``aqi_daily`` tables: set-based upserts of computed indices.

Rows arrive as numpy column arrays. They are packed into fixed-width records, sent with
one binary ``COPY`` into a temporary staging table and merged with an ``UPDATE`` of the
stored rows whose values changed and an ``INSERT`` of the keys not stored yet; rows
whose values did not change are left alone, so recomputing changes nothing
(idempotence; ``computed_at`` then keeps the first computation's time).

Text columns travel as small integer codes that the merge turns back into text through
arrays passed as parameters (PostgreSQL returns NULL for subscript 0, which encodes
"none"). Missing numbers travel as NaN (float columns) and become NULL in the merge.

Column conventions of the arrays given to :func:`write_aqi_hourly` and
:func:`write_aqi_daily`:

``station``, ``standard``
    0-based indices into :attr:`Labels.stations` / :attr:`Labels.standards`.
``hour``
    Hour numbers (hours since 1970-01-01 00:00 UTC, hour-beginning).
``day``
    Local day numbers (days since 1970-01-01 in the local calendar).
``category``
    Level 1…6 (aqi_categories.level), 0 = none.
``dominant``, ``missing_reason``
    1-based codes into :attr:`Labels.pollutants` / :attr:`Labels.missing_reasons`, 0 = none.
float columns
    NaN = NULL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
import psycopg

Connection = psycopg.Connection[tuple[object, ...]]

SUBINDEX_COLUMNS: Final = ("sub_pm25", "sub_pm10", "sub_o3", "sub_no2", "sub_so2", "sub_co")
NOWCAST_COLUMNS: Final = ("nowcast_pm25", "nowcast_pm10")
DAILY_CONCENTRATION_COLUMNS: Final = (
    "pm25_mean", "pm10_mean", "o3_max1h", "o3_max8h", "no2_max1h", "so2_max1h", "co_max1h",
)  # fmt: skip
HOURS_COLUMNS: Final = (
    "n_hours_pm25", "n_hours_pm10", "n_hours_o3", "n_hours_no2", "n_hours_so2", "n_hours_co",
)  # fmt: skip

# (staging column, SQL type, binary big-endian dtype)
_KEY_HOURLY: Final = (("station", "int4", ">i4"), ("standard", "int4", ">i4"),
                      ("hour", "timestamptz", ">i8"))  # fmt: skip
_KEY_DAILY: Final = (("station", "int4", ">i4"), ("standard", "int4", ">i4"),
                     ("day", "date", ">i4"))  # fmt: skip
_INDEX_FIELDS: Final = (
    ("aqi", "float8", ">f8"), ("category", "int2", ">i2"), ("dominant", "int2", ">i2"),
    *((name, "float8", ">f8") for name in SUBINDEX_COLUMNS),
)  # fmt: skip
_TAIL_FIELDS: Final = (("missing_reason", "int2", ">i2"), ("beyond_index", "bool", "?"),
                       ("level", "int2", ">i2"))  # fmt: skip  # 1 provisional, 2 verified

HOURLY_FIELDS: Final = (
    *_KEY_HOURLY, *_INDEX_FIELDS, *((n, "float8", ">f8") for n in NOWCAST_COLUMNS), *_TAIL_FIELDS,
)  # fmt: skip
DAILY_FIELDS: Final = (
    *_KEY_DAILY, *_INDEX_FIELDS,
    *((n, "float8", ">f8") for n in DAILY_CONCENTRATION_COLUMNS),
    *((n, "int2", ">i2") for n in HOURS_COLUMNS),
    *_TAIL_FIELDS,
)  # fmt: skip

_COPY_HEADER: Final = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # signature, flags 0, no extension
_COPY_TRAILER: Final = b"\xff\xff"
_PG_EPOCH_HOURS: Final = 262_968  # 2000-01-01 in hours since 1970-01-01
_PG_EPOCH_DAYS: Final = 10_957  # 2000-01-01 in days since 1970-01-01
_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Labels:
    """Text behind the integer codes of the column arrays."""

    stations: Sequence[str]
    standards: Sequence[str]
    method_versions: Sequence[str]  # one per standard
    pollutants: Sequence[str]  # dominant code k → pollutants[k - 1]
    missing_reasons: Sequence[str]  # missing_reason code k → missing_reasons[k - 1]

    def params(self) -> dict[str, object]:
        return {
            "stations": list(self.stations),
            "standards": list(self.standards),
            "methods": list(self.method_versions),
            "pollutants": list(self.pollutants),
            "reasons": list(self.missing_reasons),
        }


def _staging_ddl(name: str, fields: Sequence[tuple[str, str, str]]) -> str:
    columns = ", ".join(f"{column} {sql_type} NOT NULL" for column, sql_type, _ in fields)
    return f"CREATE TEMP TABLE IF NOT EXISTS {name} ({columns}) ON COMMIT DELETE ROWS;"


STAGING_DDL = (
    _staging_ddl("staging_aqi_hourly", HOURLY_FIELDS)
    + "\n"
    + _staging_ddl("staging_aqi_daily", DAILY_FIELDS)
)

_INDEX_SELECT = """
    NULLIF(s.aqi, 'NaN')::smallint, NULLIF(s.category, 0), (%(pollutants)s::text[])[s.dominant],
    """ + ", ".join(f"NULLIF(s.{c}, 'NaN')" for c in SUBINDEX_COLUMNS)
_INDEX_COLUMNS = ("aqi", "category", "dominant", *SUBINDEX_COLUMNS)


@dataclass(frozen=True)
class MergeStatements:
    """The statements that move a staging table into its table."""

    stored_range: str  # first and last key stored for the batch's stations in its key range
    update_changed: str  # stored rows whose values differ
    insert_new: str  # keys not stored yet
    insert_all: str  # every staged row (nothing stored in the key range)


def _merge(
    table: str, key: str, key_select: str, extra: Sequence[str], extra_select: Sequence[str]
) -> MergeStatements:
    updated = [*_INDEX_COLUMNS, *extra, "missing_reason", "beyond_index", "method_version",
               "data_level"]  # fmt: skip
    columns = ["station_id", "standard", key, *updated]
    select = [
        "(%(stations)s::text[])[s.station]",
        "(%(standards)s::text[])[s.standard]",
        key_select,
        _INDEX_SELECT,
        *extra_select,
        "(%(reasons)s::text[])[s.missing_reason]",
        "s.beyond_index",
        "(%(methods)s::text[])[s.standard]",
        "(ARRAY['provisional', 'verified'])[s.level]",
    ]
    decoded = f"(SELECT {', '.join(select)} FROM staging_{table} AS s) AS n({', '.join(columns)})"
    key_match = (
        f"o.station_id = n.station_id AND o.standard = n.standard AND o.{key} = n.{key}"
        f" AND o.{key} >= %(key_min)s AND o.{key} <= %(key_max)s"  # lets TimescaleDB skip chunks
    )
    # Changed rows are updated and new keys inserted with a plain INSERT: no row is
    # rewritten unless its values changed, and new rows avoid ON CONFLICT's speculative
    # insertion (about as costly as the insertion itself). Safe without ON CONFLICT
    # because every writer holds the station locks (storage.dirty_queue) of its rows.
    update_changed = (
        f"UPDATE {table} AS o SET "
        + ", ".join(f"{c} = n.{c}" for c in updated)
        + f", computed_at = now()\nFROM {decoded}\nWHERE {key_match}"
        f" AND n.{key} >= %(key_min)s AND n.{key} <= %(key_max)s"
        f" AND ({', '.join('o.' + c for c in updated)})"
        f" IS DISTINCT FROM ({', '.join('n.' + c for c in updated)})"
    )
    insert_all = (
        f"INSERT INTO {table} ({', '.join(columns)}, computed_at)\n"
        f"SELECT n.*, now() FROM {decoded}"
    )
    insert_new = f"{insert_all}\nWHERE NOT EXISTS (SELECT FROM {table} AS o WHERE {key_match})"
    stored_range = (
        f"SELECT min(o.{key}), max(o.{key}) FROM {table} AS o"
        f" WHERE o.station_id = ANY(%(stations)s::text[])"
        f" AND o.{key} >= %(key_min)s AND o.{key} <= %(key_max)s"
    )
    return MergeStatements(stored_range, update_changed, insert_new, insert_all)


MERGE_HOURLY = _merge(
    "aqi_hourly", "hour", "s.hour", NOWCAST_COLUMNS,
    [f"NULLIF(s.{c}, 'NaN')" for c in NOWCAST_COLUMNS],
)  # fmt: skip
MERGE_DAILY = _merge(
    "aqi_daily", "day", "s.day", [*DAILY_CONCENTRATION_COLUMNS, *HOURS_COLUMNS],
    [*(f"NULLIF(s.{c}, 'NaN')" for c in DAILY_CONCENTRATION_COLUMNS),
     *(f"s.{c}" for c in HOURS_COLUMNS)],
)  # fmt: skip


def prepare(conn: Connection) -> None:
    """Create this connection's staging tables (cheap when they exist)."""
    conn.execute(STAGING_DDL)


def write_aqi_hourly(
    conn: Connection, columns: Mapping[str, npt.NDArray[np.generic]], labels: Labels
) -> int:
    """Upsert ``aqi_hourly`` rows; returns how many were inserted or changed."""
    converted = dict(columns)
    hours = np.asarray(columns["hour"], np.int64)
    converted["hour"] = (hours - _PG_EPOCH_HOURS) * 3_600_000_000
    bounds = (_EPOCH + dt.timedelta(hours=int(hours.min())),
              _EPOCH + dt.timedelta(hours=int(hours.max()))) if len(hours) else None
    return _stage_and_merge(
        conn, "staging_aqi_hourly", HOURLY_FIELDS, converted, MERGE_HOURLY, labels, bounds
    )


def write_aqi_daily(
    conn: Connection, columns: Mapping[str, npt.NDArray[np.generic]], labels: Labels
) -> int:
    """Upsert ``aqi_daily`` rows; returns how many were inserted or changed."""
    converted = dict(columns)
    days = np.asarray(columns["day"], np.int64)
    converted["day"] = days - _PG_EPOCH_DAYS
    bounds = (_EPOCH.date() + dt.timedelta(days=int(days.min())),
              _EPOCH.date() + dt.timedelta(days=int(days.max()))) if len(days) else None
    return _stage_and_merge(
        conn, "staging_aqi_daily", DAILY_FIELDS, converted, MERGE_DAILY, labels, bounds
    )


def _stage_and_merge(
    conn: Connection,
    staging: str,
    fields: Sequence[tuple[str, str, str]],
    columns: Mapping[str, npt.NDArray[np.generic]],
    merge: MergeStatements,
    labels: Labels,
    bounds: tuple[object, object] | None,
) -> int:
    payload = pack_copy_binary(fields, columns)
    if payload is None or bounds is None:
        return 0
    names = ", ".join(name for name, _, _ in fields)
    with conn.cursor() as cur:
        with cur.copy(f"COPY {staging} ({names}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.write(payload)
        params = {**labels.params(), "key_min": bounds[0], "key_max": bounds[1]}
        # Only keys inside the part of the range already stored for these stations can
        # exist: a backfill chunk overlaps the previous one by a day or so, a first
        # backfill not at all (then every row is simply inserted). The caller's station
        # locks keep other writers out meanwhile, so that part cannot grow.
        stored = cur.execute(merge.stored_range, params).fetchone()
        if stored is None or stored[0] is None:
            cur.execute(merge.insert_all, params)
            return cur.rowcount
        key_columns = ", ".join(name for name, _, _ in fields[:3])
        # Row count and key statistics (only these: cheaper) let the planner pick a join.
        cur.execute(f"ANALYZE {staging} ({key_columns})")
        params.update(key_min=stored[0], key_max=stored[1])
        cur.execute(merge.update_changed, params)
        changed = cur.rowcount
        cur.execute(merge.insert_new, params)
        return changed + cur.rowcount


def delete_rows(
    conn: Connection,
    hours: Sequence[tuple[str, dt.datetime]],
    days: Sequence[tuple[str, dt.date]],
) -> int:
    """Delete the ``aqi_hourly`` rows of ``hours`` and ``aqi_daily`` rows of ``days``
    (every standard); returns how many were deleted."""
    deleted = 0
    with conn.cursor() as cur:
        for table, key, keys, cast in (
            ("aqi_hourly", "hour", hours, "timestamptz"),
            ("aqi_daily", "day", days, "date"),
        ):
            if not keys:
                continue
            values = [k for _, k in keys]
            cur.execute(
                f"DELETE FROM {table} AS o USING unnest(%(s)s::text[], %(k)s::{cast}[]) AS g(s, k)"
                f" WHERE o.station_id = g.s AND o.{key} = g.k"
                f" AND o.{key} >= %(lo)s AND o.{key} <= %(hi)s",
                {"s": [s for s, _ in keys], "k": values, "lo": min(values), "hi": max(values)},
            )
            deleted += cur.rowcount
    return deleted


def pack_copy_binary(
    fields: Sequence[tuple[str, str, str]], columns: Mapping[str, npt.NDArray[np.generic]]
) -> bytes | None:
    """PostgreSQL binary COPY data for NOT NULL fixed-width columns (None when no rows).

    Codes are shifted to the 1-based subscripts SQL arrays use (0 stays "none").
    """
    missing = [name for name, _, _ in fields if name not in columns]
    if missing:
        raise ValueError(f"columns missing for COPY: {', '.join(missing)}")
    lengths = {len(columns[name]) for name, _, _ in fields}
    if len(lengths) != 1:
        raise ValueError(f"columns of unequal length: {sorted(lengths)}")
    n_rows = lengths.pop()
    if n_rows == 0:
        return None
    layout: list[tuple[str, str]] = [("count", ">i2")]
    for name, _, kind in fields:
        layout += [(f"len_{name}", ">i4"), (name, kind)]
    record = np.dtype(layout)
    # Every row starts as the same template (field count and lengths), then each column
    # is converted to big-endian in one contiguous pass and copied into its bytes: far
    # fewer strided, unaligned, byte-swapping element writes than filling the record
    # fields one by one.
    template = np.zeros(1, record)
    template["count"] = len(fields)
    for name, _, kind in fields:
        template[f"len_{name}"] = np.dtype(kind).itemsize
    rows = np.empty((n_rows, record.itemsize), np.uint8)
    rows[:] = template.view(np.uint8)
    for name, _, kind in fields:
        values = np.asarray(columns[name])
        if name in ("station", "standard"):
            values = values.astype(np.int64) + 1
        size = np.dtype(kind).itemsize
        offset = record.fields[name][1] if record.fields else 0
        column = np.ascontiguousarray(values, dtype=kind)
        rows[:, offset : offset + size] = column.view(np.uint8).reshape(n_rows, size)
    return _COPY_HEADER + rows.tobytes() + _COPY_TRAILER

