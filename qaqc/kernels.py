"""The automatic rules as one compiled pass (optional: numba, the ``fast`` extra).

The numpy code of :func:`qaqc.rules.evaluate` is the reference; this kernel gives the
same flag words (tests compare both on random series with every kind of fault). It
exists for speed: the numpy rules take some sixty whole-array passes and temporaries,
the kernel two sequential passes with no temporaries, so a year of 5-minute data of
100 stations (31.5 M readings) is checked in a fraction of a second.

Used by :func:`qaqc.rules.evaluate` for calls of at least :data:`MIN_READINGS`
readings when numba can be imported (about 25 times the numpy rules' speed on a year of
a 100-station network; docs/aqi-engine.md, "Compiled code"). Compiled on first use and
cached on disk beside this file (or in numba's user cache when that is read-only).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from functools import cache
from typing import Any, Final

import numpy as np

MIN_READINGS: Final = 1 << 14
"""Smaller calls stay in numpy: loading the compiled code costs more than it saves."""

# The bits of qaqc.rules (repeated: the kernel is compiled from plain constants).
_MANUAL, _CALIB, _FAULT, _RANGE, _NEG, _FLAT, _SPIKE, _PM = 1, 2, 4, 8, 16, 32, 64, 128
_POINTWISE = _MANUAL | _CALIB | _FAULT | _RANGE | _NEG
_US_PER_HOUR = 3_600_000_000


def wanted(n: int) -> bool:
    """Whether a call on ``n`` readings should use the kernel (and it can be loaded)."""
    return n >= MIN_READINGS and kernel() is not None


@cache
def kernel() -> Callable[..., None] | None:
    """The compiled kernel, or None where numba cannot be imported."""
    try:
        numba = importlib.import_module("numba")
    except ImportError:
        return None
    try:
        compiled: Callable[..., None] = numba.njit(cache=True, nogil=True)(flags_kernel)
    except (OSError, RuntimeError):  # no writable cache
        compiled = numba.njit(cache=False, nogil=True)(flags_kernel)
    return compiled


def flags_kernel(
    station: Any, parameter: Any, ts: Any, value: Any, status: Any, manual: Any,
    has_manual: bool, neg_below: Any, range_max: Any, flat_n: Any, spike: Any,
    has_bounds: bool, low: Any, high: Any, gap_us: int,
    pm25: int, pm10: int, pm_abs: float, pm_rel: float, out: Any,
) -> None:  # fmt: skip
    """Flag words of readings sorted by station, parameter and time (see rules.evaluate)."""
    n = len(value)
    # 1. Pointwise (manual, status, range, negative) and 2. neighbours among the
    # surviving readings (flat lines, spikes), in one pass: a run or a spike is settled
    # once the next surviving reading is known, and only earlier readings are changed.
    a = -1  # the surviving reading before b
    b = -1  # the last surviving reading
    ab_linked = False
    run_start = -1
    run_length = 0
    for i in range(n + 1):
        if i < n:
            f = 0
            if has_manual and manual[i]:
                f |= _MANUAL
            s = status[i]
            if s == 1:
                f |= _CALIB
            elif s == 2:
                f |= _FAULT
            if f == 0:
                p = parameter[i]
                v = value[i]
                if has_bounds:
                    if v > high[i] or v < low[i]:
                        f |= _RANGE
                elif v > range_max[p]:
                    f |= _RANGE
                if v < neg_below[p]:
                    f |= _NEG
            out[i] = f
            if f != 0:
                continue
        linked = (
            i < n and b >= 0 and station[b] == station[i] and parameter[b] == parameter[i]
            and ts[i] - ts[b] <= gap_us
        )  # fmt: skip
        # Spike test of b, now that its next neighbour is known.
        if linked and ab_linked:
            va, vb, vc = value[a], value[b], value[i]
            if abs(vb - (va + vc) / 2) - abs((vc - va) / 2) > spike[parameter[b]]:
                out[b] |= _SPIKE
        # Flat line: extend the run ending at b, or close it (flagged if long enough).
        if linked and value[i] == value[b]:
            run_length += 1
        else:
            if b >= 0 and run_length >= flat_n[parameter[b]]:
                for j in range(run_start, b + 1):
                    if out[j] & _POINTWISE == 0:
                        out[j] |= _FLAT
            run_start = i
            run_length = 1
        a, b, ab_linked = b, i, linked

    # 3. PM2.5 above PM10: hourly means of the surviving PM readings of each station.
    if pm25 < 0 or pm10 < 0:
        return
    i = 0
    while i < n:
        # The station's readings are [i, end); its PM2.5 and PM10 blocks inside.
        st = station[i]
        end = i
        while end < n and station[end] == st:
            end += 1
        lo25 = hi25 = lo10 = hi10 = i
        j = i
        while j < end:
            k = j
            while k < end and parameter[k] == parameter[j]:
                k += 1
            if parameter[j] == pm25:
                lo25, hi25 = j, k
            elif parameter[j] == pm10:
                lo10, hi10 = j, k
            j = k
        p = lo25
        q = lo10
        while p < hi25 and q < hi10:
            h25 = ts[p] // _US_PER_HOUR
            h10 = ts[q] // _US_PER_HOUR
            p_end = p
            while p_end < hi25 and ts[p_end] // _US_PER_HOUR == h25:
                p_end += 1
            q_end = q
            while q_end < hi10 and ts[q_end] // _US_PER_HOUR == h10:
                q_end += 1
            if h25 < h10:
                p = p_end
                continue
            if h10 < h25:
                q = q_end
                continue
            s25 = 0.0
            n25 = 0
            for r in range(p, p_end):
                if out[r] == 0:
                    s25 += max(value[r], 0.0)
                    n25 += 1
            s10 = 0.0
            n10 = 0
            for r in range(q, q_end):
                if out[r] == 0:
                    s10 += max(value[r], 0.0)
                    n10 += 1
            if n25 > 0 and n10 > 0 and s25 / n25 > s10 / n10 * (1 + pm_rel) + pm_abs:
                for r in range(p, p_end):
                    if out[r] == 0:
                        out[r] = _PM
                for r in range(q, q_end):
                    if out[r] == 0:
                        out[r] = _PM
            p, q = p_end, q_end
        i = end


def run(
    station: np.ndarray, parameter: np.ndarray, ts: np.ndarray, value: np.ndarray,
    status: np.ndarray, manual: np.ndarray | None, tables: tuple[np.ndarray, ...],
    low: np.ndarray | None, high: np.ndarray | None, gap_us: int, pm25: int, pm10: int,
    pm_abs: float, pm_rel: float,
) -> np.ndarray:  # fmt: skip
    """Call the kernel; ``tables`` = negative floors, range tops, flat-line lengths, spikes;
    ``low``/``high`` per-reading range bounds (rules.range_bounds) replace the range tops."""
    compiled = kernel()
    assert compiled is not None
    out = np.empty(len(value), np.uint16)  # the kernel writes every element
    has_manual = manual is not None
    flags_manual = manual if manual is not None else np.zeros(1, np.bool_)
    has_bounds = low is not None and high is not None
    no_bounds = np.zeros(1, np.float64)
    compiled(station, parameter, ts, value, status, flags_manual, has_manual, *tables,
             has_bounds, low if has_bounds else no_bounds, high if has_bounds else no_bounds,
             gap_us, pm25, pm10, pm_abs, pm_rel, out)  # fmt: skip
    return out
