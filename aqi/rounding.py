"""Half-up rounding and EPA truncation, robust to binary floating point.

Decision 1459 says the AQI is "rounded to an integer" without a direction; aqm rounds half
up, never half to even (project decision, docs/aqi-engine.md). Values that are exactly .5
on paper (109.5 from PM2.5 55.7, 104.5 from O3 0.072 ppm) are often 109.49999999999999
in binary, so both functions first snap to a fixed number of decimals; the snap is far
below any measurement precision.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

SNAP_DECIMALS: Final[int] = 9
"""Decimals kept before rounding half up, so exact .5 cases on paper stay exact."""

TRUNCATION_SNAP_DECIMALS: Final[int] = 6
"""Decimals (in units of the truncation step) kept before truncating, so 35.4/0.1 = 353.99…
truncates to 354, not 353."""


def round_half_up(values: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Round to the nearest integer, halves away from minus infinity (x.5 → x+1).

    Parameters
    ----------
    values : array_like
        Sub-indices or AQI values. NaN stays NaN.

    Returns
    -------
    numpy.ndarray
        float64 integers (NaN where the input is NaN).

    References
    ----------
    .. [1] Quyết định 1459/QĐ-TCMT, Công thức 1 (AQI rounded to an integer); half up is
       the project's decision (docs/aqi-engine.md).
    """
    snapped = np.asarray(values, dtype=np.float64).round(SNAP_DECIMALS)
    snapped += 0.5
    np.floor(snapped, out=snapped)
    return snapped


def truncate(values: npt.ArrayLike, decimals: int) -> npt.NDArray[np.float64]:
    """Truncate to ``decimals`` digits, towards zero (never round).

    Parameters
    ----------
    values : array_like
        Concentrations in the unit of the breakpoint table. NaN stays NaN.
    decimals : int
        Digits kept (EPA: PM2.5 1, PM10 0, O3 3 (ppm), CO 1 (ppm), SO2/NO2 0 (ppb)).

    Returns
    -------
    numpy.ndarray
        Truncated values; ``k / 10**decimals`` so 325.4 is the same double as the literal.

    References
    ----------
    .. [1] US EPA, EPA-454/B-24-002 (May 2024), "Calculating the AQI", step 1 (truncation).
    """
    scale = 10.0**decimals
    scaled = np.asarray(values, dtype=np.float64) * scale
    np.round(scaled, TRUNCATION_SNAP_DECIMALS, out=scaled)
    np.trunc(scaled, out=scaled)
    scaled /= scale
    return scaled
