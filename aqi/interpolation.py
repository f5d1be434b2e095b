"""Piecewise-linear interpolation of whole arrays, equal to ``numpy.interp`` bit for bit.

``numpy.interp`` binary-searches the segment of each value in scalar code, 3–6 ns per
value on a noisy series. An AQI table has 7–10 breakpoints, so it is faster to find the
segments of all values at once — count the breakpoints each value has reached, one
vectorised comparison per breakpoint — then gather each value's segment start, slope
and start index and evaluate numpy's own expression ``slope·(x − x_k) + y_k``: the same
operands and operations, hence the same rounding. ``numpy.interp`` is still used where
that equality is not guaranteed (0-d input, tables with repeated or non-finite points,
an index point of −0.0).

Used by :func:`aqi.subindex.interpolate_subindex` (Công thức 1).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from aqi.bounds import at_least, at_most

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class _Slots:
    """What a value gets, by slot: ``slope·(min(x, top) − start) + value``.

    Slot 0: below the first point (``left``); slot k (1 … n−1): segment k−1; slot n: at
    the top point (or above it, when ``right`` is the top value); slot n+1, only when
    ``right`` differs: above the top (``right``). Slope 0 makes the last slots constant.
    """

    thresholds: FloatArray  # a value ≥ threshold k is at least in slot k + 1
    above_top: bool  # a separate slot for values > top
    top: float
    starts: FloatArray
    slopes: FloatArray
    values: FloatArray


@lru_cache(maxsize=64)
def _slots(xp: tuple[float, ...], fp: tuple[float, ...], right: float) -> _Slots | None:
    """Slot tables for ``xp``/``fp``, or None when they would not match numpy.interp."""
    finite = all(math.isfinite(v) for v in (*xp, *fp))
    increasing = all(a < b for a, b in itertools.pairwise(xp))
    # x == xp[k] gives fp[k] in numpy; here 0·slope + fp[k], which loses the sign of −0.0.
    negative_zero = any(v == 0.0 and math.copysign(1.0, v) < 0 for v in fp)
    if len(xp) < 2 or len(xp) != len(fp) or not finite or not increasing or negative_zero:
        return None
    n = len(xp)
    # numpy.interp's slopes: (fp[k+1] − fp[k]) / (xp[k+1] − xp[k]), the same doubles.
    segment_slopes = [(fp[k + 1] - fp[k]) / (xp[k + 1] - xp[k]) for k in range(n - 1)]
    above_top = right != fp[-1]  # NaN never equals: "undefined" tables get the slot
    starts = [0.0, *xp[:-1], xp[-1]] + ([xp[-1]] if above_top else [])
    slopes = [0.0, *segment_slopes, 0.0] + ([0.0] if above_top else [])
    values = [math.nan, *fp[:-1], fp[-1]] + ([right] if above_top else [])
    return _Slots(
        thresholds=np.array(xp),
        above_top=above_top,
        top=xp[-1],
        starts=np.array(starts),
        slopes=np.array(slopes),
        values=np.array(values),
    )


def interpolate(
    x: npt.ArrayLike,
    xp: tuple[float, ...],
    fp: tuple[float, ...],
    right: float,
    *,
    floor: float | None = None,
) -> FloatArray:
    """``numpy.interp(x, xp, fp, left=nan, right=right)``, the same doubles, faster.

    Parameters
    ----------
    x : array_like
        Values (float64), any shape; NaN gives NaN.
    xp, fp : tuple of float
        Breakpoints (increasing) and the values at them.
    right : float
        Value above ``xp[-1]`` (NaN allowed); below ``xp[0]`` the result is NaN.
    floor : float, optional
        Values below it are taken as ``floor`` first (``np.maximum(x, floor)``; 0 for
        concentrations).
    """
    values = np.asarray(x, dtype=np.float64)
    floor = None if floor is None else float(floor)
    slots = _slots(xp, fp, right)
    if floor is not None:
        values = at_least(values, floor)
    if slots is None or values.ndim == 0:
        result: FloatArray = np.interp(values, xp, fp, left=np.nan, right=right)
        return result
    # NaN compares False everywhere: slot 0, whose value is NaN (and so is x).
    slot = np.zeros(values.shape, dtype=np.int8)
    for threshold in slots.thresholds:
        slot += values >= threshold
    if slots.above_top:
        slot += values > slots.top
    index = slot.astype(np.intp)
    # Capping at the top keeps 0·(x − start) finite for x = +inf in the constant slots.
    result = at_most(values, slots.top)
    result -= slots.starts.take(index)
    with np.errstate(invalid="ignore"):  # 0·(−inf) below the table: NaN, as it should be
        result *= slots.slopes.take(index)
    result += slots.values.take(index)
    return result
