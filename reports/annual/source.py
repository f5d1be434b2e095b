"""Everything the annual report reads from the database: the one room with its SQL.

It needs only what the ``aqm_reader`` role may see (SELECT on stations, hourly,
aqi_daily) and reads in read-only REPEATABLE READ transactions that share one snapshot
(:func:`snapshot`, :func:`same_snapshot`), so every table of a report comes from the
same state of the database. Reads are set-based: one query for the registry, one query
for a year of hourly rows of every station and parameter (one packed series per station
and parameter), one query for a year of daily VN_AQI — never a query per station or per
day. The report year's hourly rows are read once (:func:`scan_year`): the valid means,
the data levels and the QA/QC counts all come from that one pass.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import psycopg
from psycopg import IsolationLevel, sql

from reports.annual.statistics import HOURS_PER_DAY, BoolArray, FloatArray, IntArray
from stations.eligibility import ClassPeriod, class_periods_from_json, publishable_days

log = logging.getLogger(__name__)

VN_STANDARD: Final = "vn_1459_2019"
"""``aqi_daily.standard`` of VN_AQI (Decision 1459/QĐ-TCMT)."""

Connection = psycopg.Connection[tuple[object, ...]]


@dataclass(frozen=True)
class StationRecord:
    """A station as the registry (``stations``) describes it."""

    station_id: str
    name: str
    ward: str | None
    district: str | None
    station_type: str
    status: str
    installed_on: date | None
    retired_on: date | None
    parameters: tuple[str, ...]
    public_aqi: bool = False
    classes: tuple[ClassPeriod, ...] = ()
    """Class history (``stations.classes``), oldest first."""
    pm25_correction: str | None = None

    def publishable(self, days: Sequence[date]) -> npt.NDArray[np.bool_]:
        """Per day: may the station's AQI be published (stations/eligibility.py)?"""
        return publishable_days(days, self.station_type, self.public_aqi, self.parameters,
                                self.classes)

    def active_on(self, day: date) -> bool:
        """Whether the station existed on ``day`` per installed_on / retired_on."""
        if self.installed_on is not None and day < self.installed_on:
            return False
        return self.retired_on is None or day <= self.retired_on


@dataclass(frozen=True)
class YearData:
    """A local year of valid hourly means and daily VN_AQI for some stations.

    Attributes
    ----------
    year : int
    start_utc : datetime
        00:00 local time on 1 January, in UTC (grid hour 0).
    days : tuple of date
        The local days of the year (grid day d).
    station_ids, parameters : tuple of str
        Axes 0 and 1 of ``hourly``; axis 0 of ``aqi``.
    hourly : ndarray (stations, parameters, 24 * days)
        Valid hourly means (``hourly.valid``), µg/m³; NaN for hours without one.
    aqi : ndarray (stations, days)
        Daily VN_AQI (``aqi_daily.aqi``); NaN where there is none.
    dominant : ndarray of object (stations, days)
        Dominant pollutant key of the day, or None.
    """

    year: int
    start_utc: datetime
    days: tuple[date, ...]
    station_ids: tuple[str, ...]
    parameters: tuple[str, ...]
    hourly: FloatArray
    aqi: FloatArray
    dominant: npt.NDArray[np.object_]

    @property
    def has_data(self) -> bool:
        return bool((~np.isnan(self.hourly)).any() or (~np.isnan(self.aqi)).any())


def local_year(year: int, timezone: str) -> tuple[datetime, tuple[date, ...]]:
    """Start (UTC) and local days of ``year``; the grid needs days of exactly 24 hours."""
    zone = ZoneInfo(timezone)
    first = date(year, 1, 1)
    n_days = (date(year + 1, 1, 1) - first).days
    start = datetime(year, 1, 1, tzinfo=zone)
    offsets = {(start + timedelta(days=i)).utcoffset() for i in range(n_days + 1)}
    if len(offsets) != 1:
        raise ValueError(
            f"timezone {timezone!r} changes its UTC offset in {year}; the annual report "
            "assumes local days of 24 hours"
        )
    days = tuple(first + timedelta(days=i) for i in range(n_days))
    return start.astimezone(UTC), days


@contextmanager
def snapshot(url: str, snapshot_id: str | None = None) -> Iterator[Connection]:
    """A read-only connection whose queries all see one snapshot of the database: its
    own, or the one exported as ``snapshot_id`` (:func:`export_snapshot`)."""
    with psycopg.connect(url) as conn:
        conn.isolation_level = IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        with conn.transaction():
            if snapshot_id is not None:
                conn.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(
                    sql.Literal(snapshot_id)))  # fmt: skip
            # A report's queries each run once over a year of rows: compiling them
            # (JIT) costs more than it saves.
            conn.execute("SET LOCAL jit = off")
            yield conn


def export_snapshot(conn: Connection) -> str:
    """The id under which other connections may read ``conn``'s snapshot."""
    row = conn.execute("SELECT pg_export_snapshot()").fetchone()
    assert row is not None
    return str(row[0])


def read_stations(conn: Connection) -> list[StationRecord]:
    """Every station of the registry, ordered by name then id."""
    rows = conn.execute(
        "SELECT station_id, name, ward, district, station_type, status, installed_on,"
        " retired_on, parameters, public_aqi, classes, pm25_correction"
        " FROM stations ORDER BY name, station_id"
    ).fetchall()
    return [
        StationRecord(
            station_id=str(r[0]), name=str(r[1]),
            ward=None if r[2] is None else str(r[2]),
            district=None if r[3] is None else str(r[3]),
            station_type=str(r[4]), status=str(r[5]),
            installed_on=r[6] if isinstance(r[6], date) else None,
            retired_on=r[7] if isinstance(r[7], date) else None,
            parameters=tuple(str(p) for p in r[8]) if isinstance(r[8], list) else (),
            public_aqi=bool(r[9]), classes=class_periods_from_json(r[10]),
            pm25_correction=None if r[11] is None else str(r[11]),
        )
        for r in rows
    ]  # fmt: skip


# The server packs each station-parameter series into one bytea of big-endian
# (int4 hour index, float8 mean) records, so a year of 100 stations arrives as a few
# hundred rows that numpy reads in place. One message per hourly row (as a COPY sends
# them) costs the client about 10 µs each, most of the report's time budget.
_RECORD: Final = np.dtype([("hour", ">i4"), ("mean", ">f8")])

# Stations and parameters are picked with = ANY and grouped by their keys: joining the
# rows to numbered key lists costs two hash probes per row, a third of the query.
_HOURLY_SERIES: Final = """
SELECT station_id, parameter,
       string_agg(int4send(((extract(epoch FROM hour)::int8 - %(t0)s) / 3600)::int4)
                  || float8send(mean), ''::bytea)
FROM hourly
WHERE hour >= %(start)s AND hour < %(end)s AND station_id = ANY(%(stations)s)
  AND parameter = ANY(%(params)s) AND valid AND mean IS NOT NULL
GROUP BY station_id, parameter
"""


PARTS_PER_YEAR: Final = 4
"""A year of hourly rows is read in this many statements of whole days each: one
statement over a whole year can outlast the reader's statement timeout (a minute) on a
busy server."""


def _parts(start_utc: datetime, n_hours: int) -> list[tuple[datetime, datetime]]:
    """[start, end) of each part of the ``n_hours`` from ``start_utc``, in whole days."""
    n_days = n_hours // HOURS_PER_DAY
    cuts = [round(n_days * k / PARTS_PER_YEAR) * HOURS_PER_DAY for k in range(PARTS_PER_YEAR)]
    ends = [*cuts[1:], n_hours]
    return [(start_utc + timedelta(hours=a), start_utc + timedelta(hours=b))
            for a, b in zip(cuts, ends, strict=True) if b > a]  # fmt: skip


def _records(packed: object) -> npt.NDArray[np.void]:
    assert isinstance(packed, bytes | bytearray | memoryview)
    if len(packed) % _RECORD.itemsize:
        raise RuntimeError(f"unexpected series layout from hourly ({len(packed)} bytes)")
    return np.frombuffer(packed, dtype=_RECORD)


def _read_hourly(
    conn: Connection,
    station_ids: Sequence[str],
    parameters: Sequence[str],
    start_utc: datetime,
    n_hours: int,
) -> FloatArray:
    grid = np.full((len(station_ids), len(parameters), n_hours), np.nan)
    station_index = {s: i for i, s in enumerate(station_ids)}
    index = {p: i for i, p in enumerate(parameters)}
    for start, end in _parts(start_utc, n_hours):
        with conn.cursor(binary=True) as cur:
            cur.execute(_HOURLY_SERIES, {
                "t0": int(start_utc.timestamp()), "stations": list(station_ids),
                "params": list(parameters), "start": start, "end": end,
            })  # fmt: skip
            for station_id, parameter, packed in cur:
                records = _records(packed)
                s, p = station_index[str(station_id)], index[str(parameter)]
                grid[s, p, records["hour"].astype(np.int64)] = records["mean"]
    return grid


# One pass over a year's hourly rows of every parameter: per station and parameter the
# rows packed as above, the hour index carrying two flags in its low bits (verified data
# level; valid with a mean), the mean NaN where there is none, and the QA/QC counts summed.
_VERIFIED_BIT: Final = 2
_VALID_BIT: Final = 1
_FLAG_BITS: Final = 2

_YEAR_SCAN: Final = """
SELECT station_id, parameter,
       string_agg(int4send(((((extract(epoch FROM hour)::int8 - %(t0)s) / 3600)::int4) << 2)
                           | ((data_level = 'verified')::int4 << 1)
                           | (valid AND mean IS NOT NULL)::int4)
                  || float8send(coalesce(mean, 'NaN')), ''::bytea),
       {sums}
FROM hourly
WHERE hour >= %(start)s AND hour < %(end)s AND station_id = ANY(%(stations)s)
GROUP BY station_id, parameter
"""


@dataclass(frozen=True)
class HourlyRows:
    """What a year's hourly rows say beyond the valid means, per station (axis 0 in the
    order of the ``station_ids`` read)."""

    with_rows: BoolArray
    """(stations, hours): the station-hour has a row of some parameter."""
    verified: BoolArray
    """(stations, hours): some row of the station-hour is at data level verified."""
    sums: dict[str, IntArray]
    """Per summed column of ``hourly``: its sum over each station's rows of the year."""
    provisional_means: set[str]
    """Parameters with a valid mean of the year still at data level provisional."""


def scan_year(
    conn: Connection,
    year: int,
    station_ids: Sequence[str],
    parameters: Sequence[str],
    timezone: str,
    sum_columns: Sequence[str],
) -> tuple[YearData, HourlyRows]:
    """Valid hourly means of ``parameters`` and daily VN_AQI of ``year`` (as
    :func:`read_year`), and from the same rows, of every parameter, the station-hours
    with data and verified data and the sums of ``sum_columns``."""
    start_utc, days = local_year(year, timezone)
    n_hours = len(days) * HOURS_PER_DAY
    index = {p: i for i, p in enumerate(parameters)}
    station_index = {s: i for i, s in enumerate(station_ids)}
    grid = np.full((len(station_ids), len(parameters), n_hours), np.nan)
    with_rows = np.zeros((len(station_ids), n_hours), dtype=bool)
    verified = np.zeros((len(station_ids), n_hours), dtype=bool)
    sums = {c: np.zeros(len(station_ids), dtype=np.int64) for c in sum_columns}
    provisional: set[str] = set()
    query = sql.SQL(_YEAR_SCAN).format(sums=sql.SQL(", ").join(
        sql.SQL("sum({})").format(sql.Identifier(c)) for c in sum_columns
    ))  # fmt: skip
    for start, end in _parts(start_utc, n_hours):
        with conn.cursor(binary=True) as cur:
            cur.execute(query, {
                "t0": int(start_utc.timestamp()), "stations": list(station_ids),
                "start": start, "end": end,
            })  # fmt: skip
            for station_id, parameter, packed, *column_sums in cur:
                s = station_index[str(station_id)]
                records = _records(packed)
                coded = records["hour"].astype(np.int64)
                hours = coded >> _FLAG_BITS
                with_rows[s, hours] = True
                verified[s, hours[(coded & _VERIFIED_BIT) != 0]] = True
                for column, total in zip(sum_columns, column_sums, strict=True):
                    sums[column][s] += int(total)  # type: ignore[call-overload]
                p = index.get(str(parameter))
                valid = (coded & _VALID_BIT) != 0
                if p is not None:
                    grid[s, p, hours[valid]] = records["mean"][valid]
                    if (valid & ((coded & _VERIFIED_BIT) == 0)).any():
                        provisional.add(str(parameter))
    aqi, dominant = _read_daily_aqi(conn, station_ids, days)
    data = YearData(
        year=year, start_utc=start_utc, days=days, station_ids=tuple(station_ids),
        parameters=tuple(parameters), hourly=grid, aqi=aqi, dominant=dominant,
    )  # fmt: skip
    return data, HourlyRows(with_rows, verified, sums, provisional)


def select_parameters(data: YearData, parameters: Sequence[str]) -> YearData:
    """``data`` with only the hourly means of ``parameters`` (all read in ``data``)."""
    picked = [data.parameters.index(p) for p in parameters]
    return replace(data, parameters=tuple(parameters), hourly=data.hourly[:, picked])


def _read_daily_aqi(
    conn: Connection, station_ids: Sequence[str], days: Sequence[date]
) -> tuple[FloatArray, npt.NDArray[np.object_]]:
    aqi = np.full((len(station_ids), len(days)), np.nan)
    dominant = np.full((len(station_ids), len(days)), None, dtype=object)
    rows = conn.execute(
        "SELECT s.i - 1, d.day - %(first)s::date, d.aqi, d.dominant"
        " FROM aqi_daily d"
        " JOIN unnest(%(stations)s::text[]) WITH ORDINALITY AS s(station_id, i)"
        "   ON s.station_id = d.station_id"
        " WHERE d.standard = %(standard)s AND d.day BETWEEN %(first)s AND %(last)s"
        "   AND d.aqi IS NOT NULL",
        {"first": days[0], "last": days[-1], "stations": list(station_ids),
         "standard": VN_STANDARD},
    ).fetchall()  # fmt: skip
    for s, d, value, dom in rows:
        aqi[int(s), int(d)] = float(value)  # type: ignore[call-overload, arg-type]
        dominant[int(s), int(d)] = dom  # type: ignore[call-overload]
    return aqi, dominant


def read_year(
    conn: Connection,
    year: int,
    station_ids: Sequence[str],
    parameters: Sequence[str],
    timezone: str,
) -> YearData:
    """Valid hourly means and daily VN_AQI of ``year`` (local) for the given stations."""
    start_utc, days = local_year(year, timezone)
    n_hours = len(days) * HOURS_PER_DAY
    hourly = _read_hourly(conn, station_ids, parameters, start_utc, n_hours)
    aqi, dominant = _read_daily_aqi(conn, station_ids, days)
    log.info(
        "read %d valid hourly means and %d daily AQI values of %d for %d stations",
        int(np.count_nonzero(~np.isnan(hourly))), int(np.count_nonzero(~np.isnan(aqi))),
        year, len(station_ids),
    )
    return YearData(
        year=year, start_utc=start_utc, days=days, station_ids=tuple(station_ids),
        parameters=tuple(parameters), hourly=hourly, aqi=aqi, dominant=dominant,
    )  # fmt: skip


def year_has_rows(conn: Connection, year: int, timezone: str) -> tuple[bool, bool]:
    """Whether ``hourly`` and ``aqi_daily`` (VN) hold any row for the local ``year``."""
    start_utc, days = local_year(year, timezone)
    end_utc = start_utc + timedelta(days=len(days))
    row = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM hourly WHERE hour >= %s AND hour < %s),"
        " EXISTS (SELECT 1 FROM aqi_daily WHERE standard = %s AND day BETWEEN %s AND %s)",
        (start_utc, end_utc, VN_STANDARD, days[0], days[-1]),
    ).fetchone()
    return (bool(row[0]), bool(row[1])) if row else (False, False)
