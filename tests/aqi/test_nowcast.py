"""NowCast: Decision 1459 §2.3 a, spec vectors N1–N7, EPA examples, and StateAir data."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import numpy as np
import pytest
from numpy.testing import assert_allclose

from aqi.breakpoints import breakpoint_table
from aqi.nowcast import nowcast
from aqi.rounding import round_half_up, truncate
from aqi.subindex import interpolate_subindex, subindex

NAN = np.nan
StateAir = tuple[np.ndarray, np.ndarray, np.ndarray]


def current(c_newest_first: Sequence[float], **kwargs: object) -> float:
    """NowCast of the last hour, from values listed current hour first (as Decision 1459 lists them)."""
    series = np.array(c_newest_first[::-1], dtype=float)
    return float(nowcast(series, **kwargs).value[-1])  # type: ignore[arg-type]


def test_v1_decision_example() -> None:
    # 09:00 → 20:00, c1 = 20:00 (20.6); decision: w = 0.61, NowCast = 20.3.
    chronological = [26.9, 24.7, 20.5, 23.5, 19.5, 16.5, 19.0, 16.5, 20.3, 22.4, 19.6, 20.6]
    value = float(nowcast(np.array(chronological)).value[-1])
    assert abs(value - 20.3) < 0.05
    assert_allclose(value, 20.2658, atol=5e-5)  # exact w = 16.5/26.9 (not rounded to 0.61)
    assert round_half_up(subindex([value], "pm25_24h"))[0] == 41


def test_n1_needs_two_of_three_recent() -> None:
    assert np.isnan(current([NAN, NAN, 40, 40, 40, 40]))
    assert np.isnan(current([NAN, 40, NAN, 40, 40, 40]))
    assert not np.isnan(current([40, NAN, 40]))


def test_n2_missing_hour_dropped() -> None:
    assert_allclose(current([30, NAN, 30]), 30.0)


N3 = [80, 60, 40, 30, 20, 15, 10, 10, 12, 15, 20, 25]


def test_n3_normalised_and_literal() -> None:
    # w* = 10/80 = 0.125 → w = 0.5; hand: Σ 0.5^(i-1) c_i / Σ 0.5^(i-1)
    weights = 0.5 ** np.arange(12)
    assert_allclose(current(N3), (weights * N3).sum() / weights.sum())
    assert_allclose(current(N3), 62.921, atol=5e-4)
    assert_allclose(current(N3, form="literal"), 62.906, atol=5e-4)
    assert round_half_up(subindex([current(N3)], "pm25_24h"))[0] == 122


def test_n4_literal_form_is_biased_with_gaps() -> None:
    n4 = [80, NAN, *N3[2:]]
    assert_allclose(current(n4), 63.895, atol=5e-4)
    assert_allclose(current(n4, form="literal"), 47.906, atol=5e-4)
    assert round_half_up(subindex([current(n4)], "pm25_24h"))[0] == 123
    assert round_half_up(subindex([current(n4, form="literal")], "pm25_24h"))[0] == 96


def test_n5_n6_n7() -> None:
    assert_allclose(current([100, 10]), 70.0)  # (100 + 0.5·10) / 1.5
    assert_allclose(current([30.0] * 12), 30.0)
    assert round_half_up(subindex([current([30.0] * 12)], "pm25_24h"))[0] == 60
    assert current([0.0] * 12) == 0.0


def test_only_twelve_hours_count() -> None:
    # A huge value 12 hours back is outside the window: w = 1, NowCast = 10.
    assert_allclose(current([10.0] * 12 + [1000.0]), 10.0)


def test_epa_omak_vector() -> None:
    # MazamaScience AirMonitor vignette: w = 0.5, NowCast 54.81 → 54.8 → 149.
    hours = [46.3, 27.4, 59.8, 129.2, 130.6, 215.4, 143.2, 93.7, 101.8, 49.3, 80.2, 123.3]
    value = current(hours)
    assert_allclose(value, 54.81, atol=5e-3)
    table = breakpoint_table("us_epa_2024", "pm25_24h")
    assert round_half_up(interpolate_subindex([value], table))[0] == 149


def test_epa_o3_2016_nowcast_example() -> None:
    # AirNow 2016 O3 NowCast: 8 h, w = min/max without floor, missing dropped.
    ppb = [63, 69, 80, 74, 60, NAN, 35, 22]
    value = current(ppb, hours=8, min_weight=0.0)
    assert_allclose(value, 65.27, atol=5e-3)
    table = breakpoint_table("us_epa_2024", "o3_8h")
    assert round_half_up(interpolate_subindex([value / 1000], table))[0] == 84


def test_counts_and_shape() -> None:
    data = np.array([[1.0, NAN, 3.0, 4.0], [NAN, NAN, NAN, 5.0]])
    result = nowcast(data)
    assert result.value.shape == (2, 4)
    assert result.n_valid.tolist() == [[1, 1, 2, 3], [0, 0, 0, 1]]
    assert np.isnan(result.value[1]).all()


# --- Real data: US embassy Hanoi / HCMC consulate (StateAir), SOURCES.md §1 ---------------

EXACT_FILES = [
    "stateair_Hanoi_PM2.5_2019_Jan-Apr.csv",
    "stateair_Hanoi_PM2.5_2019_Oct-Dec.csv",
    "stateair_Hanoi_PM2.5_2020_Jan-Jul.csv",
    "stateair_HoChiMinhCity_PM2.5_2017_YTD.csv",
]
TOLERANT_FILES = [
    "stateair_Hanoi_PM2.5_2016_YTD.csv",
    "stateair_Hanoi_PM2.5_2017_YTD.csv",
    "stateair_Hanoi_PM2.5_2018_YTD.csv",
]


def reproduce(data: StateAir) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    raw, published_nowcast, published_aqi = data
    # StateAir uses small negative values as-is (SOURCES.md §1): no clamping here.
    ours = truncate(nowcast(raw).value, 1)
    both = ~np.isnan(ours) & ~np.isnan(published_nowcast)
    both[:11] = False  # the publisher had the hours before the file's first one
    # Windows with no positive value: the publisher's weight min/max exceeds 1 there; the
    # engine never sees them (negatives are clamped to 0 before the NowCast).
    window_max = np.array(
        [np.nanmax(raw[max(0, i - 11) : i + 1], initial=-np.inf) for i in range(len(raw))]
    )
    both &= window_max > 0
    assert both.sum() > 1000
    table = breakpoint_table("us_epa_2012", "pm25_24h")
    aqi = round_half_up(interpolate_subindex(ours, table))
    return ours[both], published_nowcast[both], aqi[both], published_aqi[both]


@pytest.mark.parametrize("name", EXACT_FILES)
def test_stateair_nowcast_and_aqi_exact(stateair: Callable[[str], StateAir], name: str) -> None:
    ours, published, aqi, published_aqi = reproduce(stateair(name))
    assert_allclose(ours, published, atol=1e-9)
    has_aqi = ~np.isnan(published_aqi)  # none published for negative NowCasts
    assert has_aqi.mean() > 0.99
    assert_allclose(aqi[has_aqi], published_aqi[has_aqi])


@pytest.mark.parametrize("name", TOLERANT_FILES)
def test_stateair_nowcast_within_a_tenth(stateair: Callable[[str], StateAir], name: str) -> None:
    # Published from more precise raw values than the 0.1 shown: compare within ±0.1.
    ours, published, _, _ = reproduce(stateair(name))
    within = np.abs(ours - published) <= 0.1 + 1e-9
    assert within.mean() > 0.999


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"hours": 0}, "hours must be 1…32767, got 0"),
        ({"hours": 40_000}, "hours must be 1…32767, got 40000"),
        ({"recent_hours": 0}, "recent_hours must be 1…32767, got 0"),
        ({"min_weight": -1.0}, "min_weight must be within 0…1, got -1.0"),
        ({"min_weight": 1.5}, "min_weight must be within 0…1, got 1.5"),
        ({"min_weight": float("nan")}, "min_weight must be within 0…1, got nan"),
    ],
)
def test_impossible_parameters_are_errors(options: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        nowcast(np.ones((2, 30)), **options)  # type: ignore[arg-type]


def test_integer_like_parameters_and_unreachable_minimum() -> None:
    """numpy integers work as window lengths; a minimum above the window is never met."""
    hourly = np.full((2, 30), 10.0)
    result = nowcast(hourly, hours=np.uint64(12), recent_hours=np.int32(3))  # type: ignore[arg-type]
    assert result.value[0, -1] == 10.0
    assert np.isnan(nowcast(hourly, min_recent=2**70).value).all()
    with pytest.raises(TypeError):
        nowcast(hourly, hours=12.0)  # type: ignore[arg-type]
