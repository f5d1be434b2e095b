"""Everything the annual report reads from the database: the one room with its SQL.

It needs only what the ``aqm_reader`` role may see (SELECT on stations, hourly,
aqi_daily) and reads in one read-only REPEATABLE READ transaction, so every table of a
report comes from the same snapshot. Reads are set-based: one query for the registry,
one query for a year of valid hourly means of every station and parameter (one packed
series per station and parameter), one query for a year of daily VN_AQI — never a query
per station or per day.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import psycopg
from psycopg import IsolationLevel

from reports.annual.statistics import HOURS_PER_DAY, FloatArray
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
def snapshot(url: str) -> Iterator[Connection]:
    """A read-only connection whose queries all see one snapshot of the database."""
    with psycopg.connect(url) as conn:
        conn.isolation_level = IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        with conn.transaction():
            yield conn


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

_HOURLY_SERIES: Final = """
SELECT s.i - 1, p.i - 1,
       string_agg(int4send(((extract(epoch FROM h.hour)::int8 - %(t0)s) / 3600)::int4)
                  || float8send(h.mean), ''::bytea)
FROM hourly h
JOIN unnest(%(stations)s::text[]) WITH ORDINALITY AS s(station_id, i)
    ON s.station_id = h.station_id
JOIN unnest(%(params)s::text[]) WITH ORDINALITY AS p(parameter, i)
    ON p.parameter = h.parameter
WHERE h.hour >= %(start)s AND h.hour < %(end)s AND h.valid AND h.mean IS NOT NULL
GROUP BY s.i, p.i
"""


def _read_hourly(
    conn: Connection,
    station_ids: Sequence[str],
    parameters: Sequence[str],
    start_utc: datetime,
    n_hours: int,
) -> FloatArray:
    grid = np.full((len(station_ids), len(parameters), n_hours), np.nan)
    with conn.cursor(binary=True) as cur:
        cur.execute(_HOURLY_SERIES, {
            "t0": int(start_utc.timestamp()), "stations": list(station_ids),
            "params": list(parameters), "start": start_utc,
            "end": start_utc + timedelta(hours=n_hours),
        })  # fmt: skip
        for s, p, packed in cur:
            assert isinstance(packed, bytes | bytearray | memoryview)
            if len(packed) % _RECORD.itemsize:
                raise RuntimeError(f"unexpected series layout from hourly ({len(packed)} bytes)")
            records = np.frombuffer(packed, dtype=_RECORD)
            grid[int(s), int(p), records["hour"].astype(np.int64)] = records["mean"]  # type: ignore[call-overload]
    return grid


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


def provisional_included(
    conn: Connection, year: int, station_ids: Sequence[str], parameters: Sequence[str],
    timezone: str,
) -> bool:
    """Whether any valid hourly mean the report reads for ``year`` is still provisional."""
    start_utc, days = local_year(year, timezone)
    row = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM hourly WHERE hour >= %s AND hour < %s"
        " AND station_id = ANY(%s) AND parameter = ANY(%s) AND valid AND mean IS NOT NULL"
        " AND data_level = 'provisional')",
        (start_utc, start_utc + timedelta(days=len(days)), list(station_ids), list(parameters)),
    ).fetchone()
    return bool(row and row[0])
