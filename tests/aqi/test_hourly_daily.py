"""Hourly and daily AQI: worked examples V2–V4, S10–S12, completeness, reasons, API."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from aqi import CompletenessRules, MissingReason, daily_aqi, hourly_aqi
from aqi.averaging import daily_max_rolling, trailing_mean
from aqi.pollutants import POLLUTANTS
from aqi.units import ppb_to_ugm3, ppm_to_ugm3

NAN = np.nan

# Decision 1459 §2.2.2 a: O3 1-h means labelled 18:00 (D-1) … 00:00 (D+1), hour-ending.
# Hour-beginning, that is 17:00 D-1 … 23:00 D: 7 hours before the day, then its 24 hours.
V3_O3 = [15.7, 14.2, 17.7, 18.9, 19.3, 15.7, 19.7, 22.6, 27.1, 29.0, 31.9, 25.3, 34.7, 35.2,
         41.6, 45.7, 49.2, 55.8, 69.6, 78.3, 91.5, 97.7, 81.2, 71.8, 43.5, 34.3, 21.5, 20.5,
         19.4, 20.4, 21.3]  # fmt: skip
V3_PRINTED = [18.0, 19.4, 21.2, 23.0, 23.8, 25.8, 28.2, 30.9, 33.8, 36.6, 39.9, 44.7, 51.3, 58.4,
              66.2, 71.1, 74.4, 73.7, 71.0, 65.0, 57.8, 48.7, 39.1, 31.6]  # fmt: skip


def test_v2_hourly_example() -> None:
    # PM2.5 steady at 20.3 for 12 hours → NowCast 20.3 (w = 1); O3 136.1; NO2 118.7.
    pm25 = np.full(12, 20.3)
    o3 = np.full(12, NAN)
    no2 = np.full(12, NAN)
    o3[-1], no2[-1] = 136.1, 118.7
    result = hourly_aqi({"pm25": pm25, "o3": o3, "no2": no2}, hours_before=11)
    assert result.shape == (1,)
    assert_allclose(result.nowcast["pm25"], [20.3])
    assert_allclose(result.subindex["o3"], [42.53125])
    assert_allclose(result.subindex["no2"], [59.35])
    assert_allclose(result.subindex["pm25"], [40.6])
    assert result.aqi.tolist() == [59.0]  # the decision prints 60 (arithmetic slip)
    assert result.dominant_names().tolist() == ["no2"]
    assert result.category_names("vi").tolist() == ["Trung bình"]
    assert {k: v.tolist() for k, v in result.subindex_rounded.items()} == {
        "pm25": [41.0],
        "o3": [43.0],
        "no2": [59.0],
    }
    assert result.missing_reason.tolist() == [MissingReason.NONE]


def test_v1_through_hourly_aqi() -> None:
    chronological = [26.9, 24.7, 20.5, 23.5, 19.5, 16.5, 19.0, 16.5, 20.3, 22.4, 19.6, 20.6]
    result = hourly_aqi({"pm25": chronological}, hours_before=11)
    assert abs(result.nowcast["pm25"][0] - 20.3) < 0.05
    assert result.aqi.tolist() == [41.0]
    assert result.n_valid["pm25_nowcast"].tolist() == [12]


def test_s12_no_aqi_without_pm() -> None:
    result = hourly_aqi({"o3": [136.1], "no2": [118.7]})
    assert np.isnan(result.aqi).all()
    assert result.category.tolist() == [-1]
    assert result.dominant.tolist() == [-1]
    assert result.missing_reason_names().tolist() == ["no_pm"]
    assert_allclose(result.subindex["no2"], [59.35])  # sub-indices are still reported


def test_insufficient_and_no_data_reasons() -> None:
    pm25 = np.array([[NAN, NAN, 40.0], [NAN, NAN, NAN]])
    no2 = np.array([[NAN, NAN, NAN], [NAN, NAN, NAN]])
    result = hourly_aqi({"pm25": pm25, "no2": no2})
    assert result.missing_reason_names()[:, 2].tolist() == ["insufficient_data", "no_data"]


def test_v3_eight_hour_means_and_daily_max() -> None:
    means = trailing_mean(V3_O3, 8, 6).value[7:]
    # Printed to 0.1; the decision has two slips (12:00 prints 44.7 for 44.6375; 03:00
    # prints 21.2 for 21.25), so compare each within 0.1 and the max within 0.05.
    assert_allclose(means, V3_PRINTED, atol=0.1 + 1e-9)
    peak = daily_max_rolling(V3_O3, hours_before=7)
    assert abs(peak.value[0] - 74.4) < 0.05
    assert_allclose(peak.value, [74.3875])
    assert peak.n_valid.tolist() == [24]


def v4_day() -> dict[str, np.ndarray]:
    """A day whose statistics are V4's: PM2.5 24-h 55.7, O3 max-1h 114.6, max-8h 89.3,
    NO2 max-1h 130.8 (7 hours before the day first)."""
    o3 = np.zeros(31)
    o3[7 + 10 : 7 + 18] = [114.6, 64.0, 89.3, 89.3, 89.3, 89.3, 89.3, 89.3]  # mean 89.3
    no2 = np.full(31, 10.0)
    no2[7 + 5] = 130.8
    return {"pm25": np.full(31, 55.7), "o3": o3, "no2": no2}


def test_v4_daily_example() -> None:
    result = daily_aqi(v4_day(), hours_before=7)
    assert result.shape == (1,)
    assert_allclose(result.concentration["pm25_24h"], [55.7])
    assert_allclose(result.concentration["o3_1h_max"], [114.6])
    assert_allclose(result.concentration["o3_8h_max"], [89.3])
    assert_allclose(result.concentration["no2_1h_max"], [130.8])
    assert_allclose(result.components["o3_8h"], [44.65])
    assert_allclose(result.components["o3_1h"], [35.8125])
    assert_allclose(result.subindex["o3"], [44.65])
    assert_allclose(result.subindex["no2"], [65.4])
    assert_allclose(result.subindex["pm25"], [109.5])
    assert result.aqi.tolist() == [110.0]  # exact .5, half-up
    assert result.dominant_names().tolist() == ["pm25"]
    assert result.category_names("vi").tolist() == ["Kém"]
    assert result.n_valid["pm25_24h"].tolist() == [24]
    assert result.n_valid["o3_8h_max"].tolist() == [24]


def test_s10_s11_daily_o3() -> None:
    pm25 = np.full(31, 10.0)
    o3 = np.zeros(31)
    o3[7:15] = 400.0  # S10: max 8-h 400, max 1-h 400 → 8-h sub-index 300 (1-h 200)
    result = daily_aqi({"pm25": pm25, "o3": o3})
    assert_allclose(result.concentration["o3_8h_max"], [400.0])
    assert_allclose(result.components["o3_8h"], [300.0])
    assert_allclose(result.subindex["o3"], [300.0])
    o3[7:15] = [500.0, 450, 450, 450, 450, 450, 450, 450]  # S11: max 8-h 456.25 > 400
    result = daily_aqi({"pm25": pm25, "o3": o3})
    assert np.isnan(result.components["o3_8h"]).all()
    assert_allclose(result.subindex["o3"], [225.0])  # 1-h: 200 + 100/400 × 100
    assert result.aqi.tolist() == [225.0]


def test_daily_completeness_thresholds_and_counts() -> None:
    pm25 = np.full(24, 30.0)
    pm25[:6] = NAN  # 18 valid hours: enough
    result = daily_aqi({"pm25": pm25}, hours_before=0)
    assert result.aqi.tolist() == [60.0]
    assert result.n_valid["pm25_24h"].tolist() == [18]
    pm25[6] = NAN  # 17: not enough
    result = daily_aqi({"pm25": pm25}, hours_before=0)
    assert np.isnan(result.aqi).all()
    assert result.n_valid["pm25_24h"].tolist() == [17]
    assert result.missing_reason_names().tolist() == ["insufficient_data"]
    relaxed = daily_aqi({"pm25": pm25}, hours_before=0, completeness=CompletenessRules(min_hours_day=12))
    assert relaxed.aqi.tolist() == [60.0]


def test_daily_max_1h_needs_18_hours() -> None:
    no2 = np.full(24, NAN)
    no2[:17] = 150.0
    result = daily_aqi({"pm25": np.full(24, 10.0), "no2": no2}, hours_before=0)
    assert np.isnan(result.subindex["no2"]).all()
    assert result.aqi.tolist() == [20.0]


def test_eight_hour_window_needs_6_of_8() -> None:
    values = np.array([10.0] * 6 + [NAN, NAN])
    assert_allclose(trailing_mean(values, 8, 6).value[-1], 10.0)
    values[0] = NAN
    assert np.isnan(trailing_mean(values, 8, 6).value[-1])


def test_dominant_tie_order() -> None:
    # PM2.5 25 → 50, PM10 50 → 50, NO2 100 → 50: PM2.5 wins the tie, then PM10, then O3.
    ones = np.ones(12)
    result = hourly_aqi({"no2": 100 * ones, "pm10": 50 * ones, "pm25": 25 * ones})
    assert result.dominant_names()[-1] == "pm25"
    result = hourly_aqi({"no2": 100 * ones, "pm10": 50 * ones, "pm25": 20 * ones})
    assert result.dominant_names()[-1] == "pm10"
    result = hourly_aqi({"no2": 100 * ones, "o3": 160 * ones, "pm25": 20 * ones})
    assert result.dominant_names()[-1] == "o3"
    assert list(result.subindex) == [p for p in POLLUTANTS if p in ("pm25", "o3", "no2")]


def test_hourly_vn_gases_and_cap() -> None:
    ones = np.ones(12)
    conc = {"pm25": 600 * ones, "so2": 400 * ones, "co": 12_000 * ones}
    result = hourly_aqi(conc)
    assert result.aqi[-1] == 500.0
    assert not result.beyond_index.any()  # VN never goes above 500
    assert_allclose(result.subindex["so2"][-1], 112.5)
    assert_allclose(result.subindex["co"][-1], 55.0)


def test_hours_before_and_shapes() -> None:
    rng = np.random.default_rng(1)
    pm25 = rng.uniform(0, 100, (3, 40))
    full = hourly_aqi({"pm25": pm25})
    trimmed = hourly_aqi({"pm25": pm25}, hours_before=12)
    assert trimmed.shape == (3, 28)
    assert_allclose(trimmed.aqi, full.aqi[:, 12:])
    assert_allclose(trimmed.nowcast["pm25"], full.nowcast["pm25"][:, 12:])
    days = daily_aqi({"pm25": pm25[:, :31]}, hours_before=7)
    assert days.shape == (3, 1)
    with pytest.raises(ValueError, match="whole number of days"):
        daily_aqi({"pm25": pm25}, hours_before=7)
    with pytest.raises(ValueError, match="same"):
        hourly_aqi({"pm25": pm25, "no2": pm25[:, :10]})
    with pytest.raises(ValueError, match="unknown pollutant"):
        hourly_aqi({"pm1": pm25})
    with pytest.raises(ValueError, match="unknown method"):
        hourly_aqi({"pm25": pm25}, "vn_878")


def test_many_blocks_equal_one_block(monkeypatch: pytest.MonkeyPatch) -> None:
    import aqi.hourly as hourly_module

    rng = np.random.default_rng(2)
    pm25 = rng.lognormal(3, 1, (50, 100))
    pm25[rng.random(pm25.shape) < 0.2] = NAN
    whole = hourly_aqi({"pm25": pm25, "no2": pm25 * 2})
    monkeypatch.setattr(hourly_module, "BLOCK_CELLS", 300)  # 3 stations per block
    blocks = hourly_aqi({"pm25": pm25, "no2": pm25 * 2})
    assert_allclose(blocks.aqi, whole.aqi)
    assert (blocks.dominant == whole.dominant).all()
    assert (blocks.n_valid["pm25_nowcast"] == whole.n_valid["pm25_nowcast"]).all()


# --- US EPA ----------------------------------------------------------------------------


def test_us_hourly_pm_nowcast_truncated() -> None:
    # Omak vector, hours oldest first; NowCast 54.81 → truncated 54.8 → 149.
    hours = [46.3, 27.4, 59.8, 129.2, 130.6, 215.4, 143.2, 93.7, 101.8, 49.3, 80.2, 123.3][::-1]
    result = hourly_aqi({"pm25": hours}, "us_epa_2024", hours_before=11)
    assert result.aqi.tolist() == [149.0]


def test_us_hourly_o3_co_so2() -> None:
    o3 = ppb_to_ugm3(np.array([63, 69, 80, 74, 60, NAN, 35, 22][::-1], dtype=float), "o3")
    pm25 = np.full(8, 5.0)
    result = hourly_aqi({"pm25": pm25, "o3": o3}, "us_epa_2024", hours_before=7)
    assert round(float(result.components["o3_8h"][0])) == 84  # AirNow 2016 example
    assert np.isnan(result.components["o3_1h"]).all()  # 22 ppb: below the 1-h table
    co = ppm_to_ugm3(np.full(8, 8.4), "co")
    so2 = ppb_to_ugm3(np.full(8, 400.0), "so2")
    result = hourly_aqi({"pm25": pm25, "co": co, "so2": so2}, "us_epa_2024", hours_before=7)
    assert round(float(result.subindex["co"][0])) == 90
    assert result.subindex["so2"].tolist() == [200.0]
    assert result.n_valid["co_8h"].tolist() == [8]


def test_us_daily_o3_uses_next_day_windows() -> None:
    # 7 h before, one day, 7 h after. O3 0.072 ppm from 23:00 to 06:00 next day only:
    # the window starting 23:00 is a day-D window → 104.5 → 105.
    o3 = np.zeros(7 + 24 + 7)
    o3[7 + 23 :] = ppm_to_ugm3(0.072, "o3")
    pm25 = np.full(38, 5.0)
    result = daily_aqi({"pm25": pm25, "o3": o3}, "us_epa_2024", hours_after=7)
    assert_allclose(result.components["o3_8h"], [104.5])
    assert result.aqi.tolist() == [105.0]
    assert result.n_valid["o3_8h_max"].tolist() == [17]
    # Without the next day's hours, 7 of 17 windows are incomplete: 10 < 13 → no 8-h value.
    short = daily_aqi({"pm25": pm25[:31], "o3": o3[:31]}, "us_epa_2024")
    assert np.isnan(short.components["o3_8h"]).all()


def test_us_daily_pm_so2_co() -> None:
    pm25 = np.full(24, 35.45)  # truncated to 35.4 → 100
    so2 = ppb_to_ugm3(np.full(24, 150.0), "so2")
    so2[3] = ppb_to_ugm3(320.0, "so2")  # max 1-h ≥ 305, 24-h mean < 305 → 200
    co = ppm_to_ugm3(np.full(24, 12.0), "co")
    result = daily_aqi({"pm25": pm25, "so2": so2, "co": co}, "us_epa_2024", hours_before=0)
    assert result.subindex["pm25"].tolist() == [100.0]
    assert result.subindex["so2"].tolist() == [200.0]
    assert round(float(result.subindex["co"][0])) == 143
    assert result.aqi.tolist() == [200.0]
    assert result.dominant_names().tolist() == ["so2"]
    assert result.category_names("en").tolist() == ["Unhealthy"]


def test_us_beyond_index_flag() -> None:
    result = daily_aqi({"pm25": np.full(24, 400.0)}, "us_epa_2024", hours_before=0)
    assert result.aqi.tolist() == [649.0]
    assert result.beyond_index.tolist() == [True]
    assert result.category_names("en").tolist() == ["Hazardous"]
    old = daily_aqi({"pm25": np.full(24, 400.0)}, "us_epa_2012", hours_before=0)
    assert old.aqi.tolist() == [434.0]
