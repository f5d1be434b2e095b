"""The SQL of gap detection: the catalogue's schedule of each station and the
measurement times of its stored readings (the finder itself is :mod:`worker.gaps`).

Measurement times are read per station with one range scan of the primary key
``(station_id, parameter, ts)`` for each parameter and sent as a binary COPY of two
``int8`` columns, parsed by numpy without a Python object per row: a year of 5-minute
data of one station and six parameters (630,720 readings) crosses as ~16 MB.
Only the columns ``aqm_reader`` may read are used, so Grafana's role can run it too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import psycopg

PG_EPOCH_US = 946_684_800_000_000
"""2000-01-01 00:00 UTC (PostgreSQL's binary timestamptz origin) in Unix microseconds."""

_COPY_HEADER = 19  # signature (11), flags (4), header extension length (4)
_COPY_TRAILER = 2  # field count -1
_COPY_ROW = np.dtype([
    ("nfields", ">i2"), ("len_i", ">i4"), ("i", ">i8"), ("len_ts", ">i4"), ("ts", ">i8"),
])  # fmt: skip


@dataclass(frozen=True)
class CatalogueStation:
    """What the catalogue says about when and what a station reports."""

    station_id: str
    name: str
    status: str
    installed_on: dt.date | None
    retired_on: dt.date | None
    report_interval_s: int
    parameters: tuple[str, ...]


STATIONS_SQL = """
SELECT station_id, name, status, installed_on, retired_on, report_interval_s, parameters
FROM stations
WHERE %(station)s::text IS NULL OR station_id = %(station)s
ORDER BY station_id
"""

OBSERVED_PARAMETERS_SQL = """
SELECT DISTINCT parameter FROM readings
WHERE station_id = %(station)s AND ts >= %(start)s AND ts < %(end)s
ORDER BY parameter
"""

# The ordinal of the parameter and the time; a nested loop over the few parameters
# probes the primary key of each chunk the literal time range keeps (COPY binds on the
# client, so chunk exclusion happens when the plan is made).
TIMES_COPY = """
COPY (
    SELECT p.i - 1, r.ts
    FROM unnest(%(parameters)s::text[]) WITH ORDINALITY AS p(parameter, i)
    JOIN readings r ON r.station_id = %(station)s AND r.parameter = p.parameter
    WHERE r.ts >= %(start)s AND r.ts < %(end)s
) TO STDOUT (FORMAT binary)
"""


def catalogue_stations(
    conn: psycopg.Connection[Any], station_id: str | None = None
) -> list[CatalogueStation]:
    """Every station of the ``stations`` table (or the one asked for), by id."""
    rows = conn.execute(STATIONS_SQL, {"station": station_id}).fetchall()
    return [
        CatalogueStation(r[0], r[1], r[2], r[3], r[4], int(r[5]), tuple(r[6] or ())) for r in rows
    ]


def observed_parameters(
    conn: psycopg.Connection[Any], station_id: str, start: dt.datetime, end: dt.datetime
) -> tuple[str, ...]:
    """Parameters with readings in ``[start, end)``: the fallback for a station row
    whose ``parameters`` list is empty (the catalogue itself requires one)."""
    rows = conn.execute(
        OBSERVED_PARAMETERS_SQL, {"station": station_id, "start": start, "end": end}
    ).fetchall()
    return tuple(str(r[0]) for r in rows)


def measurement_times(
    conn: psycopg.Connection[Any],
    station_id: str,
    parameters: Sequence[str],
    start: dt.datetime,
    end: dt.datetime,
) -> tuple[npt.NDArray[np.datetime64], npt.NDArray[np.int64]]:
    """Measurement times of the station's stored readings of ``parameters`` in
    ``[start, end)`` (any status) and each one's position in ``parameters``."""
    buffer = bytearray()
    params = {"station": station_id, "parameters": list(parameters), "start": start, "end": end}
    with conn.cursor() as cur, cur.copy(TIMES_COPY, params) as copy:
        for block in copy:
            buffer += block
    n_rows, rest = divmod(len(buffer) - _COPY_HEADER - _COPY_TRAILER, _COPY_ROW.itemsize)
    if rest or n_rows < 0:
        raise RuntimeError(f"unexpected COPY output from readings ({len(buffer)} bytes)")
    rows = np.frombuffer(buffer, dtype=_COPY_ROW, count=n_rows, offset=_COPY_HEADER)
    if n_rows and not (
        (rows["nfields"] == 2).all() and (rows["len_i"] == 8).all() and (rows["len_ts"] == 8).all()
    ):
        raise RuntimeError("unexpected row layout in the binary COPY of readings")
    times = (rows["ts"].astype(np.int64) + PG_EPOCH_US).astype("datetime64[us]")
    return times, rows["i"].astype(np.int64)
