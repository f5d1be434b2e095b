"""One recomputation, in one transaction: hourly means, then the hourly and daily AQI.

Two ways in, one way through:

* :func:`process_dirty_batch` (``aqm worker``) claims queued station-hours;
* :func:`recompute_days` (``aqm aqi backfill``) takes every station-hour with readings in
  a range of local days.

Both lock the stations concerned, recompute ``hourly`` from the readings of the changed
hours (in SQL), plan the affected hours and days (:mod:`worker.plan`), read the valid
hourly means those need, compute the indices (:mod:`worker.indices`) and upsert
``aqi_hourly`` and ``aqi_daily`` — all before the single commit, so a crash or a
SIGKILL leaves the queue and the tables as they were.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import psycopg

from aqi import POLLUTANTS
from storage import aqi_tables, dirty_queue, hourly
from worker.indices import compute_indices, labels
from worker.matrices import pollutant_matrices
from worker.plan import WorkPlan, plan_work
from worker.timeline import LocalCalendar, datetime_of_hour, hour_number

Connection = psycopg.Connection[tuple[object, ...]]


@dataclass
class Timings:
    """Seconds spent per phase (accumulated over batches)."""

    hourly: float = 0.0  # claim, locks, hourly means from readings (SQL)
    read: float = 0.0  # valid hourly means of the windows
    compute: float = 0.0  # plan, matrices, engine, flattening
    write: float = 0.0  # COPY + upsert of aqi_hourly and aqi_daily

    @property
    def total(self) -> float:
        return self.hourly + self.read + self.compute + self.write

    def add(self, other: Timings) -> None:
        self.hourly += other.hourly
        self.read += other.read
        self.compute += other.compute
        self.write += other.write


@dataclass
class BatchReport:
    """What one transaction did."""

    dirty_rows: int = 0  # queue rows claimed (duplicates included)
    changed_hours: int = 0  # distinct station-hours whose hourly means were recomputed
    stations: int = 0
    station_hours: int = 0  # hours whose AQI was computed (per standard)
    station_days: int = 0  # days whose AQI was computed (per standard)
    rows_written: int = 0  # rows inserted or changed in hourly, aqi_hourly, aqi_daily
    timings: Timings = field(default_factory=Timings)

    def add(self, other: BatchReport) -> None:
        self.dirty_rows += other.dirty_rows
        self.changed_hours += other.changed_hours
        self.stations = max(self.stations, other.stations)
        self.station_hours += other.station_hours
        self.station_days += other.station_days
        self.rows_written += other.rows_written
        self.timings.add(other.timings)

    def describe(self) -> str:
        t = self.timings
        return (
            f"computed {self.station_hours} station-hours, {self.station_days} station-days "
            f"({self.changed_hours} changed station-hours, {self.stations} stations, "
            f"{self.rows_written} rows written) in {t.total:.2f} s "
            f"(hourly means {t.hourly:.2f}, read {t.read:.2f}, compute {t.compute:.2f}, "
            f"write {t.write:.2f})"
        )


def prepare(conn: Connection) -> None:
    """Create the connection's temporary work tables (once per connection is enough)."""
    with conn.transaction():
        hourly.prepare(conn)
        aqi_tables.prepare(conn)


def process_dirty_batch(
    conn: Connection,
    *,
    limit: int,
    min_completeness: float,
    calendar: LocalCalendar,
    now: dt.datetime | None = None,
) -> BatchReport | None:
    """Claim up to ``limit`` queued station-hours and recompute them; None if none queued.

    ``conn`` must be in autocommit mode (the transaction is opened here) and prepared
    with :func:`prepare`.
    """
    report = BatchReport()
    started = time.perf_counter()
    with conn.transaction():
        claimed = dirty_queue.claim_dirty_hours(conn, limit)
        if not claimed:
            return None
        changed = sorted(set(claimed))  # duplicates across ingest batches coalesce here
        stations = sorted({station for station, _ in changed})
        dirty_queue.lock_stations(conn, stations)
        report.rows_written += hourly.upsert_hourly_for_dirty_hours(conn, changed, min_completeness)
        code = {station: i for i, station in enumerate(stations)}
        station_index = np.array([code[s] for s, _ in changed], np.int64)
        hours = np.array([hour_number(h) for _, h in changed], np.int64)
        report.dirty_rows = len(claimed)
        report.timings.hourly = time.perf_counter() - started
        _recompute(conn, stations, station_index, hours, calendar, now, report)
    return report


def recompute_days(
    conn: Connection,
    stations: Sequence[str],
    first_day: dt.date,
    last_day: dt.date,
    *,
    min_completeness: float,
    calendar: LocalCalendar,
    now: dt.datetime | None = None,
    indices_only: bool = False,
) -> BatchReport:
    """Recompute every station-hour of ``stations`` with readings in ``first_day…last_day``.

    Call inside a transaction. Hours and days that depend on the range (the 11 hours
    after it, the neighbouring days) are recomputed as for late data. With
    ``indices_only`` the stored hourly means are taken as they are (after a change of
    AQI method, say) and only ``aqi_hourly`` and ``aqi_daily`` are recomputed.
    """
    report = BatchReport()
    started = time.perf_counter()
    t_min = calendar.day_start(first_day)
    t_max = calendar.day_start(last_day + dt.timedelta(days=1))
    dirty_queue.lock_stations(conn, list(stations))
    if indices_only:
        station_index, hours = hourly.stored_station_hours(conn, stations, t_min, t_max)
    else:
        report.rows_written += hourly.upsert_hourly_for_range(
            conn, t_min, t_max, min_completeness, stations
        )
        station_index, hours = hourly.aggregated_station_hours(conn, stations)
    report.timings.hourly = time.perf_counter() - started
    _recompute(conn, list(stations), station_index, hours, calendar, now, report)
    return report


def _recompute(
    conn: Connection,
    stations: list[str],
    station_index: npt.ArrayLike,
    hours: npt.ArrayLike,
    calendar: LocalCalendar,
    now: dt.datetime | None,
    report: BatchReport,
) -> None:
    started = time.perf_counter()
    now_hour = hour_number(now or dt.datetime.now(dt.UTC))
    plan = plan_work(station_index, hours, calendar, now_hour)
    report.changed_hours = int(np.size(hours))
    report.stations = len(np.unique(np.asarray(station_index)))
    report.timings.compute += time.perf_counter() - started
    if plan.n_rows == 0:
        return

    started = time.perf_counter()
    matrices = _read_matrices(conn, plan, stations)
    report.timings.read = time.perf_counter() - started

    started = time.perf_counter()
    computed = compute_indices(plan, matrices)
    report.station_hours = plan.n_station_hours
    report.station_days = plan.n_station_days
    report.timings.compute += time.perf_counter() - started

    started = time.perf_counter()
    names = labels(stations)
    report.rows_written += aqi_tables.write_aqi_hourly(conn, computed.hourly, names)
    report.rows_written += aqi_tables.write_aqi_daily(conn, computed.daily, names)
    report.timings.write = time.perf_counter() - started


def _read_matrices(
    conn: Connection, plan: WorkPlan, stations: list[str]
) -> dict[str, npt.NDArray[np.float64]]:
    t0, t1 = plan.row_windows()
    windows = [
        (row, stations[int(s)], datetime_of_hour(int(a)), datetime_of_hour(int(b)))
        for row, (s, a, b) in enumerate(zip(plan.row_station, t0, t1, strict=True))
    ]
    row_index, column, parameter, mean = hourly.read_hourly_windows(conn, windows, POLLUTANTS)
    return pollutant_matrices(plan, row_index, column, parameter, mean, POLLUTANTS)
