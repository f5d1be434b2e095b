"""The trend over the report year and the years before it, like for like.

Each year's province figure (mean of the valid station annual means of the stations
whose AQI may be published, stations/eligibility.py) is shown beside the same figure
over the stations that have a valid value in every year compared, with both station
counts: a change of the network is never read as a change of the air.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np

from aqi.categories import category_index
from reports.annual import statistics as st
from reports.annual.assessment import GOOD_OR_MODERATE
from reports.annual.source import StationRecord, YearData
from reports.annual.tables import Column, Table

TREND_PARAMETERS: Final = ("pm25", "pm10")
GOOD_SHARE: Final = "good_share"
_LABELS: Final = {"pm25": "PM2.5 trung bình năm (µg/m³)", "pm10": "PM10 trung bình năm (µg/m³)",
                  GOOD_SHARE: "Tỷ lệ ngày Tốt + Trung bình (%)"}


@dataclass(frozen=True)
class TrendYear:
    year: int
    values: dict[str, dict[str, float]]
    """Per quantity (parameter or :data:`GOOD_SHARE`): station id → the station's value."""


def trend_year(registry: Sequence[StationRecord], data: YearData) -> TrendYear:
    """Each eligible station's annual means and share of good/moderate days in ``data``."""
    by_id = {r.station_id: r for r in registry}
    values: dict[str, dict[str, float]] = {q: {} for q in (*TREND_PARAMETERS, GOOD_SHARE)}
    for s, station_id in enumerate(data.station_ids):
        eligible = by_id[station_id].publishable(data.days)
        if not eligible.any():
            continue
        hours = np.repeat(eligible, st.HOURS_PER_DAY)
        for parameter in TREND_PARAMETERS:
            if parameter not in data.parameters:
                continue
            hourly = np.where(hours, data.hourly[s, data.parameters.index(parameter)], np.nan)
            mean = st.period_mean(st.daily_means(hourly))
            if mean.value is not None:
                values[parameter][station_id] = mean.value
        aqi = np.where(eligible, data.aqi[s], np.nan)
        with_aqi = ~np.isnan(aqi)
        if np.count_nonzero(with_aqi) >= st.MIN_DAY_SHARE * len(aqi):
            good = np.isin(category_index(aqi[with_aqi]), GOOD_OR_MODERATE)
            values[GOOD_SHARE][station_id] = 100.0 * float(np.count_nonzero(good)) / len(good)
    return TrendYear(data.year, values)


def trend_table(years: Sequence[TrendYear]) -> Table:
    """Per year and quantity: all stations (with their number) and like for like."""
    rows = []
    for quantity in (*TREND_PARAMETERS, GOOD_SHARE):
        common = set.intersection(*(set(y.values[quantity]) for y in years)) if years else set()
        for y in years:
            own = y.values[quantity]
            alike = [own[s] for s in sorted(common)]
            rows.append((
                _LABELS[quantity], str(y.year),
                float(np.mean(list(own.values()))) if own else None, len(own),
                float(np.mean(alike)) if alike else None, len(alike),
            ))  # fmt: skip
    first, last = (years[0].year, years[-1].year) if years else (0, 0)
    return Table(
        "Diễn biến nhiều năm",
        f"Diễn biến {first}–{last}: toàn tỉnh theo các trạm của từng năm, và trên cùng các "
        "trạm có số liệu đủ trong mọi năm so sánh",
        (
            Column("Chỉ tiêu", width=30), Column("Năm", width=8),
            Column("Toàn tỉnh (các trạm của năm)", "0.0", 14),
            Column("Số trạm", "0", 8),
            Column("Cùng các trạm mọi năm", "0.0", 14), Column("Số trạm cùng", "0", 8),
        ),
        tuple(rows),
        key_columns=0,
    )  # fmt: skip
