"""Hourly and daily indices of a work plan: one engine call per standard and period.

The AQI rules all live in :mod:`aqi`; this room only slices the matrices into the
layout the engine expects, calls :func:`aqi.hourly_aqi` and :func:`aqi.daily_aqi`
once per standard, and flattens the planned hours and days into the column arrays
:mod:`storage.aqi_tables` writes. Every row carries its method version
(``<standard>/aqm-<n>``): a change of rules, tables or completeness defaults gets a new
revision, so stored numbers of different methods never mix unnoticed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from aqi import MISSING_REASON_NAMES, POLLUTANTS, AqiResult, daily_aqi, hourly_aqi
from storage.aqi_tables import Labels
from worker.plan import DAILY_HOURS_BEFORE, HOURS_AFTER, HOURS_BEFORE, WorkPlan

FloatArray = npt.NDArray[np.float64]
Columns = dict[str, npt.NDArray[np.generic]]

STANDARDS: Final[tuple[str, ...]] = ("vn_1459_2019", "us_epa_2024")
"""Standards the worker keeps current, VN_AQI first."""
METHOD_REVISION: Final = "aqm-1"
"""Revision of aqm's implementation of the standards (rules, completeness, hour layout)."""

# aqi_daily concentration columns ← keys of AqiResult.concentration (daily results).
DAILY_CONCENTRATION_KEYS: Final[dict[str, str]] = {
    "pm25_mean": "pm25_24h",
    "pm10_mean": "pm10_24h",
    "o3_max1h": "o3_1h_max",
    "o3_max8h": "o3_8h_max",
    "no2_max1h": "no2_1h_max",
    "so2_max1h": "so2_1h_max",
    "co_max1h": "co_1h_max",
}


def method_version(standard: str) -> str:
    return f"{standard}/{METHOD_REVISION}"


def labels(stations: list[str]) -> Labels:
    """Text behind the codes of :func:`compute_indices`' columns."""
    return Labels(
        stations=stations,
        standards=STANDARDS,
        method_versions=[method_version(s) for s in STANDARDS],
        pollutants=POLLUTANTS,
        missing_reasons=MISSING_REASON_NAMES[1:],
    )


@dataclass(frozen=True)
class ComputedIndices:
    """Column arrays for ``aqi_hourly`` and ``aqi_daily`` (all standards stacked)."""

    hourly: Columns
    daily: Columns


def compute_indices(plan: WorkPlan, conc: Mapping[str, FloatArray]) -> ComputedIndices:
    """Hourly and daily AQI of every planned hour and day, for every standard.

    Parameters
    ----------
    plan : WorkPlan
    conc : mapping of pollutant key to ``plan.n_rows × plan.n_columns`` matrices
        Valid hourly means (µg/m³), NaN = missing.
    """
    if not conc:
        # No pollutant value at all: the engine still decides what that means (no_data).
        conc = {"pm25": np.full((plan.n_rows, plan.n_columns), np.nan)}
    day_end = HOURS_BEFORE + 24 * plan.days_per_row
    for_hours = {p: m[:, :day_end] for p, m in conc.items()}
    for_days = {p: m[:, HOURS_BEFORE - DAILY_HOURS_BEFORE :] for p, m in conc.items()}
    hour_rows, hour_columns, hour_numbers = plan.written_hours()
    day_rows, day_columns, day_numbers = plan.written_days()
    hours_per_day = _valid_hours_per_day(plan, conc)

    hourly_parts: list[Columns] = []
    daily_parts: list[Columns] = []
    for code, standard in enumerate(STANDARDS):
        hourly = hourly_aqi(for_hours, standard, hours_before=HOURS_BEFORE)
        part = _index_columns(hourly, hour_rows, hour_columns, plan, code)
        part["hour"] = hour_numbers
        nowcast = hourly.nowcast
        for pollutant in ("pm25", "pm10"):
            part[f"nowcast_{pollutant}"] = _pick(nowcast.get(pollutant), hour_rows, hour_columns)
        hourly_parts.append(part)

        daily = daily_aqi(
            for_days, standard, hours_before=DAILY_HOURS_BEFORE, hours_after=HOURS_AFTER
        )
        part = _index_columns(daily, day_rows, day_columns, plan, code)
        part["day"] = day_numbers
        for column, key in DAILY_CONCENTRATION_KEYS.items():
            part[column] = _pick(daily.concentration.get(key), day_rows, day_columns)
        for pollutant in POLLUTANTS:
            counts = hours_per_day.get(pollutant)
            part[f"n_hours_{pollutant}"] = (
                counts[day_rows, day_columns] if counts is not None
                else np.zeros(len(day_rows), np.int16)
            )  # fmt: skip
        daily_parts.append(part)
    return ComputedIndices(_stack(hourly_parts), _stack(daily_parts))


def _index_columns(
    result: AqiResult,
    rows: npt.NDArray[np.int64],
    columns: npt.NDArray[np.int64],
    plan: WorkPlan,
    standard_code: int,
) -> Columns:
    """Columns shared by hourly and daily rows, for the chosen cells of ``result``."""
    part: Columns = {
        "station": plan.row_station[rows],
        "standard": np.full(len(rows), standard_code, np.int64),
        "aqi": result.aqi[rows, columns],
        # Engine -1 (none) becomes 0, which storage writes as NULL.
        "category": result.category[rows, columns].astype(np.int16) + 1,
        "dominant": result.dominant[rows, columns].astype(np.int16) + 1,
        "missing_reason": result.missing_reason[rows, columns].astype(np.int16),
        "beyond_index": result.beyond_index[rows, columns],
    }
    for pollutant in POLLUTANTS:
        part[f"sub_{pollutant}"] = _pick(result.subindex.get(pollutant), rows, columns)
    return part


def _pick(
    values: FloatArray | None, rows: npt.NDArray[np.int64], columns: npt.NDArray[np.int64]
) -> FloatArray:
    if values is None:
        return np.full(len(rows), np.nan)
    return values[rows, columns]


def _valid_hours_per_day(
    plan: WorkPlan, conc: Mapping[str, FloatArray]
) -> dict[str, npt.NDArray[np.int16]]:
    """Valid hourly means of each pollutant in each local day (``n_hours_*`` columns)."""
    days = slice(HOURS_BEFORE, HOURS_BEFORE + 24 * plan.days_per_row)
    return {
        pollutant: (~np.isnan(matrix[:, days]))
        .reshape(plan.n_rows, plan.days_per_row, 24)
        .sum(axis=-1, dtype=np.int16)
        for pollutant, matrix in conc.items()
    }


def _stack(parts: list[Columns]) -> Columns:
    return {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}
