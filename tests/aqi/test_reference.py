"""A scalar reference written straight from the standards (Decision 1459 §2.2, TAD 2024),
one value at a time, compared with the vectorised engine on random data and on real hourly series."""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

import numpy as np
import pytest
from numpy.testing import assert_allclose

from aqi import daily_aqi, hourly_aqi

# Decision 1459 Table 2, levels 1..8 (O3 8-h levels 1..6), µg/m³.
BP = {
    "o3_1h": [0, 160, 200, 300, 400, 800, 1000, 1200],
    "o3_8h": [0, 100, 120, 170, 210, 400],
    "co": [0, 10000, 30000, 45000, 60000, 90000, 120000, 150000],
    "so2": [0, 125, 350, 550, 800, 1600, 2100, 2630],
    "no2": [0, 100, 200, 700, 1200, 2350, 3100, 3850],
    "pm10": [0, 50, 150, 250, 350, 420, 500, 600],
    "pm25": [0, 25, 50, 80, 150, 250, 350, 500],
}
I = [0, 50, 100, 150, 200, 300, 400, 500]  # noqa: E741 -- the decision's name
Value = float | None


def sub_index(col: str, c: Value) -> Value:
    if c is None:
        return None
    c = max(c, 0.0)
    if col == "o3_8h" and c > 400:
        return None
    bp = BP[col]
    if c >= bp[-1]:
        return 500.0 if col != "o3_8h" else 300.0
    i = next(i for i in range(len(bp) - 1) if c <= bp[i + 1])
    return (I[i + 1] - I[i]) / (bp[i + 1] - bp[i]) * (c - bp[i]) + I[i]


def ref_nowcast(c: list[Value]) -> Value:  # c[0] = current hour, c[11] = 11 hours before
    if sum(v is not None for v in c[:3]) < 2:
        return None
    terms = [(i, v) for i, v in enumerate(c[:12]) if v is not None]
    values = [v for _, v in terms]
    if max(values) == 0:
        return 0.0
    w = max(min(values) / max(values), 0.5)
    return sum(w**i * v for i, v in terms) / sum(w**i for i, _ in terms)


def half_up(x: float) -> int:
    return int(Decimal(repr(round(float(x), 9))).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def final(subs: dict[str, Value]) -> tuple[int | None, str | None]:
    order = ["pm25", "pm10", "o3", "no2", "so2", "co"]
    if subs.get("pm25") is None and subs.get("pm10") is None:
        return None, None
    best = max(v for v in subs.values() if v is not None)
    dominant = next(p for p in order if subs.get(p) is not None and subs[p] == best)
    return half_up(best), dominant


def clamp(v: Value) -> Value:
    return None if v is None else max(v, 0.0)


def aqi_hour(series: dict[str, list[Value]], t: int) -> tuple[int | None, str | None]:
    subs: dict[str, Value] = {}
    for p, s in series.items():
        if p in ("pm25", "pm10"):
            window = [clamp(s[t - k]) if t - k >= 0 else None for k in range(12)]
            subs[p] = sub_index(p, ref_nowcast(window))
        else:
            subs[p] = sub_index("o3_1h" if p == "o3" else p, s[t])
    return final(subs)


def mean_if(values: list[Value], need: int) -> Value:
    ok = [v for v in values if v is not None]
    return sum(ok) / len(ok) if len(ok) >= need else None


def max_if(values: list[Value], need: int) -> Value:
    ok = [v for v in values if v is not None]
    return max(ok) if len(ok) >= need else None


def aqi_day(series: dict[str, list[Value]], day: int, before: int) -> tuple[int | None, str | None]:
    start = before + 24 * day
    subs: dict[str, Value] = {}
    for p, raw in series.items():
        s = [clamp(v) for v in raw]
        hours = s[start : start + 24]
        if p in ("pm25", "pm10"):
            subs[p] = sub_index(p, mean_if(hours, 18))
        elif p == "o3":
            means = [mean_if(s[max(0, h - 7) : h + 1], 6) for h in range(start, start + 24)]
            candidates = [
                sub_index("o3_1h", max_if(hours, 18)),
                sub_index("o3_8h", max_if(means, 18)),
            ]
            ok = [v for v in candidates if v is not None]
            subs[p] = max(ok) if ok else None
        else:
            subs[p] = sub_index(p, max_if(hours, 18))
    return final(subs)


def as_lists(conc: dict[str, np.ndarray], station: int) -> dict[str, list[Value]]:
    return {p: [None if math.isnan(v) else float(v) for v in a[station]] for p, a in conc.items()}


def random_conc(rng: np.random.Generator, stations: int, hours: int) -> dict[str, np.ndarray]:
    scale = {"pm25": 60, "pm10": 100, "o3": 150, "no2": 120, "so2": 150, "co": 12000}
    conc = {}
    for p, s in scale.items():
        a = rng.lognormal(math.log(s), 0.9, (stations, hours))
        a[rng.random(a.shape) < 0.25] = np.nan  # many gaps: exercise every rule
        a[rng.random(a.shape) < 0.02] *= -0.01  # a few small negative readings
        a[rng.random(a.shape) < 0.01] = 0.0
        conc[p] = a
    return conc


def assert_same(
    engine_aqi: np.ndarray, engine_dom: list[str], expected: list[tuple[int | None, str | None]]
) -> None:
    ref_aqi = np.array([np.nan if a is None else a for a, _ in expected])
    assert_allclose(engine_aqi, ref_aqi)
    assert engine_dom == [d or "" for _, d in expected]


def test_hourly_matches_reference_on_random_data() -> None:
    rng = np.random.default_rng(20191112)
    conc = random_conc(rng, 4, 72)
    result = hourly_aqi(conc)
    for s in range(4):
        series = as_lists(conc, s)
        expected = [aqi_hour(series, t) for t in range(72)]
        assert_same(result.aqi[s], result.dominant_names()[s].tolist(), expected)


def test_daily_matches_reference_on_random_data() -> None:
    rng = np.random.default_rng(1459)
    conc = random_conc(rng, 4, 7 + 24 * 5)
    conc = {
        p: np.where(rng.random(a.shape) < 0.5, a, np.nan) if p == "o3" else a
        for p, a in conc.items()
    }
    result = daily_aqi(conc, hours_before=7)
    for s in range(4):
        series = as_lists(conc, s)
        expected = [aqi_day(series, d, 7) for d in range(5)]
        assert_same(result.aqi[s], result.dominant_names()[s].tolist(), expected)


# US EPA reference: truncation with Decimal, row search, half-up, PM only.
US_PM25_2024 = [(0.0, 9.0, 0, 50), (9.1, 35.4, 51, 100), (35.5, 55.4, 101, 150),
                (55.5, 125.4, 151, 200), (125.5, 225.4, 201, 300), (225.5, 325.4, 301, 500)]  # fmt: skip


def us_pm25(c: float) -> float:
    t = float(Decimal(repr(max(float(c), 0.0))).quantize(Decimal("0.1"), rounding=ROUND_DOWN))
    for lo, hi, ilo, ihi in US_PM25_2024:
        if lo <= t <= hi:
            return (ihi - ilo) / (hi - lo) * (t - lo) + ilo
    lo, hi, ilo, ihi = US_PM25_2024[-1]
    return (ihi - ilo) / (hi - lo) * (t - lo) + ilo  # beyond the AQI: extrapolate


def test_us_daily_pm25_matches_reference() -> None:
    rng = np.random.default_rng(2024)
    pm25 = np.round(rng.lognormal(math.log(40), 1.0, (5, 24 * 20)), 2)
    result = daily_aqi({"pm25": pm25}, "us_epa_2024", hours_before=0)
    means = pm25.reshape(5, 20, 24).mean(axis=-1)
    expected = np.array([[half_up(us_pm25(m)) for m in row] for row in means])
    assert_allclose(result.aqi, expected)


@pytest.mark.parametrize(
    "name", ["stateair_Hanoi_PM2.5_2019_Oct-Dec.csv", "stateair_HoChiMinhCity_PM2.5_2017_YTD.csv"]
)
def test_vn_hourly_and_daily_match_reference_on_real_series(
    stateair: Callable[[str], tuple[np.ndarray, ...]], name: str
) -> None:
    raw = stateair(name)[0]
    raw = raw[: 24 * 40]  # 40 days keep the pure-Python reference quick
    result = hourly_aqi({"pm25": raw})
    series = {"pm25": [None if math.isnan(v) else float(v) for v in raw]}
    expected = [aqi_hour(series, t) for t in range(len(raw))]
    assert_same(result.aqi, result.dominant_names().tolist(), expected)
    # Local days: the file's first label 01:00 is the hour starting 00:00 → aligned.
    days = daily_aqi({"pm25": raw}, hours_before=0)
    expected_days = [aqi_day(series, d, 0) for d in range(len(raw) // 24)]
    assert_same(days.aqi, days.dominant_names().tolist(), expected_days)
