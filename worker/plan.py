"""What to recompute when station-hours change: affected hours, days and matrix rows.

A changed hourly mean at hour *h* changes

* the hourly AQI of hours *h … h + 11*: the PM NowCast of an hour reads the 12 hours
  ending with it (1459 §2.2.1, EPA NowCast), and the US O3 NowCast and 8-h CO mean
  read 8 — all within 11 hours after *h*;
* the daily AQI of the local days containing *h − 7 … h + 11*: the day of *h* (24-h means,
  daily maxima), the next day whose first 8-h O3/CO windows reach back 7 hours, and the
  previous day whose US O3 windows (starting 07:00…23:00) reach 7 hours into *h*'s day.
  The days of the following NowCast hours are included as well: a day is
  always recomputed together with the hourly values it holds.

Hours that have not begun yet are never written (their data does not exist), nor are
days that have not begun.

The plan lays the work out as matrix rows for one vectorised engine call: each row is
one station and a run of consecutive local days, with ``HOURS_BEFORE`` hours of history
in front (NowCast, 8-h windows) and ``HOURS_AFTER`` behind (US O3 windows of the last
day). Rows are padded to the longest run with missing hours; masks say which hours and
days of each row are written. Everything here is integer arithmetic on numpy arrays.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from worker.timeline import LocalCalendar

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

NOWCAST_REACH: Final = 11
"""Hours after a changed hour whose hourly AQI depends on it (12-h NowCast window)."""
DAY_REACH_BACK: Final = 7
"""Hours before a changed hour that can lie in a day depending on it (US O3 windows)."""
HOURS_BEFORE: Final = 12
"""History columns in front of a row's first day (the engine's NowCast history)."""
DAILY_HOURS_BEFORE: Final = 7
"""Of those, the columns the daily engine call reads (first 8-h windows of a day)."""
HOURS_AFTER: Final = 7
"""Columns after a row's last day (US O3 8-h windows starting 17:00…23:00)."""
MAX_DAYS_PER_ROW: Final = 31
"""Longer runs of days are split, which bounds the padding of short rows."""

_SHIFT: Final = 32  # pack (station, hour or day) into one int64 key for np.unique


@dataclass(frozen=True)
class WorkPlan:
    """Rows of the stations × hours matrices and what to write from them.

    Attributes
    ----------
    calendar : LocalCalendar
    row_station : ndarray of int64
        Station index of each row.
    row_first_day : ndarray of int64
        Local day number of each row's first day.
    row_days : ndarray of int64
        Real days in each row (the rest, up to ``days_per_row``, is padding).
    days_per_row : int
    hour_mask : ndarray of bool, rows × 24·days_per_row
        Hours whose ``aqi_hourly`` rows are written.
    day_mask : ndarray of bool, rows × days_per_row
        Days whose ``aqi_daily`` rows are written.
    """

    calendar: LocalCalendar
    row_station: IntArray
    row_first_day: IntArray
    row_days: IntArray
    days_per_row: int
    hour_mask: BoolArray
    day_mask: BoolArray

    @property
    def n_rows(self) -> int:
        return len(self.row_station)

    @property
    def n_columns(self) -> int:
        """Columns of the hourly-mean matrices: history, the days, the hours after."""
        return HOURS_BEFORE + 24 * self.days_per_row + HOURS_AFTER

    @property
    def n_station_hours(self) -> int:
        return int(self.hour_mask.sum())

    @property
    def n_station_days(self) -> int:
        return int(self.day_mask.sum())

    def row_windows(self) -> tuple[IntArray, IntArray]:
        """Hour numbers ``[t0, t1)`` each row loads: column 0 is hour ``t0``."""
        first = self.calendar.first_hour(self.row_first_day)
        last = self.calendar.first_hour(self.row_first_day + self.row_days)
        return first - HOURS_BEFORE, last + HOURS_AFTER

    def written_hours(self) -> tuple[IntArray, IntArray, IntArray]:
        """``(row, column within the days, hour number)`` of every hour to write."""
        rows, columns = np.nonzero(self.hour_mask)
        hours = self.calendar.first_hour(self.row_first_day[rows]) + columns
        return rows.astype(np.int64), columns.astype(np.int64), hours

    def written_days(self) -> tuple[IntArray, IntArray, IntArray]:
        """``(row, day within the row, day number)`` of every day to write."""
        rows, columns = np.nonzero(self.day_mask)
        return rows.astype(np.int64), columns.astype(np.int64), self.row_first_day[rows] + columns


def plan_work(
    station: npt.ArrayLike,
    hour: npt.ArrayLike,
    calendar: LocalCalendar,
    now_hour: int,
    max_days_per_row: int = MAX_DAYS_PER_ROW,
) -> WorkPlan:
    """Plan the recomputation after the hourly means of ``(station, hour)`` changed.

    Parameters
    ----------
    station, hour : array_like of int
        Station indices and hour numbers of the changed station-hours (duplicates
        allowed, any order).
    calendar : LocalCalendar
        Local days.
    now_hour : int
        Hour number of the current hour; later hours and days are not written.
    max_days_per_row : int
        Longest run of days in one row.
    """
    stations = np.asarray(station, np.int64).ravel()
    hours = np.asarray(hour, np.int64).ravel()
    if len(stations) != len(hours):
        raise ValueError("station and hour arrays differ in length")
    if len(hours) and (hours.min() < 0 or stations.min() < 0):
        raise ValueError("hours before 1970 or negative station indices")
    changed = np.unique(_pack(stations, hours))
    changed_station, changed_hour = _unpack(changed)

    # Each changed hour touches the NOWCAST_REACH hours after it and the days from
    # DAY_REACH_BACK hours before it to the last of those: sorted runs, merged in one pass.
    hour_station, hour_number = _unpack(union_of_runs(changed, changed + NOWCAST_REACH))
    begun = hour_number <= now_hour
    hour_station, hour_number = hour_station[begun], hour_number[begun]

    # The day before 1970-01-01 (hours of its first day, west of UTC+7) would not pack.
    first_day = np.maximum(calendar.day_of_hour(changed_hour - DAY_REACH_BACK), 0)
    day_station, day_number = _unpack(
        union_of_runs(
            _pack(changed_station, first_day),
            _pack(changed_station, calendar.day_of_hour(changed_hour + NOWCAST_REACH)),
        )
    )
    begun = calendar.first_hour(day_number) <= now_hour
    day_station, day_number = day_station[begun], day_number[begun]

    # Rows: runs of consecutive days of one station, split at max_days_per_row.
    n = len(day_number)
    run_starts = np.ones(n, dtype=bool)
    run_starts[1:] = (day_station[1:] != day_station[:-1]) | (day_number[1:] != day_number[:-1] + 1)
    run_of_day = np.cumsum(run_starts) - 1
    position = np.arange(n) - np.flatnonzero(run_starts)[run_of_day]
    row_starts = position % max_days_per_row == 0
    row_of_day = np.cumsum(row_starts) - 1
    first = np.flatnonzero(row_starts)
    row_station = day_station[first]
    row_first_day = day_number[first]
    row_days = np.bincount(row_of_day, minlength=len(first)).astype(np.int64)
    days_per_row = int(row_days.max()) if n else 0

    day_mask = np.zeros((len(first), days_per_row), dtype=bool)
    day_mask[row_of_day, day_number - row_first_day[row_of_day]] = True

    # Each written hour lies in a planned day: find its row by (station, day) key.
    row_keys = _pack(row_station, row_first_day)
    row_of_hour = np.searchsorted(
        row_keys, _pack(hour_station, calendar.day_of_hour(hour_number)), side="right"
    ) - 1
    column = hour_number - calendar.first_hour(row_first_day[row_of_hour])
    if len(row_of_hour) and not (
        np.all(row_station[row_of_hour] == hour_station)
        and np.all(column < 24 * row_days[row_of_hour])
    ):
        raise AssertionError("a written hour fell outside the planned days")
    hour_mask = np.zeros((len(first), 24 * days_per_row), dtype=bool)
    hour_mask[row_of_hour, column] = True

    return WorkPlan(
        calendar=calendar,
        row_station=row_station,
        row_first_day=row_first_day,
        row_days=row_days,
        days_per_row=days_per_row,
        hour_mask=hour_mask,
        day_mask=day_mask,
    )


def union_of_runs(first: IntArray, last: IntArray) -> IntArray:
    """Sorted distinct integers of the runs ``first[i] … last[i]`` (both ends included).

    ``first`` and ``last`` must be non-decreasing (runs listed in order), as they are for
    sorted changed hours; linear time, where ``np.unique`` of every member would sort.
    """
    begin = np.array(first, dtype=np.int64)
    end = np.asarray(last, dtype=np.int64)
    if len(begin) > 1:  # skip what the previous runs already covered
        begin[1:] = np.maximum(begin[1:], end[:-1] + 1)
    length = np.maximum(end - begin + 1, 0)
    starts = np.cumsum(length) - length
    return np.repeat(begin - starts, length) + np.arange(int(length.sum()), dtype=np.int64)


def _pack(station: npt.ArrayLike, value: npt.ArrayLike) -> IntArray:
    return (np.asarray(station, np.int64) << _SHIFT) | np.asarray(value, np.int64)


def _unpack(keys: IntArray) -> tuple[IntArray, IntArray]:
    return keys >> _SHIFT, keys & ((1 << _SHIFT) - 1)
