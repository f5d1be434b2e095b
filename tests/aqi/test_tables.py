"""Breakpoint tables, categories, units and QCVN limits against the standards' numbers."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

from aqi.breakpoints import METHODS, TABLES, breakpoint_table
from aqi.categories import CATEGORIES, US_CATEGORIES, VN_CATEGORIES, category_index, category_of
from aqi.limits import limit_in_force, limits_in_force
from aqi.rounding import round_half_up
from aqi.subindex import interpolate_subindex, subindex
from aqi.units import MOLAR_VOLUME_L_PER_MOL, convert, ppb_to_ugm3, ugm3_to_ppb, ugm3_to_ppm

# Decision 1459/QĐ-TCMT Table 2, transcribed here independently of aqi/.
VN_TABLE2 = {
    "o3_1h": (0, 160, 200, 300, 400, 800, 1000, 1200),
    "o3_8h": (0, 100, 120, 170, 210, 400),
    "co_1h": (0, 10000, 30000, 45000, 60000, 90000, 120000, 150000),
    "so2_1h": (0, 125, 350, 550, 800, 1600, 2100, 2630),
    "no2_1h": (0, 100, 200, 700, 1200, 2350, 3100, 3850),
    "pm10_24h": (0, 50, 150, 250, 350, 420, 500, 600),
    "pm25_24h": (0, 25, 50, 80, 150, 250, 350, 500),
}
VN_I = (0, 50, 100, 150, 200, 300, 400, 500)

# EPA-454/B-24-002 Table 6: rows (C_lo, C_hi, I_lo, I_hi) in table units.
Rows = list[tuple[float, float, int, int]]
US_2024: dict[str, Rows] = {
    "pm25_24h": [
        (0.0, 9.0, 0, 50),
        (9.1, 35.4, 51, 100),
        (35.5, 55.4, 101, 150),
        (55.5, 125.4, 151, 200),
        (125.5, 225.4, 201, 300),
        (225.5, 325.4, 301, 500),
    ],
    "pm10_24h": [
        (0, 54, 0, 50),
        (55, 154, 51, 100),
        (155, 254, 101, 150),
        (255, 354, 151, 200),
        (355, 424, 201, 300),
        (425, 604, 301, 500),
    ],
    "o3_8h": [
        (0.000, 0.054, 0, 50),
        (0.055, 0.070, 51, 100),
        (0.071, 0.085, 101, 150),
        (0.086, 0.105, 151, 200),
        (0.106, 0.200, 201, 300),
    ],
    "o3_1h": [
        (0.125, 0.164, 101, 150),
        (0.165, 0.204, 151, 200),
        (0.205, 0.404, 201, 300),
        (0.405, 0.604, 301, 500),
    ],
    "co_8h": [
        (0.0, 4.4, 0, 50),
        (4.5, 9.4, 51, 100),
        (9.5, 12.4, 101, 150),
        (12.5, 15.4, 151, 200),
        (15.5, 30.4, 201, 300),
        (30.5, 50.4, 301, 500),
    ],
    "so2_1h": [(0, 35, 0, 50), (36, 75, 51, 100), (76, 185, 101, 150), (186, 304, 151, 200)],
    "so2_24h": [(305, 604, 201, 300), (605, 1004, 301, 500)],
    "no2_1h": [
        (0, 53, 0, 50),
        (54, 100, 51, 100),
        (101, 360, 101, 150),
        (361, 649, 151, 200),
        (650, 1249, 201, 300),
        (1250, 2049, 301, 500),
    ],
}
# Pre-2024: 2012 PM2.5 rows, split Hazardous rows for everything else.
US_2012: dict[str, Rows] = {
    **US_2024,
    "pm25_24h": [(0.0, 12.0, 0, 50), (12.1, 35.4, 51, 100), (35.5, 55.4, 101, 150),
                 (55.5, 150.4, 151, 200), (150.5, 250.4, 201, 300), (250.5, 350.4, 301, 400),
                 (350.5, 500.4, 401, 500)],
    "pm10_24h": [*US_2024["pm10_24h"][:5], (425, 504, 301, 400), (505, 604, 401, 500)],
    "o3_1h": [*US_2024["o3_1h"][:3], (0.405, 0.504, 301, 400), (0.505, 0.604, 401, 500)],
    "co_8h": [*US_2024["co_8h"][:5], (30.5, 40.4, 301, 400), (40.5, 50.4, 401, 500)],
    "so2_24h": [(305, 604, 201, 300), (605, 804, 301, 400), (805, 1004, 401, 500)],
    "no2_1h": [*US_2024["no2_1h"][:5], (1250, 1649, 301, 400), (1650, 2049, 401, 500)],
}  # fmt: skip
US_TABLES: dict[str, dict[str, Rows]] = {"us_epa_2024": US_2024, "us_epa_2012": US_2012}


def test_methods() -> None:
    assert METHODS == ("vn_1459_2019", "us_epa_2024", "us_epa_2012")
    assert set(TABLES) == set(METHODS)


def test_vn_table_matches_decision() -> None:
    assert set(TABLES["vn_1459_2019"]) == set(VN_TABLE2)
    for scale, concs in VN_TABLE2.items():
        table = breakpoint_table("vn_1459_2019", scale)
        assert table.conc_points == concs
        assert table.index_points == VN_I[: len(concs)]
        assert table.unit == "µg/m³"
        assert table.truncation_decimals is None


@pytest.mark.parametrize("method", ["us_epa_2024", "us_epa_2012"])
def test_us_tables_match_tad(method: str) -> None:
    expected = US_TABLES[method]
    assert set(TABLES[method]) == set(expected)
    for scale, rows in expected.items():
        assert breakpoint_table(method, scale).rows == tuple(
            (float(a), float(b), float(c), float(d)) for a, b, c, d in rows
        )


@pytest.mark.parametrize("scale", sorted(VN_TABLE2))
def test_vn_every_breakpoint_boundary(scale: str) -> None:
    """Each BP_i gives I_i, from either side (continuous table)."""
    concs = np.array(VN_TABLE2[scale], dtype=float)
    expected = np.array(VN_I[: len(concs)], dtype=float)
    assert_allclose(subindex(concs, scale), expected)
    # Just below and above each inner breakpoint the index is within a hair of I_i.
    eps = 1e-6
    assert_allclose(subindex(concs[1:-1] - eps, scale), expected[1:-1], atol=1e-3)
    assert_allclose(subindex(concs[1:-1] + eps, scale), expected[1:-1], atol=1e-3)


@pytest.mark.parametrize("method", ["us_epa_2024", "us_epa_2012"])
def test_us_every_breakpoint_boundary(method: str) -> None:
    """C_lo → I_lo and C_hi → I_hi for every row of every pollutant (table units)."""
    for scale, rows in US_TABLES[method].items():
        table = breakpoint_table(method, scale)
        lows = np.array([r[0] for r in rows], dtype=float)
        highs = np.array([r[1] for r in rows], dtype=float)
        assert_allclose(interpolate_subindex(lows, table), [r[2] for r in rows], err_msg=scale)
        assert_allclose(interpolate_subindex(highs, table), [r[3] for r in rows], err_msg=scale)


def test_vn_table_matches_shared_csv(shared_data: Path) -> None:
    columns = {
        "O3_1h_ugm3": "o3_1h", "O3_8h_ugm3": "o3_8h", "CO_ugm3": "co_1h", "SO2_ugm3": "so2_1h",
        "NO2_ugm3": "no2_1h", "PM10_ugm3": "pm10_24h", "PM2.5_ugm3": "pm25_24h",
    }  # fmt: skip
    with (shared_data / "vn_aqi_qd1459_table2_breakpoints.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert [float(r["I_i"]) for r in rows] == list(VN_I)
    for column, scale in columns.items():
        cells = [r[column].removeprefix(">=") for r in rows]
        concs = tuple(float(c) for c in cells if c != "-")
        assert breakpoint_table("vn_1459_2019", scale).conc_points == concs


def test_us_2024_table_matches_openaq_csv(shared_data: Path) -> None:
    scale_of = {
        ("PM2.5", "24"): "pm25_24h", ("PM10", "24"): "pm10_24h", ("CO", "8"): "co_8h",
        ("O3", "1"): "o3_1h", ("O3", "8"): "o3_8h", ("SO2", "1"): "so2_1h", ("NO2", "1"): "no2_1h",
    }  # fmt: skip
    with (shared_data / "us_epa_aqi_breakpoints_2024_openaq-aqi-hub.csv").open(newline="") as f:
        for row in csv.DictReader(f):
            scale = scale_of[(row["pollutant"], row["averaging_period"])]
            if not row["concentration_upper"]:
                continue  # blank cells: O3 1-h below 0.125 ppm; open Hazardous tops
            table = breakpoint_table("us_epa_2024", scale)
            line = (float(row["concentration_lower"]), float(row["concentration_upper"]))
            if scale == "so2_1h" and row["category"] in ("Very Unhealthy",):
                table = breakpoint_table("us_epa_2024", "so2_24h")  # 305–604 is the 24-h row
            assert line in [(r[0], r[1]) for r in table.rows], (scale, line)
            lower_index = float(row["category_lower"])
            assert lower_index in [r[2] for r in table.rows]


def test_categories_data() -> None:
    names_vi = [c.name_vi for c in VN_CATEGORIES]
    assert names_vi == ["Tốt", "Trung bình", "Kém", "Xấu", "Rất xấu", "Nguy hại"]
    assert [c.name_en for c in US_CATEGORIES] == [
        "Good", "Moderate", "Unhealthy for Sensitive Groups", "Unhealthy", "Very Unhealthy",
        "Hazardous",
    ]  # fmt: skip
    rgb = [(0, 228, 0), (255, 255, 0), (255, 126, 0), (255, 0, 0), (143, 63, 151), (126, 0, 35)]
    hexes = ["#00E400", "#FFFF00", "#FF7E00", "#FF0000", "#8F3F97", "#7E0023"]
    bands = [(0, 50), (51, 100), (101, 150), (151, 200), (201, 300), (301, 500)]
    for cats in CATEGORIES.values():
        assert [c.rgb for c in cats] == rgb
        assert [c.hex for c in cats] == hexes
        assert [(c.lower, c.upper) for c in cats] == bands
        assert [c.index for c in cats] == list(range(6))
        for c in cats:
            assert c.hex == "#{:02X}{:02X}{:02X}".format(*c.rgb)
            assert c.advice_vi and c.advice_en and c.health_effect_vi and c.name_vi


def test_category_index_bands() -> None:
    values = [0, 50, 51, 100, 101, 150, 151, 200, 201, 300, 301, 500, 649, np.nan]
    expected = [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 5, -1]
    assert category_index(values).tolist() == expected
    assert category_of(59, "vn_1459_2019") is VN_CATEGORIES[1]
    assert category_of(float("nan"), "us_epa_2024") is None


def test_round_half_up_never_bankers() -> None:
    values = [0.5, 1.5, 2.5, 42.5, 104.5, 109.49999999999999, 92.5, 112.5, 59.35, 40.53, np.nan]
    expected = [1, 2, 3, 43, 105, 110, 93, 113, 59, 41, np.nan]
    assert_allclose(round_half_up(values), expected)


def test_unit_conversion() -> None:
    assert MOLAR_VOLUME_L_PER_MOL == 24.45
    # µg/m³ per ppb at 25 °C, 1 atm (to the printed 3-4 digits).
    assert_allclose(ppb_to_ugm3(1.0, "o3"), 1.963, atol=5e-4)
    assert_allclose(ppb_to_ugm3(1.0, "no2"), 1.882, atol=5e-4)
    assert_allclose(ppb_to_ugm3(1.0, "so2"), 2.620, atol=5e-4)
    assert_allclose(convert(1.0, "co", "ppm", "mg/m³"), 1.146, atol=5e-4)
    assert_allclose(ugm3_to_ppb(1.0, "so2"), 0.3816, atol=5e-5)
    assert_allclose(ugm3_to_ppm(1000.0, "co"), 0.8729, atol=5e-5)
    # Decision 1459's CO column is µg/m³: 10 000 µg/m³ = 10 mg/m³.
    assert_allclose(convert(10_000.0, "co", "µg/m³", "mg/m³"), 10.0)
    x = np.array([0.0, 12.5, np.nan])
    assert_allclose(ugm3_to_ppb(ppb_to_ugm3(x, "no2"), "no2"), x)
    with pytest.raises(ValueError, match="molar mass"):
        ugm3_to_ppb(1.0, "pm25")
    with pytest.raises(ValueError, match="unit"):
        convert(1.0, "co", "ppm", "ppt")


def test_qcvn_limits_in_force() -> None:
    pm10 = limit_in_force("pm10", "24h", dt.date(2023, 9, 11))
    assert pm10 is not None and pm10.value == 150
    pm10 = limit_in_force("pm10", "24h", dt.date(2023, 9, 12))
    assert pm10 is not None and pm10.value == 100
    for day, value in [(dt.date(2020, 1, 1), 50), (dt.date(2025, 12, 31), 50),
                       (dt.date(2026, 1, 1), 45)]:  # fmt: skip
        pm25 = limit_in_force("pm25", "24h", day)
        assert pm25 is not None and pm25.value == value
    today = limits_in_force(dt.date(2026, 6, 1))
    assert today[("no2", "1h")].value == 200
    assert today[("co", "8h")].value == 10_000
    assert today[("o3", "8h")].value == 120
    assert today[("so2", "24h")].value == 125
    assert today[("pm25", "year")].value == 25
    assert ("pb", "year") not in today
    assert today[("pm10", "24h")].regulation == "QCVN 05:2023/BTNMT"
    assert limit_in_force("o3", "24h", dt.date(2024, 1, 1)) is None
    with pytest.raises(ValueError):
        limit_in_force("pm1", "24h", dt.date(2024, 1, 1))
