"""NowCast: the weighted mean of the last hours that stands in for a 24-h mean each hour.

    w* = C_min / C_max over the window (available hours);  w = max(w*, min_weight)
    NowCast = Σ w^(i−1)·c_i / Σ w^(i−1)     (i = 1 the current hour; missing c_i dropped)

Decision 1459 (§2.2.1 a) and the EPA (PM2.5, PM10) use 12 hours, ``min_weight`` ½ and
need 2 of the 3 most recent hours. For w = ½ the decision writes Σ(½)^i·c_i without the
denominator; aqm uses the normalised form for every w (project decision) and keeps
``form="literal"`` to reproduce a publisher that uses the text as written.
The EPA's former O3 NowCast (2016–2019) is the same formula with 8 hours and
no lower bound on w (``hours=8, min_weight=0``).

Evaluated for a whole ``stations × hours`` array: window minima/maxima by doubling and
the weighted sums by Horner's scheme over the lags (a loop over the 12 lags, never over
values), numerator and denominator in one stacked array so each lag costs one multiply
and one add. NaN = missing.
"""

from __future__ import annotations

import operator
from typing import Literal, NamedTuple

import numpy as np
import numpy.typing as npt

from aqi.averaging import INT16_MAX, trailing_count, trailing_reduce
from aqi.bounds import at_least

FloatArray = npt.NDArray[np.float64]
NowcastForm = Literal["normalised", "literal"]


class Nowcast(NamedTuple):
    """NowCast concentrations and the number of valid hours in each window."""

    value: FloatArray
    n_valid: npt.NDArray[np.int16]


def nowcast(
    hourly: npt.ArrayLike,
    *,
    hours: int = 12,
    min_weight: float = 0.5,
    recent_hours: int = 3,
    min_recent: int = 2,
    form: NowcastForm = "normalised",
    floor: float | None = None,
) -> Nowcast:
    """NowCast for every hour of an hourly series (time on the last axis).

    Parameters
    ----------
    hourly : array_like
        1-h means (µg/m³ or any unit; the result has the same unit), time on the last
        axis, aligned hours, NaN = missing. Values are used as given, or raised to
        ``floor``.
    hours : int
        Window length: 12 (PM, 1459 and EPA), 8 (EPA O3 2016–2019).
    min_weight : float
        Lower bound of the weight w: 0.5 (PM), 0 (EPA O3 2016).
    recent_hours, min_recent : int
        At least ``min_recent`` of the ``recent_hours`` most recent hours must be
        valid, otherwise no NowCast (2 of 3).
    form : {'normalised', 'literal'}
        ``literal`` applies the 1459 text for w = ½: Σ(½)^i·c_i, not divided by the
        sum of the weights (only meaningful with ``min_weight=0.5``).
    floor : float, optional
        Values below it are taken as ``floor`` (``np.maximum``); the engine passes 0,
        negative readings counting as 0.

    Returns
    -------
    Nowcast
        ``value`` (NaN where the 2-of-3 rule fails) and ``n_valid`` (valid hours in the
        window), both shaped like ``hourly``.

    Notes
    -----
    C_max = 0 gives 0. The first hours of the array only see the
    hours available before them, as if earlier hours were missing.

    References
    ----------
    .. [1] Quyết định 1459/QĐ-TCMT §2.2.1 a (Nowcast), worked example §2.3 a.
    .. [2] AirNow-Tech, "The NowCast for PM2.5 and PM10"; EPA-454/B-24-002 (2024),
       "How the NowCast is calculated".
    """
    c = np.asarray(hourly, dtype=np.float64)
    if form not in ("normalised", "literal"):
        raise ValueError(f"unknown NowCast form {form!r}")
    hours, recent_hours, min_recent = (
        operator.index(v) for v in (hours, recent_hours, min_recent)
    )
    for name, window in (("hours", hours), ("recent_hours", recent_hours)):
        if not 1 <= window <= INT16_MAX:  # counts are int16
            raise ValueError(f"{name} must be 1…{INT16_MAX}, got {window}")
    min_weight = float(min_weight)
    if not 0.0 <= min_weight <= 1.0:  # a weight ratio; NaN fails too
        raise ValueError(f"min_weight must be within 0…1, got {min_weight}")
    # More than the window holds is never reached, 0 or less always: same answers.
    min_recent = min(max(min_recent, 0), recent_hours + 1)
    n = c.shape[-1]
    if floor is not None:
        c = at_least(c, floor)
    valid = ~np.isnan(c)
    # The terms of both sums side by side, so one multiply and one add per lag serve the
    # numerator and the denominator: terms[0] = c with missing hours as 0, terms[1] = 1
    # for a valid hour and 0 for a missing one (dropped from both sums).
    terms = np.empty((2, *c.shape))
    np.copyto(terms[0], c)
    np.copyto(terms[0], 0.0, where=~valid)
    np.copyto(terms[1], valid)

    low = trailing_reduce(c, hours, np.fmin)
    high = trailing_reduce(c, hours, np.fmax)
    weight = np.ones_like(c)
    np.divide(low, high, out=weight, where=high > 0)
    at_least(weight, min_weight, out=weight)

    # Horner over the lags, oldest first: sums[0] = num = Σ_k w^k c[t-k] and
    # sums[1] = den = Σ_k w^k valid[t-k]. Multiplying by w each step gives the powers
    # without computing any w^k, in the same order of operations for every hour.
    oldest = hours - 1
    sums = np.zeros_like(terms)
    _add_lagged(sums, terms, oldest, n)
    for lag in range(oldest - 1, -1, -1):
        sums *= weight
        _add_lagged(sums, terms, lag, n)
    num, den = sums[0], sums[1]

    enough = trailing_count(valid, recent_hours) >= min_recent
    enough &= den > 0  # only w = 0 with c1 missing: no defined weight for any hour
    value = np.full(c.shape, np.nan)
    np.divide(num, den, out=value, where=enough)
    if form == "literal":
        halves = enough & (weight == 0.5)
        value[halves] = 0.5 * num[halves]
    return Nowcast(value, trailing_count(valid, hours))


def _add_lagged(sums: FloatArray, terms: FloatArray, lag: int, n: int) -> None:
    """``sums[..., t] += terms[..., t - lag]`` where ``t - lag`` is inside the array."""
    if lag < n:
        sums[..., lag:] += terms[..., : n - lag]
