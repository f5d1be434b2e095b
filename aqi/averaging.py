"""Averages of hourly series: trailing windows, 24-h means, daily maxima, with counts.

Arrays are ``stations × hours`` (any leading shape works; time is the last axis), float64,
NaN = missing. Hours are hour-beginning and aligned: column *k* is one hour after column
*k − 1*. A window "ending with" hour *t* covers hours *t − w + 1 … t* (Decision 1459 labels
it by its end time, e.g. the 8-h mean "at 01:00" covers 18:00…01:00 hour-ending).

Daily functions take ``hours_before + 24 × days + hours_after`` columns whose column
``hours_before`` is the hour starting 00:00 local of the first day; the extra columns only
feed windows that reach outside the day.

Every function returns the count of valid values next to the value, so completeness can
be stored with the result (project decision).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final, NamedTuple, TypeVar

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
CountArray = npt.NDArray[np.int16]
ArrayT = TypeVar("ArrayT", bound=npt.NDArray[Any])
INT16_MAX = 32767

# Completeness rules, the defaults of the functions below and of aqi.CompletenessRules;
# dashboards and reports quote these, never their own copies (docs/aqi-engine.md).
DAY_MIN_VALID_HOURS: Final = 18
"""Valid hours a 24-h mean or a daily max 1-h needs, of 24."""
EIGHT_HOUR_WINDOW: Final = 8
"""Hours of the 8-h mean."""
EIGHT_HOUR_MIN_VALID_HOURS: Final = 6
"""Valid hours an 8-h mean needs, of 8."""
DAY_MIN_VALID_WINDOWS: Final = 18
"""Valid 8-h means a daily max 8-h over the 24 windows of a day needs."""
US_O3_MIN_VALID_WINDOWS: Final = 13
"""Valid 8-h means the US daily O3 maximum over its 17 windows needs."""


class Statistic(NamedTuple):
    """An average or maximum with the number of valid values behind it."""

    value: FloatArray
    n_valid: CountArray


def trailing_reduce(values: ArrayT, window: int, ufunc: np.ufunc) -> ArrayT:
    """Reduce each trailing ``window`` of the last axis with a binary ufunc.

    ``result[..., t] = ufunc.reduce(values[..., t-window+1 : t+1])`` (shorter at the
    start). Uses doubling (⌈log2 window⌉ + popcount passes over the array instead of
    ``window``), so ``ufunc`` must be associative and commutative (``np.fmin``,
    ``np.fmax`` ignore NaN; ``np.add`` for counts and sums). Works for any dtype the
    ufunc accepts (float64 values, int16 counts).
    """
    if window < 1:
        raise ValueError("window must be >= 1")
    n = values.shape[-1]
    result: ArrayT | None = None
    covered = 0  # hours already in result (result[t] covers t-covered+1 … t)
    block = values  # block[t] covers t-size+1 … t
    size = 1
    remaining = window
    while True:
        if remaining & 1:
            if result is None:
                # A doubled block is never written again, so it can become the result;
                # only the caller's array must be copied.
                result = block.copy() if block is values else block
            elif covered < n:
                ufunc(result[..., covered:], block[..., :-covered], out=result[..., covered:])
            covered += size
        remaining >>= 1
        if not remaining:
            break
        # Written once into a new array (not copied, then updated): one pass, not two.
        doubled = np.empty_like(block)
        doubled[..., :size] = block[..., :size]
        ufunc(block[..., size:], block[..., : max(n - size, 0)], out=doubled[..., size:])
        block = doubled
        size *= 2
    assert result is not None
    return result


def trailing_count(valid: npt.NDArray[np.bool_], window: int) -> CountArray:
    """Number of True values in each trailing ``window`` of the last axis."""
    if window > INT16_MAX:  # counts may not fit int16 (as before: float32, then cast)
        return trailing_reduce(valid.astype(np.float32), window, np.add).astype(np.int16)
    # Counted in int16 directly: a quarter of the memory traffic of float64, no final cast.
    return trailing_reduce(valid.astype(np.int16), window, np.add)


def trailing_mean(
    hourly: npt.ArrayLike,
    window: int = EIGHT_HOUR_WINDOW,
    min_hours: int = EIGHT_HOUR_MIN_VALID_HOURS,
) -> Statistic:
    """Mean of the ``window`` hours ending with each hour, valid with ≥ ``min_hours``.

    Parameters
    ----------
    hourly : array_like
        1-h means, time on the last axis, NaN = missing.
    window : int
        Window length in hours (8 for O3 and EPA CO).
    min_hours : int
        Valid hours needed (project decision 6 of 8; configurable).

    Returns
    -------
    Statistic
        ``value`` (NaN where incomplete) and ``n_valid`` (valid hours in each window).

    References
    ----------
    .. [1] Quyết định 1459/QĐ-TCMT §2.2.2 a (8-h mean, 24 per day, labelled by the last
       hour).
    """
    values = np.asarray(hourly, dtype=np.float64)
    valid = ~np.isnan(values)
    sums = trailing_reduce(np.where(valid, values, 0.0), window, np.add)
    counts = trailing_count(valid, window)
    enough = counts >= min_hours
    mean = np.full(values.shape, np.nan)
    np.divide(sums, counts, out=mean, where=enough)
    return Statistic(mean, counts)


def _days(hourly: FloatArray, hours_before: int, hours_after: int) -> FloatArray:
    n = hourly.shape[-1] - hours_before - hours_after
    if n < 0 or n % 24:
        raise ValueError(
            f"{hourly.shape[-1]} hours minus hours_before={hours_before} and "
            f"hours_after={hours_after} is not a whole number of days"
        )
    day_hours = hourly[..., hours_before : hours_before + n]
    return day_hours.reshape((*hourly.shape[:-1], n // 24, 24))


def daily_mean(
    hourly: npt.ArrayLike, *, hours_before: int = 0, hours_after: int = 0,
    min_hours: int = DAY_MIN_VALID_HOURS,
) -> Statistic:
    """24-h mean of each local day, valid with ≥ ``min_hours`` valid hours.

    Parameters
    ----------
    hourly : array_like
        ``hours_before + 24 × days + hours_after`` 1-h means on the last axis.
    hours_before, hours_after : int
        Extra columns around the days (ignored here).
    min_hours : int
        Valid hours needed (project decision 18 of 24).

    Returns
    -------
    Statistic
        Shape ``(..., days)``.

    References
    ----------
    .. [1] Quyết định 1459/QĐ-TCMT §2.2.2 a (24-h mean); EPA-454/B-24-002 (PM 24-h
       mean, 75 %).
    """
    days = _days(np.asarray(hourly, dtype=np.float64), hours_before, hours_after)
    valid = ~np.isnan(days)
    counts = valid.sum(axis=-1, dtype=np.int16)
    sums = np.where(valid, days, 0.0).sum(axis=-1)
    mean = np.full(counts.shape, np.nan)
    np.divide(sums, counts, out=mean, where=counts >= min_hours)
    return Statistic(mean, counts)


def daily_max(
    hourly: npt.ArrayLike, *, hours_before: int = 0, hours_after: int = 0,
    min_hours: int = DAY_MIN_VALID_HOURS,
) -> Statistic:
    """Largest 1-h mean of each local day, valid with ≥ ``min_hours`` valid hours.

    References
    ----------
    .. [1] Quyết định 1459/QĐ-TCMT §2.2.2 a (max 1-h of the day).
    """
    days = _days(np.asarray(hourly, dtype=np.float64), hours_before, hours_after)
    valid = ~np.isnan(days)
    counts = valid.sum(axis=-1, dtype=np.int16)
    peak = np.fmax.reduce(days, axis=-1)
    peak[counts < min_hours] = np.nan
    return Statistic(peak, counts)


VN_WINDOW_ENDS: tuple[int, ...] = tuple(range(24))
"""1459: the 24 8-h windows ending with each hour of the day."""

US_O3_WINDOW_ENDS: tuple[int, ...] = tuple(range(7 + 7, 23 + 7 + 1))
"""EPA O3: the 17 8-h windows starting 07:00…23:00, i.e. ending with hours 14…30
(the last ones in the next day)."""


def daily_max_rolling(
    hourly: npt.ArrayLike,
    *,
    hours_before: int = 7,
    hours_after: int = 0,
    window: int = EIGHT_HOUR_WINDOW,
    min_hours: int = EIGHT_HOUR_MIN_VALID_HOURS,
    window_ends: Sequence[int] = VN_WINDOW_ENDS,
    min_windows: int = DAY_MIN_VALID_WINDOWS,
) -> Statistic:
    """Largest of a day's ``window``-hour means, with the number of valid windows.

    Parameters
    ----------
    hourly : array_like
        ``hours_before + 24 × days + hours_after`` 1-h means on the last axis.
    hours_before, hours_after : int
        Columns before 00:00 of the first day / after 24:00 of the last day. Windows
        reaching outside the array count the missing hours as missing.
    window, min_hours : int
        Window length and valid hours needed per window (8 and 6).
    window_ends : sequence of int
        Hours of the day (0 = the hour starting 00:00, may exceed 23) that end a window
        of the day: :data:`VN_WINDOW_ENDS` (24) or :data:`US_O3_WINDOW_ENDS` (17).
    min_windows : int
        Valid windows needed for a daily value (VN 18 of 24, EPA O3 13 of 17).

    Returns
    -------
    Statistic
        ``value`` (NaN when incomplete) and ``n_valid`` = valid windows, shape
        ``(..., days)``.

    References
    ----------
    .. [1] Quyết định 1459/QĐ-TCMT §2.2.2 a.
    .. [2] AirNow-Tech "Daily and Hourly AQI – Ozone" (17 windows, 13 needed).
    """
    values = np.asarray(hourly, dtype=np.float64)
    n_days = _days(values, hours_before, hours_after).shape[-2]
    means = trailing_mean(values, window, min_hours).value
    ends = hours_before + 24 * np.arange(n_days)[:, None] + np.asarray(window_ends)[None, :]
    inside = ends < values.shape[-1]
    picked = np.take(means, np.minimum(ends, values.shape[-1] - 1), axis=-1)
    picked[..., ~inside] = np.nan
    counts = (~np.isnan(picked)).sum(axis=-1, dtype=np.int16)
    peak = np.fmax.reduce(picked, axis=-1)
    peak[counts < min_windows] = np.nan
    return Statistic(peak, counts)
