"""The report's statistics and findings without a database: arrays in, numbers out."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from reports.annual import statistics as st
from reports.annual.assessment import assess
from reports.annual.source import StationRecord, YearData, local_year


def test_daily_mean_needs_18_valid_hours() -> None:
    hourly = np.full(48, np.nan)
    hourly[:18] = 10.0  # day 0: 18 hours
    hourly[24:41] = 20.0  # day 1: 17 hours
    means = st.daily_means(hourly)
    assert means[0] == 10.0
    assert np.isnan(means[1])
    assert list(st.valid_hours_per_day(hourly)) == [18, 17]


def test_period_mean_needs_75_percent_of_days() -> None:
    daily = np.full(100, np.nan)
    daily[:75] = 4.0
    assert st.period_mean(daily) == st.PeriodMean(4.0, 75, 100)
    daily[74] = np.nan
    assert st.period_mean(daily).value is None


def test_exceedance_is_strictly_greater_and_needs_a_limit() -> None:
    values = np.array([49.9, 50.0, 50.1, np.nan, 80.0])
    limits = np.array([50.0, 50.0, 50.0, 50.0, np.nan])
    assert st.count_exceedances(values, limits) == (1, 3)


def test_max_8h_mean_uses_windows_ending_in_the_day() -> None:
    hourly = np.full(48, 10.0)
    hourly[24 + 3 : 24 + 11] = 130.0  # one 8-h window of day 1 at 130
    result = st.daily_max_8h_means(hourly)
    assert result[1] == pytest.approx(130.0)
    # day 0: first 7 windows reach before the grid (missing) but still have >= 6 hours
    # from window 5 on, so 19 valid windows -> a value
    assert result[0] == pytest.approx(10.0)
    sparse = np.full(24, np.nan)
    sparse[::2] = 5.0  # every window has 4 of 8 hours: no 8-h mean at all
    assert np.isnan(st.daily_max_8h_means(sparse)[0])


def test_gaps_longer_than_a_day_within_the_active_period() -> None:
    valid = np.ones(24 * 10, dtype=bool)
    valid[10:34] = False  # exactly 24 h: not longer than a day
    valid[100:130] = False  # 30 h
    active = np.ones_like(valid)
    active[200:] = False
    valid[190:] = False  # 10 h then inactive
    assert st.gaps(valid, active) == [st.Gap(100, 130)]


def test_worst_days_order_ties_by_date() -> None:
    aqi = np.array([50.0, 120.0, np.nan, 120.0, 90.0])
    assert list(st.worst_days(aqi, 3)) == [1, 3, 4]


def _year_data(year: int, hourly: np.ndarray, aqi: np.ndarray) -> YearData:
    start_utc, days = local_year(year, "Asia/Ho_Chi_Minh")
    return YearData(year, start_utc, days, ("S1",), ("pm10",), hourly, aqi,
                    np.full(aqi.shape, "pm10", dtype=object))


def test_pm10_limit_changes_on_12_september_2023() -> None:
    """120 µg/m³ every day: over QCVN 05:2023's 100 from 12/09, under 2013's 150 before."""
    _, days = local_year(2023, "Asia/Ho_Chi_Minh")
    hourly = np.full((1, 1, len(days) * 24), 120.0)
    aqi = np.full((1, len(days)), 85.0)
    station = StationRecord("S1", "Trạm thử", None, None, "fixed_automatic", "active",
                            None, None, ("pm10", "pm25", "o3", "no2"), public_aqi=True)
    start_local = datetime(2023, 1, 1, tzinfo=UTC) - timedelta(hours=7)
    report = assess([station], _year_data(2023, hourly, aqi), "Bắc Ninh", start_local)
    (exceedance,) = [e for e in report.stations[0].exceedances if e.averaging == "24h"]
    after = (date(2024, 1, 1) - date(2023, 9, 12)).days
    assert exceedance.exceeded == after
    assert [(r.value, r.first_day, r.last_day) for r in exceedance.regimes] == [
        (150.0, date(2023, 1, 1), date(2023, 9, 11)),
        (100.0, date(2023, 9, 12), date(2023, 12, 31)),
    ]
    assert report.stations[0].category_days.counts == (0, len(days), 0, 0, 0, 0)


def test_timezone_with_daylight_saving_is_refused() -> None:
    with pytest.raises(ValueError, match="Europe/Berlin"):
        local_year(2025, "Europe/Berlin")
