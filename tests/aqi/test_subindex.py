"""Sub-indices: the worked examples of Decision 1459 and the EPA's published vectors."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from numpy.testing import assert_allclose

from aqi.breakpoints import breakpoint_table
from aqi.rounding import round_half_up
from aqi.subindex import (
    interpolate_subindex,
    subindex,
    us_so2_daily_subindex,
    us_so2_hourly_subindex,
)
from aqi.units import ppb_to_ugm3, ppm_to_ugm3

VN = "vn_1459_2019"


# --- Decision 1459 worked examples (§2.3 b, c) and spec vectors S1–S11 -------------------


@pytest.mark.parametrize(
    ("scale", "conc", "unrounded", "rounded"),
    [
        ("o3_1h", 136.1, 50 / 160 * 136.1, 43),  # V2 O3
        ("no2_1h", 118.7, 50 + 50 / 100 * 18.7, 59),  # V2 NO2 (decision prints 60: slip)
        ("pm25_24h", 20.3, 50 / 25 * 20.3, 41),  # V2 PM2.5 NowCast
        ("o3_8h", 89.3, 50 / 100 * 89.3, 45),  # V4
        ("o3_1h", 114.6, 50 / 160 * 114.6, 36),  # V4
        ("no2_1h", 130.8, 50 + 50 / 100 * 30.8, 65),  # V4
        ("pm25_24h", 55.7, 100 + 50 / 30 * 5.7, 110),  # V4: exact 109.5 → 110
        ("pm25_24h", 21.25, 42.5, 43),  # S1
        ("no2_1h", 185, 92.5, 93),  # S2
        ("pm25_24h", 25, 50, 50),  # S3
        ("pm25_24h", 25.05, 50.1, 50),
        ("pm25_24h", 26, 52, 52),
        ("pm25_24h", 30, 60, 60),
        ("pm25_24h", 65, 125, 125),  # S4
        ("pm10_24h", 100, 75, 75),
        ("no2_1h", 150, 75, 75),
        ("pm25_24h", 300, 350, 350),  # S5
        ("pm10_24h", 435, 318.75, 319),  # S6
        ("co_1h", 12_000, 55, 55),  # S7
        ("so2_1h", 400, 112.5, 113),  # S8
        ("o3_8h", 400, 300, 300),  # S10: 400 is not "> 400"
    ],
)
def test_vn_vectors(scale: str, conc: float, unrounded: float, rounded: int) -> None:
    value = subindex(np.array([conc]), scale, VN)
    assert_allclose(value, [unrounded], rtol=1e-12)
    assert_allclose(round_half_up(value), [rounded])


@pytest.mark.parametrize(
    ("scale", "conc"),
    [("pm25_24h", 500), ("pm25_24h", 650), ("pm10_24h", 600), ("so2_1h", 2630),
     ("co_1h", 150_000), ("no2_1h", 3850), ("o3_1h", 1200), ("o3_1h", 5000)],
)  # fmt: skip
def test_vn_cap_500(scale: str, conc: float) -> None:  # S9
    assert_allclose(subindex([conc], scale, VN), [500.0])


def test_vn_o3_8h_undefined_above_400() -> None:  # S11 (8-h part)
    assert np.isnan(subindex([400.0001, 450.0], "o3_8h", VN)).all()
    assert_allclose(subindex([450.0], "o3_1h", VN), [200 + 100 / 400 * 50])
    assert_allclose(subindex([500.0], "o3_1h", VN), [225.0])


def test_missing_stays_missing_and_negative_is_zero() -> None:
    assert np.isnan(subindex([np.nan], "pm25_24h", VN)).all()
    assert_allclose(subindex([-5.0], "pm25_24h", VN), [0.0])
    assert_allclose(subindex([-5.0], "pm25_24h", "us_epa_2024"), [0.0])


def test_shape_preserved() -> None:
    conc = np.arange(24.0).reshape(2, 3, 4)
    assert subindex(conc, "no2_1h", VN).shape == (2, 3, 4)


def test_unknown_scale_and_method() -> None:
    with pytest.raises(ValueError, match="no scale"):
        subindex([1.0], "pm25_1h", VN)
    with pytest.raises(ValueError, match="unknown method"):
        subindex([1.0], "pm25_24h", "vn_878_2011")


# --- EPA vectors (table units) -------------------------------------------------

PM25_2024 = [(9.0, 50), (9.09, 50), (9.1, 51), (12.0, 56), (20.0, 71), (30.3, 90), (35.4, 100),
             (35.5, 101), (35.9, 102), (54.8, 149), (78, 167), (100.0, 182), (122.0, 198),
             (125.4, 200), (125.5, 201), (150.0, 225), (225.5, 301), (300.0, 449), (325.4, 500),
             (400.0, 649)]  # fmt: skip
PM25_2012 = [(9.0, 38), (9.09, 38), (9.1, 38), (12.0, 50), (20.0, 68), (30.3, 89), (35.4, 100),
             (35.5, 101), (35.9, 102), (54.8, 149), (78, 163), (100.0, 174), (122.0, 185),
             (125.4, 187), (125.5, 187), (150.0, 200), (225.5, 275), (300.0, 350), (325.4, 375),
             (400.0, 434)]  # fmt: skip


@pytest.mark.parametrize(
    ("method", "vectors"), [("us_epa_2024", PM25_2024), ("us_epa_2012", PM25_2012)]
)
def test_epa_pm25_vectors(method: str, vectors: list[tuple[float, int]]) -> None:
    conc = np.array([c for c, _ in vectors])
    assert round_half_up(subindex(conc, "pm25_24h", method)).tolist() == [a for _, a in vectors]


def test_epa_pm25_30_3_unrounded() -> None:
    assert_allclose(subindex([30.3], "pm25_24h", "us_epa_2024"), [90.498], atol=5e-4)


@pytest.mark.parametrize("method", ["us_epa_2024", "us_epa_2012"])
def test_epa_pm10_vectors(method: str) -> None:
    conc = [54.9, 66, 135, 175, 357, 604]
    assert round_half_up(subindex(conc, "pm10_24h", method)).tolist() == [50, 56, 91, 111, 204, 500]


def test_epa_o3_8h_vectors_including_exact_halves() -> None:
    ppm = np.array([0.045, 0.065, 0.072, 0.077, 0.078, 0.07853333, 0.089, 0.141])
    table = breakpoint_table("us_epa_2024", "o3_8h")
    assert round_half_up(interpolate_subindex(ppm, table)).tolist() == [
        42,
        84,
        105,
        122,
        126,
        126,
        159,
        238,
    ]
    assert_allclose(interpolate_subindex([0.072, 0.078], table), [104.5, 125.5])
    # Same through µg/m³ → ppm conversion (round trip must not lose the .5 or a truncation unit).
    via_ugm3 = subindex(ppm_to_ugm3(ppm, "o3"), "o3_8h", "us_epa_2024")
    assert round_half_up(via_ugm3).tolist() == [42, 84, 105, 122, 126, 126, 159, 238]


def test_epa_o3_8h_above_0_200_ppm_reports_300() -> None:
    table = breakpoint_table("us_epa_2024", "o3_8h")
    assert_allclose(interpolate_subindex([0.200, 0.250], table), [300.0, 300.0])


def test_epa_o3_1h() -> None:
    table = breakpoint_table("us_epa_2024", "o3_1h")
    assert round_half_up(interpolate_subindex([0.125, 0.162], table)).tolist() == [101, 147]
    assert np.isnan(interpolate_subindex([0.124, 0.0], table)).all()  # no 1-h index below 0.125


def test_epa_co_no2_so2_vectors() -> None:
    co = breakpoint_table("us_epa_2024", "co_8h")
    assert round_half_up(interpolate_subindex([7.0, 8.4, 12.0], co)).tolist() == [76, 90, 143]
    no2 = breakpoint_table("us_epa_2024", "no2_1h")
    assert round_half_up(interpolate_subindex([43, 145.12], no2)).tolist() == [41, 109]
    so2 = breakpoint_table("us_epa_2024", "so2_1h")
    assert round_half_up(interpolate_subindex([42, 132], so2)).tolist() == [59, 126]
    so2_24 = breakpoint_table("us_epa_2024", "so2_24h")
    assert round_half_up(interpolate_subindex([400], so2_24)).tolist() == [232]


def test_epa_so2_rules() -> None:
    def ugm3(ppb: list[float]) -> npt.NDArray[np.float64]:
        return ppb_to_ugm3(np.array(ppb, dtype=float), "so2")

    # max 1-h < 305 ppb → 1-h rows; both high → 24-h rows; 1-h high only → 200.
    daily = us_so2_daily_subindex(
        ugm3([132, 320, 700, 320, np.nan]), ugm3([50, 150, 400, np.nan, 50])
    )
    assert round_half_up(daily[:4]).tolist() == [126, 200, 232, 200]
    assert np.isnan(daily[4])
    hourly = us_so2_hourly_subindex(ugm3([42, 304, 305, 900]))
    assert round_half_up(hourly).tolist() == [59, 200, 200, 200]
    with pytest.raises(ValueError):
        us_so2_hourly_subindex([1.0], "vn_1459_2019")


def test_epa_extrapolates_above_500() -> None:
    assert_allclose(subindex([400.0], "pm25_24h", "us_epa_2024"), [648.6026026], rtol=1e-8)
    no2 = breakpoint_table("us_epa_2024", "no2_1h")
    assert interpolate_subindex([3000], no2)[0] > 500
