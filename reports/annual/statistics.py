"""The annual report's statistics: pure functions over numpy arrays, no I/O.

Inputs are arrays on the report's time grid: one slot per hour of the local year
(``hourly[..., h]``, hour-beginning, h = 0 is 00:00 local on 1 January) or per local day
(``daily[..., d]``). NaN marks an hour without a valid hourly mean or a day without a
valid daily value. The completeness policy (stated in the report's methodology):

* a 24-h mean needs ≥ 18 valid hourly means (75 %);
* an 8-h mean needs ≥ 6 of its 8 hours; a day's max 8-h mean needs ≥ 18 valid windows;
* an annual (or monthly) mean is the mean of the valid daily means and needs valid days
  on ≥ 75 % of the days of the year (month); otherwise there is no number;
* an exceedance is a valid value strictly greater than the limit in force that day.

References
----------
.. [1] QCVN 05:2023/BTNMT (averaging periods; annual = mean of the daily values).
.. [2] (daily completeness), §2 (exceedance counting).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from aqi import averaging
from aqi.hourly import DEFAULT_COMPLETENESS

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]

HOURS_PER_DAY: Final = 24
# The completeness rules are the AQI engine's, so report and indices judge a day alike.
MIN_HOURS_PER_DAY: Final = DEFAULT_COMPLETENESS.min_hours_day
"""Valid hourly means a daily value needs (75 % of 24)."""
MIN_HOURS_PER_8H: Final = DEFAULT_COMPLETENESS.min_hours_8h
"""Valid hourly means an 8-h mean needs (of 8)."""
MIN_WINDOWS_PER_DAY: Final = DEFAULT_COMPLETENESS.min_windows_8h
"""Valid 8-h means a day's maximum 8-h mean needs (of 24)."""
MIN_DAY_SHARE: Final = 0.75
"""Share of the days of the year (or month) with a valid daily value an annual (monthly)
mean needs."""


def _by_day(hourly: FloatArray) -> FloatArray:
    if hourly.shape[-1] % HOURS_PER_DAY:
        raise ValueError(f"hourly grid of {hourly.shape[-1]} hours is not a whole number of days")
    return hourly.reshape((*hourly.shape[:-1], hourly.shape[-1] // HOURS_PER_DAY, HOURS_PER_DAY))


def valid_hours_per_day(hourly: FloatArray) -> IntArray:
    """Number of valid (non-NaN) hourly means in each local day."""
    counts: IntArray = np.count_nonzero(~np.isnan(_by_day(hourly)), axis=-1).astype(np.int64)
    return counts


def daily_means(hourly: FloatArray, min_hours: int = MIN_HOURS_PER_DAY) -> FloatArray:
    """24-h means of each local day; NaN where fewer than ``min_hours`` valid hours.

    Parameters
    ----------
    hourly : ndarray (..., 24 * n_days)
        Valid hourly means, µg/m³, NaN where none.

    Returns
    -------
    ndarray (..., n_days)
    """
    return averaging.daily_mean(hourly, min_hours=min_hours).value


def daily_max_8h_means(
    hourly: FloatArray,
    min_hours: int = MIN_HOURS_PER_8H,
    min_windows: int = MIN_WINDOWS_PER_DAY,
) -> FloatArray:
    """Largest 8-h mean of each local day (QCVN 8-h limits: O3, CO).

    Each day has 24 eight-hour means, each labelled by its last hour, so the first seven
    reach into the previous day; before the first hour of the grid the
    hours count as missing. An 8-h mean needs ``min_hours`` valid hours, the day's maximum
    ``min_windows`` valid 8-h means; otherwise NaN.
    """
    lead = np.full((*hourly.shape[:-1], 7), np.nan)
    padded = np.concatenate([lead, hourly], axis=-1)
    return averaging.daily_max_rolling(
        padded, hours_before=7, min_hours=min_hours, min_windows=min_windows
    ).value


def daily_max(hourly: FloatArray, min_hours: int = MIN_HOURS_PER_DAY) -> FloatArray:
    """Largest valid value of each local day; NaN where fewer than ``min_hours`` values."""
    return averaging.daily_max(hourly, min_hours=min_hours).value


@dataclass(frozen=True)
class PeriodMean:
    """A mean of daily values over a period, or None when the data do not suffice."""

    value: float | None
    valid_days: int
    days: int

    @property
    def share(self) -> float:
        return self.valid_days / self.days if self.days else 0.0


def period_mean(daily: FloatArray, min_share: float = MIN_DAY_SHARE) -> PeriodMean:
    """Mean of the valid daily values of a period (QCVN: annual = mean of daily values).

    ``daily`` holds one slot per day of the whole period (NaN: no valid daily value);
    the mean needs valid values on at least ``min_share`` of those days.
    """
    valid = ~np.isnan(daily)
    n_valid = int(np.count_nonzero(valid))
    days = int(daily.shape[-1])
    if days == 0 or n_valid < min_share * days:
        return PeriodMean(None, n_valid, days)
    return PeriodMean(float(daily[valid].mean()), n_valid, days)


def monthly_means(
    daily: FloatArray, month_of_day: IntArray, min_share: float = MIN_DAY_SHARE
) -> list[PeriodMean]:
    """:func:`period_mean` of each calendar month 1…12 (``month_of_day`` in 1…12)."""
    return [period_mean(daily[month_of_day == month], min_share) for month in range(1, 13)]


def count_exceedances(values: FloatArray, limits: FloatArray) -> tuple[int, int]:
    """Valid values strictly greater than the limit in force, and valid values judged.

    Slots without a limit (NaN) are not judged.
    """
    judged = ~np.isnan(values) & ~np.isnan(limits)
    with np.errstate(invalid="ignore"):
        over = judged & (values > limits)
    return int(np.count_nonzero(over)), int(np.count_nonzero(judged))


def exceedance_slots(values: FloatArray, limits: FloatArray) -> tuple[BoolArray, BoolArray]:
    """Per slot: exceeded, judged (see :func:`count_exceedances`)."""
    judged = ~np.isnan(values) & ~np.isnan(limits)
    with np.errstate(invalid="ignore"):
        return judged & (values > limits), judged


def category_counts(category: npt.NDArray[np.int8], n_categories: int = 6) -> IntArray:
    """Days in each category 0…n-1 (entries < 0: no AQI, not counted)."""
    valid = category[category >= 0].astype(np.int64)
    return np.bincount(valid, minlength=n_categories)[:n_categories]


def worst_days(aqi: FloatArray, n: int = 10) -> IntArray:
    """Indices of the ``n`` days with the highest AQI (ties: earlier day first)."""
    days = np.flatnonzero(~np.isnan(aqi))
    order = np.lexsort((days, -aqi[days]))
    return days[order[:n]].astype(np.int64)


@dataclass(frozen=True)
class Gap:
    """A run of hours without any valid hourly mean (grid hour indices, end exclusive)."""

    start: int
    end: int

    @property
    def hours(self) -> int:
        return self.end - self.start


def gaps(valid: BoolArray, active: BoolArray, min_hours: int = HOURS_PER_DAY + 1) -> list[Gap]:
    """Runs of ≥ ``min_hours`` active hours without valid data (default: longer than a day).

    Parameters
    ----------
    valid : bool ndarray (n_hours,)
        Hours with a valid hourly mean.
    active : bool ndarray (n_hours,)
        Hours in which the station existed (registry installed_on … retired_on).
    """
    missing = active & ~valid
    edges = np.diff(np.concatenate([[0], missing.astype(np.int8), [0]]))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    return [Gap(int(s), int(e)) for s, e in zip(starts, ends, strict=True) if e - s >= min_hours]
