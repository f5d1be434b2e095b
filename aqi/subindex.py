"""Sub-index of one pollutant: piecewise-linear interpolation in a breakpoint table.

    I = (I_hi − I_lo) / (BP_hi − BP_lo) × (C − BP_lo) + I_lo

evaluated for whole arrays at once (:func:`aqi.interpolation.interpolate`, equal to
``numpy.interp`` over the table's points; no Python loop over values). Each method's rules:

* ``vn_1459_2019``: full precision, no truncation; C ≥ the level-8 breakpoint → 500;
  O3 8-h above 400 µg/m³ → not computed (NaN) (1459 §2.2, Công thức 1–2).
* ``us_epa_2024`` / ``us_epa_2012``: µg/m³ converted to the table unit (ppb/ppm, 24.45
  L/mol), truncated (PM2.5 0.1 µg/m³, PM10 1 µg/m³, O3 0.001 ppm, CO 0.1 ppm, SO2/NO2
  1 ppb), then interpolated; above the last row the Hazardous line is extended
  ("beyond the AQI", > 500; TAD 2024); O3 8-h above 0.200 ppm → 300 (TAD 2024);
  O3 1-h below 0.125 ppm → no index; SO2 rules in :func:`us_so2_hourly_subindex` and
  :func:`us_so2_daily_subindex`.

Negative concentrations count as 0; NaN (missing) stays NaN.
Sub-indices are returned unrounded; round with :func:`aqi.rounding.round_half_up`.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from aqi.bounds import at_least
from aqi.breakpoints import BreakpointTable, breakpoint_table
from aqi.interpolation import interpolate
from aqi.rounding import truncate
from aqi.units import convert

FloatArray = npt.NDArray[np.float64]


def interpolate_subindex(conc: npt.ArrayLike, table: BreakpointTable) -> FloatArray:
    """Sub-index of concentrations given in the table's own unit.

    Parameters
    ----------
    conc : array_like
        Concentrations in ``table.unit`` (µg/m³ for VN; µg/m³, ppb or ppm for EPA),
        any shape. NaN = missing.
    table : BreakpointTable
        One column of a breakpoint table (:mod:`aqi.breakpoints`).

    Returns
    -------
    numpy.ndarray
        Unrounded sub-index, same shape; NaN where missing or undefined.

    References
    ----------
    .. [1] Quyết định 1459/QĐ-TCMT §2.2.1–2.2.2, Công thức 1 and 2, Bảng 2.
    .. [2] EPA-454/B-24-002 (2024), "Calculating the AQI", Equation 1, Table 6.
    """
    # Negative readings count as 0; NaN stays NaN.
    fp = table.index_points
    right = fp[-1] if table.above_top == "cap" else np.nan
    if table.truncation_decimals is None:
        c = np.asarray(conc, dtype=np.float64)
        result = interpolate(c, table.conc_points, fp, right, floor=0.0)
    else:
        c = truncate(at_least(conc, 0.0), table.truncation_decimals)
        result = interpolate(c, table.conc_points, fp, right)
    if table.above_top == "extrapolate":
        beyond = c > table.top
        if beyond.any():
            c_lo, c_hi, i_lo, i_hi = table.rows[-1]
            result[beyond] = (i_hi - i_lo) / (c_hi - c_lo) * (c[beyond] - c_lo) + i_lo
    return result


def to_table_unit(conc: npt.ArrayLike, table: BreakpointTable) -> FloatArray:
    """Concentrations in µg/m³ converted to the unit of ``table`` (24.45 L/mol)."""
    if table.unit == "µg/m³":
        return np.asarray(conc, dtype=np.float64)
    return convert(conc, table.pollutant, "µg/m³", table.unit)


def subindex(conc: npt.ArrayLike, scale: str, method: str = "vn_1459_2019") -> FloatArray:
    """Sub-index of concentrations in µg/m³ on one scale of a method.

    Parameters
    ----------
    conc : array_like
        Concentrations in µg/m³ (CO too), any shape; NaN = missing.
    scale : str
        ``<pollutant>_<averaging>``: VN ``pm25_24h, pm10_24h, o3_1h, o3_8h, no2_1h,
        so2_1h, co_1h``; US ``pm25_24h, pm10_24h, o3_8h, o3_1h, co_8h, so2_1h, so2_24h,
        no2_1h``. PM NowCast values use the ``_24h`` scale.
    method : str
        ``vn_1459_2019`` (default), ``us_epa_2024`` or ``us_epa_2012``.

    Returns
    -------
    numpy.ndarray
        Unrounded sub-index; NaN where missing or undefined.

    References
    ----------
    .. [1] Quyết định 1459/QĐ-TCMT §2.2, Công thức 1–2, Bảng 2.
    .. [2] EPA-454/B-24-002 (2024), Equation 1 and Table 6.
    """
    table = breakpoint_table(method, scale)
    return interpolate_subindex(to_table_unit(conc, table), table)


def _so2_rows(method: str) -> tuple[BreakpointTable, BreakpointTable]:
    if method == "vn_1459_2019":
        raise ValueError("the SO2 24-h rule exists only in the US EPA methods")
    return breakpoint_table(method, "so2_1h"), breakpoint_table(method, "so2_24h")


def us_so2_hourly_subindex(conc_1h: npt.ArrayLike, method: str = "us_epa_2024") -> FloatArray:
    """US SO2 sub-index of 1-h means (µg/m³): 1-h rows up to 304 ppb, 200 above.

    1-h SO2 values do not define AQI ≥ 200; with no 24-h mean in an hourly product,
    hours at or above 305 ppb are reported as 200.

    References
    ----------
    .. [1] EPA-454/B-24-002 (2024), "Calculating AQI values for SO2", Table 6 note;
       AirNow-Tech "Daily and Hourly AQI – Other pollutants".
    """
    rows_1h, _ = _so2_rows(method)
    ppb = truncate(at_least(to_table_unit(conc_1h, rows_1h), 0.0), 0)
    result = interpolate_subindex(ppb, rows_1h)
    result[ppb >= 305.0] = 200.0
    return result


def us_so2_daily_subindex(
    max_1h: npt.ArrayLike, mean_24h: npt.ArrayLike, method: str = "us_epa_2024"
) -> FloatArray:
    """US daily SO2 sub-index from the day's max 1-h and 24-h mean (µg/m³).

    max 1-h < 305 ppb → 1-h rows; else 24-h mean ≥ 305 ppb → 24-h rows; else 200
    (also when the 24-h mean is missing).

    References
    ----------
    .. [1] EPA-454/B-24-002 (2024), "Calculating AQI values for SO2".
    """
    rows_1h, rows_24h = _so2_rows(method)
    ppb_1h = truncate(at_least(to_table_unit(max_1h, rows_1h), 0.0), 0)
    ppb_24h = truncate(at_least(to_table_unit(mean_24h, rows_24h), 0.0), 0)
    result = interpolate_subindex(ppb_1h, rows_1h)
    high = ppb_1h >= 305.0
    by_24h = interpolate_subindex(ppb_24h[high], rows_24h)
    result[high] = np.where(ppb_24h[high] >= 305.0, by_24h, 200.0)
    return result
