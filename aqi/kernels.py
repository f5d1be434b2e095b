"""Compiled loops for the engine's hot paths (optional: numba, the ``fast`` extra).

The numpy code of :mod:`aqi.nowcast`, :mod:`aqi.interpolation` and :mod:`aqi.overall` is
the reference. Each kernel here performs the same floating-point operations on each
value, in the same order, with no fused multiply-add and no fast-math, so it returns the
same doubles (the tests compare both byte for byte; a NaN's sign bit is no value, and
numpy's own loops do not keep it either); what it saves is numpy's whole-array
passes and temporaries, e.g. NowCast's 12 window lags run over a tile of 256 hours held
in the L1 cache instead of over whole arrays.

Backend, chosen once per process by :func:`configure_backend` (the commands pass the
``AQM_AQI_BACKEND`` setting) or for a block by :func:`use_backend`:

``auto`` (default)
    The kernels for calls on at least :data:`AUTO_MIN_VALUES` values when numba can be
    imported, the numpy code otherwise. Importing numba and loading the compiled code
    costs about a second once per process, more than the kernels save on smaller calls
    (a command-line run on a few stations never imports numba).
``numba``
    The kernels for every call; an error if numba is missing.
``numpy``
    The numpy code only.

Kernels are compiled on first use and cached on disk beside this file (``__pycache__``),
or in numba's user cache when that is read-only (without any writable cache, in every
process), so only the first run on a machine pays the compilation (a few seconds).
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from typing import Any, Final

import numpy as np

from aqm_core.errors import AqmError

BACKENDS: Final[tuple[str, ...]] = ("auto", "numba", "numpy")
AUTO_MIN_VALUES: Final[int] = 1 << 20
"""Smallest call (station-hours, or values for one function) given to the kernels by
``auto``: ~0.05 µs saved per station-hour against ~1 s of import and loading."""
TILE: Final[int] = 256
"""Hours of one station computed together by the NowCast kernel (its scratch rows stay
in the L1 cache)."""

_configured: dict[str, str] = {"backend": "auto"}
"""The process-wide backend set by :func:`configure_backend`, under the key ``backend``."""

_override: ContextVar[str | None] = ContextVar("aqi_backend_override", default=None)
"""The backend set by :func:`use_backend` for the current thread or task, if any."""


class BackendError(AqmError, ValueError):
    """An unknown backend name, or ``numba`` asked for where it cannot be imported."""


def _validated(name: str, origin: str) -> str:
    if name not in BACKENDS:
        raise BackendError(f"{origin}: unknown AQI backend {name!r}; expected one of {BACKENDS}")
    if name == "numba" and _kernels() is None:
        raise BackendError(
            f"{origin}: the numba AQI backend needs numba (pip install 'aqm[fast]'), "
            "which cannot be imported here"
        )
    return name


def backend() -> str:
    """The configured backend: ``auto``, ``numba`` or ``numpy`` (validated)."""
    chosen = _override.get()
    if chosen is not None:
        return chosen
    return _configured["backend"]


def configure_backend(name: str, origin: str = "configure_backend") -> str:
    """Set the backend of this process (``origin`` names where ``name`` came from)."""
    _configured["backend"] = _validated(name.strip() or "auto", origin)
    return _configured["backend"]


def describe_backend() -> str:
    """The configured backend in words, for logs (``auto`` tries to import numba)."""
    name = backend()
    if name != "auto":
        return {"numba": "compiled kernels (numba)", "numpy": "numpy code"}[name]
    if _kernels() is None:
        return "auto: numpy code (numba cannot be imported)"
    return f"auto: compiled kernels (numba) for calls of {AUTO_MIN_VALUES:,}+ values"


@contextmanager
def use_backend(name: str) -> Iterator[str]:
    """Run the enclosed code with backend ``name`` (``auto``, ``numba`` or ``numpy``).

    The choice holds for the current thread (or asyncio task) only; other threads keep
    theirs, and threads started inside the block begin from :func:`configure_backend`'s choice.
    """
    token = _override.set(_validated(name, "use_backend"))
    try:
        yield name
    finally:
        _override.reset(token)


def compiled(values: int) -> Kernels | None:
    """The kernels for a call on ``values`` values (station-hours), or None: numpy code."""
    name = backend()
    if name == "numpy" or (name == "auto" and values < AUTO_MIN_VALUES):
        return None
    return _kernels()


class Kernels:
    """The compiled kernels (attributes named as the Python functions below)."""

    def __init__(self, jit: Callable[[Callable[..., Any]], Callable[..., Any]]) -> None:
        self.nowcast = jit(nowcast_kernel)
        self.interpolate = jit(interpolate_kernel)
        self.fold_subindex = jit(fold_subindex_kernel)
        self.fold_seen = jit(fold_seen_kernel)
        self.finish = jit(finish_kernel)


@cache
def _kernels() -> Kernels | None:
    """The kernels (compiled lazily, call by call), or None where numba cannot be imported."""
    try:
        numba = importlib.import_module("numba")
    except ImportError:
        return None
    # No fastmath: every kernel must round exactly as numpy does. error_model="numpy":
    # IEEE division, no ZeroDivisionError check in the loops.
    options = {"nogil": True, "boundscheck": False, "error_model": "numpy"}

    def jit(function: Callable[..., Any]) -> Callable[..., Any]:
        try:
            compiled: Callable[..., Any] = numba.njit(cache=True, **options)(function)
        except RuntimeError:  # no writable cache directory: compile in every process
            compiled = numba.njit(cache=False, **options)(function)
        return compiled

    return Kernels(jit)


# --- the kernels, as plain Python (compiled by numba; never run by the interpreter) -----


def nowcast_kernel(
    values: Any,
    has_floor: bool,
    floor: float,
    hours: int,
    min_weight: float,
    recent_hours: int,
    min_recent: int,
    literal: bool,
    out_value: Any,
    out_count: Any,
) -> None:
    """:func:`aqi.nowcast.nowcast` of each row of ``values`` (stations × hours).

    Per hour, oldest lag first: ``num = num·w + c``, ``den = den·w + valid`` (Horner, as
    the numpy code), window minimum/maximum with ``fmin``/``fmax``, valid hours by running
    sums (whole numbers: exact). Rows are padded with ``lags − 1`` missing hours so the
    first hours see only what precedes them. Values are first raised to ``floor`` when
    ``has_floor`` (as ``np.maximum``: −0.0 becomes 0.0).
    """
    n_rows, n = values.shape
    lags = max(hours, recent_hours)
    pad = lags - 1
    term = np.zeros(n + pad)  # c, 0 where missing
    valid = np.zeros(n + pad)  # 1.0 / 0.0
    window = np.full(n + pad, np.nan)  # c, NaN where missing (for fmin/fmax)
    count = np.empty(n)  # valid hours in the window
    recent = np.empty(n)  # valid hours among the most recent
    low = np.empty(TILE)
    high = np.empty(TILE)
    num = np.empty(TILE)
    den = np.empty(TILE)
    weight = np.empty(TILE)
    for row in range(n_rows):
        for t in range(n):
            c = values[row, t]
            if has_floor:
                c = c if (c > floor or math.isnan(c)) else floor
            ok = not math.isnan(c)  # selects, not branches: vectorised
            term[pad + t] = c if ok else 0.0
            valid[pad + t] = 1.0 if ok else 0.0
            window[pad + t] = c
        # Valid hours in each window: running sums (whole numbers, exact).
        in_window = 0.0
        in_recent = 0.0
        for k in range(pad):
            if k >= pad - (hours - 1):
                in_window += valid[k]
            if k >= pad - (recent_hours - 1):
                in_recent += valid[k]
        for t in range(n):
            p = pad + t
            in_window += valid[p]
            in_recent += valid[p]
            count[t] = in_window
            recent[t] = in_recent
            in_window -= valid[p - hours + 1]
            in_recent -= valid[p - recent_hours + 1]
        for start in range(0, n, TILE):
            m = min(TILE, n - start)
            for j in range(m):
                low[j] = np.nan
                high[j] = np.nan
            for lag in range(hours):
                first = start + pad - lag
                w_lag = window[first : first + m]
                for j in range(m):
                    low[j] = np.fmin(low[j], w_lag[j])
                    high[j] = np.fmax(high[j], w_lag[j])
            oldest = start + pad - (hours - 1)
            for j in range(m):
                h = high[j]
                w = low[j] / h if h > 0.0 else 1.0
                # np.maximum(w, min_weight): NaN (inf/inf) stays NaN, −0.0 gives min_weight.
                weight[j] = w if (w > min_weight or math.isnan(w)) else min_weight
                num[j] = 0.0 + term[oldest + j]
                den[j] = 0.0 + valid[oldest + j]
            for lag in range(hours - 2, -1, -1):
                first = start + pad - lag
                t_lag = term[first : first + m]
                v_lag = valid[first : first + m]
                for j in range(m):
                    num[j] = num[j] * weight[j] + t_lag[j]
                for j in range(m):
                    den[j] = den[j] * weight[j] + v_lag[j]
            for j in range(m):
                t = start + j
                out_count[row, t] = np.int16(count[t])
                q = num[j] / den[j]  # IEEE division (error_model="numpy"); den 0 is masked
                if literal and weight[j] == 0.5:
                    q = 0.5 * num[j]
                out_value[row, t] = q if (recent[t] >= min_recent and den[j] > 0.0) else np.nan


def interpolate_kernel(
    values: Any,
    has_floor: bool,
    floor: float,
    thresholds: Any,
    above_top: bool,
    top: float,
    starts: Any,
    slopes: Any,
    levels: Any,
    out: Any,
) -> None:
    """:func:`aqi.interpolation.interpolate` of a 2-D array, slot tables given.

    ``out = (min(x, top) − starts[k])·slopes[k] + levels[k]``, k = the breakpoints reached;
    ``x`` first raised to ``floor`` when ``has_floor`` (as ``np.maximum``: −0.0 → floor 0.0).
    """
    n_rows, n = values.shape
    for row in range(n_rows):
        for t in range(n):
            x = values[row, t]
            if has_floor and not x > floor and not math.isnan(x):
                x = floor
            slot = 0
            for k in range(thresholds.shape[0]):  # indexed: faster than iterating
                slot += x >= thresholds[k]  # arithmetic, not a branch: no mispredictions
            if above_top:
                slot += x > top
            capped = top if x > top else x
            result = capped - starts[slot]
            result = result * slopes[slot]
            out[row, t] = result + levels[slot]


def fold_subindex_kernel(
    best: Any, dominant: Any, has_pm: Any, subindex: Any, position: int, is_pm: bool
) -> None:
    """One pollutant into the running maximum (:func:`aqi.overall.combine_subindices`)."""
    n_rows, n = best.shape
    for row in range(n_rows):
        for t in range(n):
            value = subindex[row, t]
            if value > best[row, t]:  # strictly: an equal later pollutant never wins
                best[row, t] = value
                dominant[row, t] = position
            if is_pm and not math.isnan(value):
                has_pm[row, t] = True


def fold_seen_kernel(any_seen: Any, pm_seen: Any, counts: Any, is_pm: bool) -> None:
    """Valid-value counts into the 'seen' flags behind the missing reason."""
    n_rows, n = counts.shape
    for row in range(n_rows):
        for t in range(n):
            if counts[row, t] > 0:
                any_seen[row, t] = True
                if is_pm:
                    pm_seen[row, t] = True


def finish_kernel(
    best: Any,
    dominant: Any,
    has_pm: Any,
    any_seen: Any,
    pm_seen: Any,
    uppers: Any,
    aqi: Any,
    category: Any,
    reason: Any,
    beyond: Any,
) -> None:
    """AQI rounded half-up, category, missing reason and the >500 flag (as the numpy code).

    ``round_half_up``: ``floor(rint(x·10⁹)/10⁹ + 0.5)`` (numpy's ``round(9)``, then +½).
    """
    n_rows, n = best.shape
    for row in range(n_rows):
        for t in range(n):
            if not has_pm[row, t]:
                best[row, t] = np.nan
                dominant[row, t] = -1
            value = best[row, t]
            rounded = np.floor(np.rint(value * 1e9) / 1e9 + 0.5)
            aqi[row, t] = rounded
            band = -1 if math.isnan(rounded) else 0
            for k in range(uppers.shape[0]):
                band += rounded > uppers[k]
            category[row, t] = band
            code = 0
            if not has_pm[row, t]:
                code = 1 + int(any_seen[row, t]) + int(pm_seen[row, t])
            reason[row, t] = code
            beyond[row, t] = value > 500.0
