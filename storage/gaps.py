"""The SQL of gap detection: the catalogue's schedule of each station and the
measurement times of its stored readings (the finder itself is :mod:`worker.gaps`).

Measurement times are read per station with one range scan of the primary key
``(station_id, parameter, ts)`` for each parameter and sent packed as 8 bytes each,
parsed by numpy without a Python object per row: a year of 5-minute data of one station
and six parameters (630,720 readings) crosses as ~5 MB in 72 values.
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
    # (since when, interval) from station_report_intervals, oldest first; None: always
    interval_changes: tuple[tuple[dt.datetime | None, int], ...] = ()


STATIONS_SQL = """
SELECT s.station_id, s.name, s.status, s.installed_on, s.retired_on, s.report_interval_s,
       s.parameters,
       coalesce(array_agg(nullif(h.valid_from, '-infinity') ORDER BY h.valid_from)
                FILTER (WHERE h.station_id IS NOT NULL), '{}'),
       coalesce(array_agg(h.report_interval_s ORDER BY h.valid_from)
                FILTER (WHERE h.station_id IS NOT NULL), '{}')
FROM stations s
LEFT JOIN station_report_intervals h ON h.station_id = s.station_id
WHERE %(station)s::text IS NULL OR s.station_id = %(station)s
GROUP BY s.station_id
ORDER BY s.station_id
"""

OBSERVED_PARAMETERS_SQL = """
SELECT DISTINCT parameter FROM readings
WHERE station_id = %(station)s AND ts >= %(start)s AND ts < %(end)s
ORDER BY parameter
"""

# Per parameter, its measurement times packed into one bytea of big-endian int8
# (timestamptz_send: microseconds since 2000): a binary COPY would hand Python one row
# at a time, at a cost per row that dominated the whole command. One plain aggregate per
# parameter over a primary-key range scan: no sort, no grouping. measurement_times asks
# for at most WINDOW at once, so a value stays far below PostgreSQL's 1 GB limit even for
# 1-second data (8 bytes x 31.6 million = 253 MB a year).
TIMES_SQL = """
SELECT p.i - 1, x.n, x.packed
FROM unnest(%(parameters)s::text[]) WITH ORDINALITY AS p(parameter, i)
CROSS JOIN LATERAL (
    SELECT count(*) AS n, coalesce(string_agg(timestamptz_send(r.ts), ''::bytea), ''::bytea)
             AS packed
    FROM readings r
    WHERE r.station_id = %(station)s AND r.parameter = p.parameter
      AND r.ts >= %(start)s AND r.ts < %(end)s
) AS x
"""
WINDOW = dt.timedelta(days=366)


def catalogue_stations(
    conn: psycopg.Connection[Any], station_id: str | None = None
) -> list[CatalogueStation]:
    """Every station of the ``stations`` table (or the one asked for), by id."""
    rows = conn.execute(STATIONS_SQL, {"station": station_id}).fetchall()
    return [
        CatalogueStation(
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            int(r[5]),
            tuple(r[6] or ()),
            tuple(zip(r[7], map(int, r[8]), strict=True)),
        )
        for r in rows
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
    times = []
    index = []
    window_start = start
    while window_start < end:
        window_end = min(end, window_start + WINDOW)
        params = {"station": station_id, "parameters": list(parameters),
                  "start": window_start, "end": window_end}  # fmt: skip
        for i, n, data in conn.execute(TIMES_SQL, params, binary=True).fetchall():
            if not isinstance(data, bytes) or len(data) != 8 * n:
                raise RuntimeError(f"unexpected packed times from readings ({n} rows)")
            times.append(np.frombuffer(data, dtype=">i8").astype(np.int64))
            index.append(np.full(n, i, dtype=np.int64))
        window_start = window_end
    if not times:
        return np.empty(0, "datetime64[us]"), np.empty(0, np.int64)
    us = np.concatenate(times) + PG_EPOCH_US
    return us.astype("datetime64[us]"), np.concatenate(index)
