"""Properties of the engine (hypothesis)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numpy.testing import assert_allclose

from aqi import TABLES, daily_aqi, hourly_aqi, subindex
from aqi.categories import CATEGORIES

METHOD_SCALES = [(m, s) for m, tables in TABLES.items() for s in tables]
conc_values = st.floats(min_value=-10, max_value=200_000, allow_nan=False)
maybe_missing = st.one_of(st.just(np.nan), st.floats(min_value=-5, max_value=800))


@given(st.sampled_from(METHOD_SCALES), st.lists(conc_values, min_size=2, max_size=50))
def test_subindex_monotone_non_decreasing(
    method_scale: tuple[str, str], values: list[float]
) -> None:
    method, scale = method_scale
    conc = np.sort(np.array(values))
    result = subindex(conc, scale, method)
    defined = result[~np.isnan(result)]
    assert (np.diff(defined) >= -1e-9).all()
    # Undefined only at the ends (O3 1-h below 0.125 ppm, SO2 1-h above 304 ppb, O3 8-h > 400).
    undefined = np.isnan(result)
    if undefined.any() and not undefined.all():
        first, last = np.flatnonzero(~undefined)[[0, -1]]
        assert not undefined[first : last + 1].any()


@given(st.sampled_from(METHOD_SCALES), st.lists(st.just(np.nan), min_size=1, max_size=5))
def test_nan_never_becomes_a_number_in_subindex(
    method_scale: tuple[str, str], values: list[float]
) -> None:
    method, scale = method_scale
    assert np.isnan(subindex(values, scale, method)).all()


station_hours = arrays(
    np.float64, st.tuples(st.integers(1, 4), st.just(36)), elements=maybe_missing
)


@settings(max_examples=60, deadline=None)
@given(station_hours, station_hours, station_hours, st.sampled_from(list(TABLES)))
def test_hourly_invariants(
    pm25: np.ndarray, pm10: np.ndarray, no2: np.ndarray, method: str
) -> None:
    n = min(len(pm25), len(pm10), len(no2))
    conc = {"pm25": pm25[:n], "pm10": pm10[:n], "no2": no2[:n]}
    result = hourly_aqi(conc, method)
    stacked = np.stack([result.subindex[p] for p in ("pm25", "pm10", "no2")])
    has_pm = ~np.isnan(stacked[:2]).all(axis=0)
    # The AQI is the max of the sub-indices, rounded half-up, exactly when PM exists.
    expected = np.where(
        has_pm,
        np.floor(np.round(np.nanmax(np.where(np.isnan(stacked), -1, stacked), axis=0), 9) + 0.5),
        np.nan,
    )
    assert_allclose(result.aqi, expected)
    # The category matches the value.
    for index, category in enumerate(CATEGORIES[method]):
        in_band = result.category == index
        assert (result.aqi[in_band] >= category.lower).all()
        if index < 5:
            assert (result.aqi[in_band] <= category.upper).all()
    assert ((result.category == -1) == np.isnan(result.aqi)).all()
    # The dominant pollutant's sub-index is the max.
    dominant_sub = np.choose(
        np.maximum(result.dominant, 0),
        [
            result.subindex["pm25"],
            result.subindex["pm10"],
            result.subindex["pm25"],
            result.subindex["no2"],
        ],
    )
    ok = result.dominant >= 0
    assert_allclose(
        dominant_sub[ok], np.nanmax(np.where(np.isnan(stacked), -1, stacked), axis=0)[ok]
    )
    # NaN never becomes a number: an hour with no value in its window has no sub-index.
    for p in ("pm25", "pm10"):
        assert np.isnan(result.subindex[p][result.n_valid[f"{p}_nowcast"] == 0]).all()
    assert np.isnan(result.subindex["no2"][np.isnan(conc["no2"])]).all()


@settings(max_examples=40, deadline=None)
@given(station_hours, st.permutations(range(4)), st.sampled_from(["hour", "day"]))
def test_station_order_does_not_matter(pm: np.ndarray, perm: list[int], period: str) -> None:
    pm = np.vstack([pm, pm[::-1] * 0.7, np.full((1, 36), 30.0), np.full((1, 36), np.nan)])[:4]
    order = np.array(perm)[: len(pm)] if len(pm) == 4 else np.arange(len(pm))
    conc = {"pm25": pm, "no2": pm * 3}
    shuffled = {k: v[order] for k, v in conc.items()}
    if period == "hour":
        a, b = hourly_aqi(conc), hourly_aqi(shuffled)
    else:
        a, b = daily_aqi(conc, hours_before=12), daily_aqi(shuffled, hours_before=12)
    assert_allclose(a.aqi[order], b.aqi)
    assert (a.dominant[order] == b.dominant).all()
    assert (a.missing_reason[order] == b.missing_reason).all()


@settings(max_examples=40, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(1, 3), st.just(7 + 48)), elements=maybe_missing))
def test_daily_nan_never_becomes_a_number(o3: np.ndarray) -> None:
    result = daily_aqi({"pm25": o3, "o3": o3}, hours_before=7)
    days = o3[:, 7:].reshape(len(o3), 2, 24)
    all_missing = np.isnan(days).all(axis=-1)
    assert np.isnan(result.aqi[all_missing]).all()
    assert np.isnan(result.subindex["pm25"][all_missing]).all()
