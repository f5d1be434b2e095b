"""Daily AQI (AQI^d) of many stations at once.

Public API::

    daily_aqi(conc, method="vn_1459_2019", *, hours_before=7, hours_after=0,
              completeness=CompletenessRules()) -> AqiResult

``conc`` maps pollutant keys to float64 arrays of 1-h means in µg/m³ (CO too), shaped
``stations × (hours_before + 24 × days + hours_after)``, NaN = missing, hour-beginning:
column ``hours_before`` is the hour starting 00:00 local (Asia/Ho_Chi_Minh for VN) of the
first day — 1459's hour "01:00". The 7 hours before feed the first day's trailing 8-h O3
means (VN, and US CO); the US O3 8-h windows starting 07:00…23:00 reach 7 hours into the
next day, so pass ``hours_after=7`` for complete US O3 on the last day.

Rules per method:

``vn_1459_2019`` (1459 §2.2.2)
    PM2.5/PM10: 24-h mean; O3: the larger of the O3 (1h) index of the max 1-h mean and
    the O3 (8h) index of the max 8-h mean (8-h skipped above 400 µg/m³); NO2, SO2, CO:
    max 1-h mean.
``us_epa_2024`` / ``us_epa_2012`` (TAD 2024)
    PM: 24-h mean, truncated; O3: the larger of the max 8-h index (17 windows starting
    07:00…23:00, 13 needed) and the max 1-h index; CO: max of the 24 trailing 8-h means
    ending in the day; NO2: max 1-h; SO2: max 1-h below 305 ppb, else 24-h mean ≥ 305 ppb
    on the 24-h rows, else 200.

Completeness (project decisions, docs/aqi-engine.md): 24-h mean and max 1-h need 18 valid hours,
an 8-h mean 6 of 8, a daily max 8-h 18 of its 24 windows (US O3 13 of 17).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

from aqi.averaging import (
    US_O3_WINDOW_ENDS,
    VN_WINDOW_ENDS,
    daily_max,
    daily_max_rolling,
    daily_mean,
)
from aqi.bounds import at_least
from aqi.breakpoints import check_method
from aqi.hourly import BLOCK_CELLS, DEFAULT_COMPLETENESS, CompletenessRules
from aqi.overall import AqiResult, CountArray, FloatArray, build_result, compute_in_station_blocks
from aqi.pollutants import PM_POLLUTANTS, station_hour_arrays
from aqi.subindex import subindex, us_so2_daily_subindex


def daily_aqi(
    conc: Mapping[str, npt.ArrayLike],
    method: str = "vn_1459_2019",
    *,
    hours_before: int = 7,
    hours_after: int = 0,
    completeness: CompletenessRules = DEFAULT_COMPLETENESS,
) -> AqiResult:
    """Daily AQI, sub-indices, daily concentrations and counts per station and local day.

    Parameters
    ----------
    conc : mapping of str to array_like
        1-h means in µg/m³ per pollutant key, ``stations × (hours_before + 24 × days +
        hours_after)`` (1-D for one station), local-day aligned, NaN = missing.
    method : str
        ``vn_1459_2019`` (default), ``us_epa_2024`` or ``us_epa_2012``.
    hours_before, hours_after : int
        Columns before the first day's 00:00 and after the last day's 24:00.
    completeness : CompletenessRules
        Minimum counts; the counts themselves are returned in ``n_valid``.

    Returns
    -------
    AqiResult
        Shape ``(stations, days)``; ``period='day'``.

    References
    ----------
    .. [1] Quyết định 1459/QĐ-TCMT §2.2.2 (AQI ngày), §2.1.
    .. [2] EPA-454/B-24-002 (2024) "Using both O3 1-hour and 8-hour values",
       "Calculating AQI values for SO2"; AirNow-Tech daily AQI notes.
    """
    check_method(method)
    arrays, one_station = station_hour_arrays(conc)
    n_hours = next(iter(arrays.values())).shape[1]
    if hours_before < 0 or hours_after < 0 or (n_hours - hours_before - hours_after) % 24:
        raise ValueError(
            f"{n_hours} hours minus hours_before={hours_before} and hours_after="
            f"{hours_after} must be a whole number of days (≥ 0)"
        )

    def compute(block: dict[str, FloatArray]) -> AqiResult:
        return _daily_block(block, method, hours_before, hours_after, completeness)

    result = compute_in_station_blocks(compute, arrays, BLOCK_CELLS)
    return result.map_arrays(lambda a: a[0]) if one_station else result


def _daily_block(
    conc: dict[str, FloatArray],
    method: str,
    hours_before: int,
    hours_after: int,
    rules: CompletenessRules,
) -> AqiResult:
    is_vn = method == "vn_1459_2019"
    around = {"hours_before": hours_before, "hours_after": hours_after}
    subindex_by_pollutant: dict[str, FloatArray] = {}
    components: dict[str, FloatArray] = {}
    concentration: dict[str, FloatArray] = {}
    n_valid: dict[str, CountArray] = {}
    shape: tuple[int, ...] = ()

    def record(key: str, value: FloatArray, counts: CountArray) -> FloatArray:
        concentration[key] = value
        n_valid[key] = counts
        return value

    for pollutant, raw in conc.items():
        hourly = at_least(raw, 0.0)  # negative readings count as 0
        if pollutant in PM_POLLUTANTS:
            value = record(
                f"{pollutant}_24h", *daily_mean(hourly, min_hours=rules.min_hours_day, **around)
            )
            subindex_by_pollutant[pollutant] = subindex(value, f"{pollutant}_24h", method)
        elif pollutant == "o3":
            max_1h = daily_max(hourly, min_hours=rules.min_hours_day, **around)
            peak_1h = record("o3_1h_max", *max_1h)
            peak_8h = daily_max_rolling(
                hourly,
                window=8,
                min_hours=rules.min_hours_8h,
                window_ends=VN_WINDOW_ENDS if is_vn else US_O3_WINDOW_ENDS,
                min_windows=rules.min_windows_8h if is_vn else rules.min_windows_o3_us,
                **around,
            )
            record("o3_8h_max", *peak_8h)
            components["o3_1h"] = subindex(peak_1h, "o3_1h", method)
            # VN: above 400 µg/m³ the 8-h index is undefined (NaN) and the 1-h one decides.
            components["o3_8h"] = subindex(peak_8h.value, "o3_8h", method)
            subindex_by_pollutant["o3"] = np.fmax(components["o3_1h"], components["o3_8h"])
        elif pollutant == "co" and not is_vn:
            co_8h = daily_max_rolling(
                hourly,
                window=8,
                min_hours=rules.min_hours_8h,
                window_ends=VN_WINDOW_ENDS,
                min_windows=rules.min_windows_8h,
                **around,
            )
            value = record("co_8h_max", *co_8h)
            subindex_by_pollutant["co"] = subindex(value, "co_8h", method)
        elif pollutant == "so2" and not is_vn:
            max_1h = daily_max(hourly, min_hours=rules.min_hours_day, **around)
            mean_24h = daily_mean(hourly, min_hours=rules.min_hours_day, **around)
            subindex_by_pollutant["so2"] = us_so2_daily_subindex(
                record("so2_1h_max", *max_1h), record("so2_24h", *mean_24h), method
            )
        else:  # NO2 (both), SO2 and CO (VN): max 1-h mean of the day
            peak = record(
                f"{pollutant}_1h_max", *daily_max(hourly, min_hours=rules.min_hours_day, **around)
            )
            subindex_by_pollutant[pollutant] = subindex(peak, f"{pollutant}_1h", method)
        shape = next(iter(concentration.values())).shape
    return build_result(
        method=method,
        period="day",
        subindex=subindex_by_pollutant,
        components=components,
        concentration=concentration,
        n_valid=n_valid,
        shape=shape,
    )
