"""One recomputation, in one transaction: hourly means, then the hourly and daily AQI.

Two ways in, one way through:

* :func:`process_dirty_batch` (``aqm worker``) claims queued station-hours;
* :func:`recompute_days` (``aqm aqi backfill``) takes every station-hour with readings in
  a range of local days.

Both lock the stations concerned, read the readings of the changed hours (and of the
hours around them whose automatic QA/QC flags they can change), flag them
(:mod:`qaqc.rules`), recompute ``hourly`` and ``qc_flags`` from them and recount their
stored sample slots (:mod:`storage.reading_slots`)
(:mod:`worker.screening`), plan the affected hours and days (:mod:`worker.plan`), read the valid
hourly means those need, compute the indices (:mod:`worker.indices`) and upsert
``aqi_hourly`` and ``aqi_daily`` — all before the single commit, so a crash or a
SIGKILL leaves the queue and the tables as they were.
"""

from __future__ import annotations

import datetime as dt
import functools
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import psycopg

from aqi import POLLUTANTS
from aqm_core.settings import Settings
from opendata import pending as opendata_pending
from qaqc.rules import (
    MANUAL,
    RULES_FILE,
    US_PER_HOUR,
    RuleSet,
    evaluate,
    load_rules,
    range_bounds,
)
from storage import aqi_tables, dirty_queue, hourly, qc, reading_slots
from worker.indices import compute_indices, labels
from worker.matrices import pollutant_matrices
from worker.plan import DAY_REACH_BACK, NOWCAST_REACH, WorkPlan, plan_work
from worker.screening import (
    LEVEL_PROVISIONAL,
    LEVEL_VERIFIED,
    Period,
    hourly_means,
    manual_mask,
    verified_mask,
)
from worker.timeline import LocalCalendar, datetime_of_hour, hour_number

Connection = psycopg.Connection[tuple[object, ...]]


@dataclass
class Timings:
    """Seconds spent per phase (accumulated over batches)."""

    hourly: float = 0.0  # claim, locks, readings, QA/QC flags, hourly means
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


def default_rules() -> RuleSet:
    """The rules of ``qaqc/rules.toml`` (read once per process)."""
    return _rules_at(RULES_FILE)


def rules_of(settings: Settings) -> RuleSet:
    """The rules of ``AQM_QC_RULES_FILE`` (read once per process and file)."""
    return _rules_at(settings.qc_rules_file)


@functools.cache
def _rules_at(path: Path) -> RuleSet:
    return load_rules(path)


def process_dirty_batch(
    conn: Connection,
    *,
    limit: int,
    min_completeness: float,
    calendar: LocalCalendar,
    now: dt.datetime | None = None,
    rules: RuleSet | None = None,
) -> BatchReport | None:
    """Claim up to ``limit`` queued station-hours and recompute them; None if none queued.

    ``conn`` must be in autocommit mode (the transaction is opened here) and prepared
    with :func:`prepare`.
    """
    rules = rules or default_rules()
    report = BatchReport()
    started = time.perf_counter()
    with conn.transaction():
        claimed = dirty_queue.claim_dirty_hours(conn, limit)
        if not claimed:
            return None
        changed = sorted(set(claimed))  # duplicates across ingest batches coalesce here
        stations = sorted({station for station, _ in changed})
        dirty_queue.lock_stations(conn, stations)
        # Recounted from what is stored, so redelivered and late readings count once.
        reading_slots.recount(conn, changed)
        code = {station: i for i, station in enumerate(stations)}
        station_index = np.array([code[s] for s, _ in changed], np.int64)
        hours = np.array([hour_number(h) for _, h in changed], np.int64)
        # A changed hour can change the flags of the hours around it (flat-line runs,
        # spike neighbours): those are rewritten too, from readings with as much
        # context again on either side.
        reach = rules.context_hours()
        write_st, write_h = _around(station_index, hours, reach)
        read_st, read_h = _around(station_index, hours, 2 * reach)
        written, staged = _screen(
            conn, rules, stations, min_completeness,
            hourly.read_readings_hours(conn, stations, qc.parameter_names(conn),
                                       _pairs(stations, read_st, read_h)),
            keep_keys=_pack(write_st, write_h),
            write_hours=_pairs(stations, write_st, write_h),
            t_min=datetime_of_hour(int(write_h.min())),
            t_max=datetime_of_hour(int(write_h.max()) + 1),
        )  # fmt: skip
        report.rows_written += written
        report.dirty_rows = len(claimed)
        report.timings.hourly = time.perf_counter() - started
        # The claimed hours, and those around them whose means the flags changed.
        vanished = hourly.vanished_station_hours(conn, stations)
        rewritten = hourly.vanished_station_hours(conn, stations, changed=True)
        plan_st = np.concatenate([station_index, rewritten[0], vanished[0]])
        plan_h = np.concatenate([hours, rewritten[1], vanished[1]])
        _recompute(conn, stations, plan_st, plan_h, calendar, now, report)
        report.changed_hours = len(changed)
        # Claimed hours with no mean (an invalidated period, a new hour of a silent
        # station) and vanished means may leave AQI rows no reading reaches any more.
        has_mean = np.isin(_pack(station_index, hours), _pack(*staged))
        report.rows_written += _drop_unreached(
            conn, stations,
            np.concatenate([station_index[~has_mean], vanished[0]]),
            np.concatenate([hours[~has_mean], vanished[1]]), calendar,
        )  # fmt: skip
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
    rules: RuleSet | None = None,
) -> BatchReport:
    """Recompute every station-hour of ``stations`` with readings in ``first_day…last_day``.

    Call inside a transaction. Hours and days that depend on the range (the 11 hours
    after it, the neighbouring days) are recomputed as for late data. With
    ``indices_only`` the stored hourly means are taken as they are (after a change of
    AQI method, say) and only ``aqi_hourly`` and ``aqi_daily`` are recomputed.
    Automatic flags are re-evaluated with ``rules`` (default ``qaqc/rules.toml``)
    inside the range, reading the hours around it for context.
    """
    rules = rules or default_rules()
    report = BatchReport()
    started = time.perf_counter()
    t_min = calendar.day_start(first_day)
    t_max = calendar.day_start(last_day + dt.timedelta(days=1))
    station_list = list(stations)
    dirty_queue.lock_stations(conn, station_list)
    vanished: tuple[npt.NDArray[np.int32], npt.NDArray[np.int64]] | None = None
    if indices_only:
        station_index, hours = hourly.stored_station_hours(conn, stations, t_min, t_max)
    else:
        # The range's readings can fill slots up to the hour that begins at its end.
        reading_slots.recount_range(conn, station_list, t_min, t_max)
        context = dt.timedelta(hours=rules.context_hours())
        readings = hourly.read_readings_range(
            conn, station_list, qc.parameter_names(conn), t_min - context, t_max + context
        )
        lo, hi = _us(t_min), _us(t_max)
        written, _ = _screen(
            conn, rules, station_list, min_completeness, readings,
            keep=(readings.ts_us >= lo) & (readings.ts_us < hi), t_min=t_min, t_max=t_max,
        )  # fmt: skip
        report.rows_written += written
        station_index, hours = hourly.aggregated_station_hours(conn, stations)
        vanished = hourly.vanished_station_hours(conn, station_list)
        if len(vanished[0]):
            station_index = np.concatenate([station_index, vanished[0]])
            hours = np.concatenate([hours, vanished[1]])
    report.timings.hourly = time.perf_counter() - started
    _recompute(conn, station_list, station_index, hours, calendar, now, report)
    if vanished is not None and len(vanished[0]):
        report.rows_written += _drop_unreached(conn, station_list, *vanished, calendar)
    return report


def _screen(
    conn: Connection,
    rules: RuleSet,
    stations: list[str],
    min_completeness: float,
    readings: hourly.Readings,
    *,
    keep: npt.NDArray[np.bool_] | None = None,
    keep_keys: npt.NDArray[np.int64] | None = None,
    write_hours: list[tuple[str, dt.datetime]] | None = None,
    t_min: dt.datetime,
    t_max: dt.datetime,
) -> tuple[int, tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]]:
    """Flag ``readings``, aggregate the kept ones and write ``hourly`` and ``qc_flags``.

    Returns the rows written and the station-hours (station index, hour number) that
    have an hourly mean now.
    """
    parameters = qc.parameter_names(conn)
    manual_periods, verified_periods = qc.periods(conn, stations, parameters)
    r = readings
    manual = manual_mask(manual_periods, r.station, r.parameter, r.ts_us)
    bounds = range_bounds(rules, parameters, r.station, r.parameter,
                          instrument_ranges(conn, stations, parameters))  # fmt: skip
    flags = evaluate(rules, parameters, r.station, r.parameter, r.ts_us, r.value, r.status,
                     manual, bounds)  # fmt: skip
    hour_all = r.ts_us // US_PER_HOUR
    if keep is None:
        keep = np.isin(_pack(r.station, hour_all), keep_keys if keep_keys is not None else [])
    means = hourly_means(r.station, r.parameter, r.ts_us, r.value, flags, keep)
    expected = qc.expected_per_hour(conn, stations)[means.station]
    completeness = np.minimum(means.n_valid / expected, 1.0)
    level = np.where(
        verified_mask(verified_periods, means.station, means.hour * US_PER_HOUR),
        LEVEL_VERIFIED, LEVEL_PROVISIONAL,
    )  # fmt: skip
    hourly_columns: dict[str, npt.NDArray[np.generic]] = {
        "station": means.station, "parameter": means.parameter,
        "hour": hourly.pg_time_us(means.hour * US_PER_HOUR), "mean": means.mean,
        "n_valid": means.n_valid, "n_flagged": means.n_flagged, "n_expected": expected,
        "completeness": completeness, "valid": completeness >= min_completeness,
        "min_completeness": np.full(len(means), min_completeness), **means.removed,
        "level": level,
    }  # fmt: skip
    automatic = (flags & ~np.uint16(MANUAL)).astype(np.uint16)
    stored = np.flatnonzero(keep & (automatic != 0) & ((flags & MANUAL) == 0))
    flag_columns: dict[str, npt.NDArray[np.generic]] = {
        "station": r.station[stored], "parameter": r.parameter[stored],
        "ts": hourly.pg_time_us(r.ts_us[stored]), "flags": automatic[stored],
    }  # fmt: skip
    written = hourly.write_hourly_and_flags(
        conn, stations, parameters, hourly_columns, flag_columns, rules.version,
        t_min, t_max, write_hours=write_hours,
    )  # fmt: skip
    return written, (means.station, means.hour)


def instrument_ranges(
    conn: Connection, stations: Sequence[str], parameters: Sequence[str]
) -> dict[tuple[int, int], tuple[float, float]]:
    """The catalogue's instrument ranges of ``stations`` (``stations.instrument_ranges``),
    keyed by (index in ``stations``, index in ``parameters``), for ``range_bounds``."""
    station_code = {s: i for i, s in enumerate(stations)}
    parameter_code = {p: i for i, p in enumerate(parameters)}
    out: dict[tuple[int, int], tuple[float, float]] = {}
    for station_id, name, low, high in conn.execute(
        "SELECT s.station_id, r.key, (r.value->>0)::float8, (r.value->>1)::float8"
        " FROM stations s, jsonb_each(s.instrument_ranges) r"
        " WHERE s.station_id = ANY(%s::text[])", (list(stations),),
    ):  # fmt: skip
        if name in parameter_code:
            out[station_code[str(station_id)], parameter_code[str(name)]] = (
                float(str(low)), float(str(high)))  # fmt: skip
    return out


def _us(moment: dt.datetime) -> int:
    """µs since 1970 UTC."""
    return (moment - _EPOCH) // dt.timedelta(microseconds=1)


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _pack(station: npt.ArrayLike, hour: npt.ArrayLike) -> npt.NDArray[np.int64]:
    return (np.asarray(station, np.int64) << 32) | np.asarray(hour, np.int64)


def _around(
    station: npt.NDArray[np.int64], hour: npt.NDArray[np.int64], reach: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Distinct station-hours within ``reach`` hours of the given ones."""
    offsets = np.arange(-reach, reach + 1, dtype=np.int64)
    keys = np.unique(_pack(np.repeat(station, len(offsets)),
                           (hour[:, None] + offsets).ravel()))  # fmt: skip
    return keys >> 32, keys & 0xFFFFFFFF


def _pairs(
    stations: Sequence[str], station: npt.NDArray[np.int64], hour: npt.NDArray[np.int64]
) -> list[tuple[str, dt.datetime]]:
    return [
        (stations[int(s)], datetime_of_hour(int(h))) for s, h in zip(station, hour, strict=True)
    ]


def _drop_unreached(
    conn: Connection,
    stations: list[str],
    station: npt.ArrayLike,
    hour: npt.ArrayLike,
    calendar: LocalCalendar,
) -> int:
    """Delete the AQI rows around ``(station, hour)`` that no stored hourly mean reaches.

    A run from scratch writes the hourly AQI of the 11 hours after each hourly mean and
    the daily AQI of the days its NowCasts and 8-h windows touch (:mod:`worker.plan`);
    rows around means that are gone (invalidated, deleted) are removed so the tables
    hold what such a run would.
    """
    st = np.asarray(station, np.int64)
    hr = np.asarray(hour, np.int64)
    if len(st) == 0:
        return 0
    offsets = np.arange(0, NOWCAST_REACH + 1, dtype=np.int64)
    cand = np.unique(_pack(np.repeat(st, len(offsets)), (hr[:, None] + offsets).ravel()))
    first_day = calendar.day_of_hour(hr - DAY_REACH_BACK)
    last_day = calendar.day_of_hour(hr + NOWCAST_REACH)
    day_keys = np.unique(np.concatenate([
        _pack(st, first_day + k) for k in range(int((last_day - first_day).max()) + 1)
    ]))  # fmt: skip
    lo = datetime_of_hour(int(hr.min()) - 2 * 24 - NOWCAST_REACH)
    hi = datetime_of_hour(int(hr.max()) + 3 * 24 + NOWCAST_REACH)
    have_st, have_h = hourly.stored_station_hours(conn, stations, lo, hi)
    have = np.sort(_pack(have_st, have_h))
    c_st, c_h = cand >> 32, cand & 0xFFFFFFFF
    reached = np.searchsorted(have, _pack(c_st, c_h + 1)) > np.searchsorted(
        have, _pack(c_st, c_h - NOWCAST_REACH)
    )
    d_st, d_day = day_keys >> 32, day_keys & 0xFFFFFFFF
    first = calendar.first_hour(d_day)
    d_reached = np.searchsorted(have, _pack(d_st, first + 24 + DAY_REACH_BACK)) > np.searchsorted(
        have, _pack(d_st, first - NOWCAST_REACH)
    )
    gone_h = [(stations[int(s)], datetime_of_hour(int(h)))
              for s, h in zip(c_st[~reached], c_h[~reached], strict=True)]  # fmt: skip
    gone_d = [(stations[int(s)], calendar.date_of(int(d)))
              for s, d in zip(d_st[~d_reached], d_day[~d_reached], strict=True)]  # fmt: skip
    return aqi_tables.delete_rows(conn, gone_h, gone_d)


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
    # The open data files of the station-years this reaches are out of date from commit.
    opendata_pending.mark_changed(conn, stations, station_index, hours, calendar)
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
    _, verified = qc.periods(conn, stations, [])
    hourly_rows, daily_rows = dict(computed.hourly), dict(computed.daily)
    hourly_rows["level"] = _levels(verified, hourly_rows["station"], hourly_rows["hour"])
    daily_rows["level"] = _levels(
        verified, daily_rows["station"], calendar.first_hour(daily_rows["day"])
    )
    report.rows_written += aqi_tables.write_aqi_hourly(conn, hourly_rows, names)
    report.rows_written += aqi_tables.write_aqi_daily(conn, daily_rows, names)
    report.timings.write = time.perf_counter() - started


def _levels(
    verified: list[Period], station: npt.ArrayLike, first_hour: npt.ArrayLike
) -> npt.NDArray[np.int16]:
    """Data level of rows starting at ``first_hour``: verified inside a verified period."""
    start = np.asarray(first_hour, np.int64) * US_PER_HOUR
    inside = verified_mask(verified, np.asarray(station, np.int64), start)
    return np.where(inside, LEVEL_VERIFIED, LEVEL_PROVISIONAL).astype(np.int16)


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
