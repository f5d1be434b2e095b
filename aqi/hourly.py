"""Hourly AQI (AQI^h) of many stations at once.

Public API::

    hourly_aqi(conc, method="vn_1459_2019", *, hours_before=0,
               nowcast_form="normalised", completeness=CompletenessRules()) -> AqiResult

``conc`` maps pollutant keys (``pm25, pm10, o3, no2, so2, co``; any subset) to
``stations × hours`` float64 arrays of 1-h means in µg/m³ (CO too), NaN = missing,
hour-beginning and aligned (column *k* + 1 is the hour after column *k*). The first
``hours_before`` columns are history only (12 for the PM NowCast; 7 more are needed by
the US O3 NowCast and 8-h CO); the result covers the remaining columns.

Rules per method:

``vn_1459_2019`` (1459 §2.2.1)
    PM2.5/PM10: NowCast of the 12 hours ending with the hour (2 of the 3 most recent
    needed) on the PM table; O3: 1-h mean on the O3 (1h) column; NO2, SO2, CO: 1-h mean.
``us_epa_2024`` / ``us_epa_2012`` (TAD 2024; AirNow-Tech)
    PM: NowCast truncated, 24-h table; O3: the larger of the 1-h index (≥ 0.125 ppm) and
    the 8-h index of the O3 NowCast (8 hours, w = min/max without lower bound, the
    2016–2019 AirNow method — *not* today's AirNow PLS model); NO2: 1-h; SO2: 1-h up to
    304 ppb, 200 above; CO: trailing 8-h mean (≥ 6 of 8 hours) on the 8-h table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from aqi.averaging import (
    DAY_MIN_VALID_HOURS,
    DAY_MIN_VALID_WINDOWS,
    EIGHT_HOUR_MIN_VALID_HOURS,
    US_O3_MIN_VALID_WINDOWS,
    trailing_mean,
)
from aqi.bounds import at_least
from aqi.breakpoints import check_method
from aqi.nowcast import NowcastForm, nowcast
from aqi.overall import AqiResult, CountArray, FloatArray, build_result, compute_in_station_blocks
from aqi.pollutants import PM_POLLUTANTS, station_hour_arrays
from aqi.subindex import subindex, us_so2_hourly_subindex

BLOCK_CELLS: Final[int] = 1 << 16
"""Station-hours computed together (whole stations: 7 of a year of hours); keeps
temporaries small (≈ 15 MB) and memory bounded. Measured: 32 k and 64 k are equal for
hourly, 64 k is ~25 % faster for daily; 128 k gains little more."""


@dataclass(frozen=True)
class CompletenessRules:
    """Completeness rules (project decisions, docs/aqi-engine.md; configurable, counts stored).

    Attributes
    ----------
    min_hours_day : int
        Valid hours for a 24-h mean or a daily max 1-h (18 of 24).
    min_hours_8h : int
        Valid hours for an 8-h mean (6 of 8).
    min_windows_8h : int
        Valid 8-h means for a daily max 8-h over 24 windows (18 of 24; VN O3, US CO).
    min_windows_o3_us : int
        Valid 8-h means for the US daily O3 max over its 17 windows (13 of 17).
    """

    min_hours_day: int = DAY_MIN_VALID_HOURS
    min_hours_8h: int = EIGHT_HOUR_MIN_VALID_HOURS
    min_windows_8h: int = DAY_MIN_VALID_WINDOWS
    min_windows_o3_us: int = US_O3_MIN_VALID_WINDOWS


DEFAULT_COMPLETENESS: Final = CompletenessRules()


def hourly_aqi(
    conc: Mapping[str, npt.ArrayLike],
    method: str = "vn_1459_2019",
    *,
    hours_before: int = 0,
    nowcast_form: NowcastForm = "normalised",
    completeness: CompletenessRules = DEFAULT_COMPLETENESS,
) -> AqiResult:
    """Hourly AQI, sub-indices, NowCasts and counts for every station and hour.

    Parameters
    ----------
    conc : mapping of str to array_like
        1-h means in µg/m³ per pollutant key, each ``stations × hours`` (or 1-D for one
        station), NaN = missing (status 01/02 already removed).
    method : str
        ``vn_1459_2019`` (default), ``us_epa_2024`` or ``us_epa_2012``.
    hours_before : int
        Leading columns used only as history (12 for NowCast; 12 also covers 8-h means).
    nowcast_form : {'normalised', 'literal'}
        PM NowCast form for w = ½; ``literal`` only to reproduce a publisher.
    completeness : CompletenessRules
        ``min_hours_8h`` applies to the US 8-h CO mean.

    Returns
    -------
    AqiResult
        Shape ``(stations, hours - hours_before)``; ``period='hour'``.

    References
    ----------
    .. [1] Quyết định 1459/QĐ-TCMT §2.2.1 (AQI giờ), §2.1 (PM rule).
    .. [2] EPA-454/B-24-002 (2024); AirNow-Tech "The NowCast for PM2.5 and PM10",
       "Daily and Hourly AQI – Other pollutants".
    """
    check_method(method)
    arrays, one_station = station_hour_arrays(conc)
    n_hours = next(iter(arrays.values())).shape[1]
    if not 0 <= hours_before <= n_hours:
        raise ValueError(f"hours_before={hours_before} outside 0…{n_hours}")

    def compute(block: dict[str, FloatArray]) -> AqiResult:
        return _hourly_block(block, method, hours_before, nowcast_form, completeness)

    result = compute_in_station_blocks(compute, arrays, BLOCK_CELLS)
    return result.map_arrays(lambda a: a[0]) if one_station else result


def _hourly_block(
    conc: dict[str, FloatArray],
    method: str,
    hours_before: int,
    nowcast_form: NowcastForm,
    completeness: CompletenessRules,
) -> AqiResult:
    is_vn = method == "vn_1459_2019"
    subindex_by_pollutant: dict[str, FloatArray] = {}
    components: dict[str, FloatArray] = {}
    concentration: dict[str, FloatArray] = {}
    n_valid: dict[str, CountArray] = {}
    shape = (0, 0)
    for pollutant, raw in conc.items():
        shape = (raw.shape[0], raw.shape[1] - hours_before)
        if pollutant in PM_POLLUTANTS:
            key = f"{pollutant}_nowcast"
            # Negative readings count as 0: floor=0.
            nc = nowcast(raw, form=nowcast_form, floor=0.0)
            concentration[key] = nc.value[:, hours_before:]
            n_valid[key] = nc.n_valid[:, hours_before:]
            subindex_by_pollutant[pollutant] = subindex(
                concentration[key], f"{pollutant}_24h", method
            )
            continue
        hourly = at_least(raw, 0.0)  # negatives count as 0, and the 1-h concentrations reported
        current = hourly[:, hours_before:]
        if is_vn or pollutant == "no2":
            key = f"{pollutant}_1h"
            concentration[key] = current
            n_valid[key] = (~np.isnan(current)).astype(np.int16)
            subindex_by_pollutant[pollutant] = subindex(current, f"{pollutant}_1h", method)
        elif pollutant == "so2":
            concentration["so2_1h"] = current
            n_valid["so2_1h"] = (~np.isnan(current)).astype(np.int16)
            subindex_by_pollutant["so2"] = us_so2_hourly_subindex(current, method)
        elif pollutant == "co":
            mean_8h = trailing_mean(hourly, 8, completeness.min_hours_8h)
            concentration["co_8h"] = mean_8h.value[:, hours_before:]
            n_valid["co_8h"] = mean_8h.n_valid[:, hours_before:]
            subindex_by_pollutant["co"] = subindex(concentration["co_8h"], "co_8h", method)
        else:  # US O3: the larger of the 1-h index and the 8-h NowCast index
            o3_nowcast = nowcast(hourly, hours=8, min_weight=0.0)
            concentration["o3_1h"] = current
            n_valid["o3_1h"] = (~np.isnan(current)).astype(np.int16)
            concentration["o3_nowcast8h"] = o3_nowcast.value[:, hours_before:]
            n_valid["o3_nowcast8h"] = o3_nowcast.n_valid[:, hours_before:]
            components["o3_1h"] = subindex(current, "o3_1h", method)
            components["o3_8h"] = subindex(concentration["o3_nowcast8h"], "o3_8h", method)
            subindex_by_pollutant["o3"] = np.fmax(components["o3_1h"], components["o3_8h"])
    return build_result(
        method=method,
        period="hour",
        subindex=subindex_by_pollutant,
        components=components,
        concentration=concentration,
        n_valid=n_valid,
        shape=shape,
    )
