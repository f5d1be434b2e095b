"""Bounds on whole arrays: negative readings → 0, the NowCast weight floor,
the top of a breakpoint table.

``np.maximum(values, 0.0)`` with a Python scalar runs numpy's slow element-by-element
loop (numpy 2.x: about 4× slower than with an array operand). These functions pass the
bound as one row that broadcasts over the stations, which numpy runs with its vectorised
loop. Same ufunc, same values (NaN stays NaN).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def at_least(values: npt.ArrayLike, bound: float, out: FloatArray | None = None) -> FloatArray:
    """``np.maximum(values, bound)`` as float64 (NaN stays NaN); ``out`` may be ``values``."""
    return _bounded(np.maximum, values, bound, out)


def at_most(values: npt.ArrayLike, bound: float, out: FloatArray | None = None) -> FloatArray:
    """``np.minimum(values, bound)`` as float64 (NaN stays NaN); ``out`` may be ``values``."""
    return _bounded(np.minimum, values, bound, out)


def _bounded(
    ufunc: np.ufunc, values: npt.ArrayLike, bound: float, out: FloatArray | None
) -> FloatArray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim == 0:
        scalar: FloatArray = ufunc(array, bound)
        return scalar
    row = np.full(array.shape[-1], bound)
    result: FloatArray = ufunc(array, row, out=out)
    return result
