"""The automatic QA/QC rules on crafted series, each with the flags it must give.

Thresholds are set in each test (not read from qaqc/rules.toml) so that the expected
flags follow from the numbers written here; one test checks the shipped file loads.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from qaqc.rules import (
    CALIB,
    FAULT,
    FLAT,
    MANUAL,
    NEG,
    PM,
    RANGE,
    SPIKE,
    ParameterRules,
    RulesError,
    RuleSet,
    codes_of,
    evaluate,
    first_rule,
    load_rules,
    range_bounds,
)
from worker.screening import Period, hourly_means, manual_mask


def numba_missing() -> str:
    """Why numba cannot run the compiled checks here ("" when it can)."""
    try:
        importlib.import_module("numba")
    except ImportError as exc:  # absent, or refusing this numpy version
        return f"numba cannot be imported ({exc}; the 'fast' extra): compiled checks untested"
    return ""


WHY_NO_NUMBA = numba_missing()

H = 3_600_000_000  # µs per hour
M5 = 300_000_000  # 5 minutes
T0 = 480_000 * H  # some hour in 2024
PARAMS = ["no2", "pm10", "pm25", "temperature"]
NO2, PM10, PM25, TEMP = range(4)


def _rules(**overrides: float) -> RuleSet:
    p = ParameterRules(negative_below=-10.0, range_max=1000.0, flat_line_n=4, spike=100.0)
    return RuleSet(
        version="test-1",
        max_gap_minutes=overrides.get("gap", 90.0),
        pm_tolerance_ug_m3=overrides.get("pm_abs", 5.0),
        pm_tolerance_fraction=overrides.get("pm_rel", 0.10),
        parameters={"pm25": p, "pm10": p, "no2": p},
    )


def _one_series(values: Sequence[float], parameter: int = NO2, step: int = M5,
                status: list[int] | None = None) -> npt.NDArray[np.uint16]:  # fmt: skip
    n = len(values)
    return evaluate(
        _rules(), PARAMS, np.zeros(n), np.full(n, parameter), T0 + np.arange(n) * step,
        np.array(values), np.array(status or [0] * n),
    )  # fmt: skip


def _bits(flags: npt.NDArray[np.uint16], bit: int) -> list[int]:
    return [int(i) for i in np.flatnonzero(flags & bit)]


def test_status_01_is_calibration_and_02_instrument_fault() -> None:
    flags = _one_series([10, 11, 12, 13, 14], status=[0, 1, 2, 0, 1])
    assert _bits(flags, CALIB) == [1, 4]
    assert _bits(flags, FAULT) == [2]
    assert codes_of(int(flags[1])) == ["calibration"]
    assert codes_of(int(flags[2])) == ["instrument_fault"]
    assert _bits(flags, 0xFFFF & ~(CALIB | FAULT)) == []


def test_flat_line_of_n_identical_values_and_not_n_minus_one() -> None:
    #          0   1   2   3   4   5   6   7   8   9  10
    values = [10, 20, 20, 20, 20, 30, 40, 40, 40, 50, 50]
    flags = _one_series(values)
    assert _bits(flags, FLAT) == [1, 2, 3, 4]  # four 20s (n = 4); three 40s are fine


def test_flat_line_is_broken_by_a_gap_and_by_a_flagged_reading_in_between() -> None:
    values = [20.0, 20.0, 20.0, 20.0]
    n = 4
    ts = T0 + np.array([0, 1, 2, 5]) * H  # a 3-hour gap before the last (gap 90 min)
    flags = evaluate(_rules(), PARAMS, np.zeros(n), np.full(n, NO2), ts, np.array(values),
                     np.zeros(n))  # fmt: skip
    assert _bits(flags, FLAT) == []
    # A status-02 reading does not count in the run but does not break it either:
    # the neighbours of a reading are the readings that passed the status rules.
    flags = _one_series([20, 20, 99, 20, 20], status=[0, 0, 2, 0, 0])
    assert _bits(flags, FLAT) == [0, 1, 3, 4]


def test_spike_above_both_neighbours_but_not_a_step() -> None:
    #          0   1    2   3   4    5    6
    values = [10, 12, 150, 11, 13, 200, 210]
    flags = _one_series(values)
    # reading 2: |150 − (12 + 11)/2| − |(11 − 12)/2| = 138.5 − 0.5 = 138 > 100
    # reading 5: a step up (210 follows): |200 − 111.5| − |(210 − 13)/2| = 88.5 − 98.5 < 0
    assert _bits(flags, SPIKE) == [2]
    # A downward spike counts too: |10 − (150 + 160)/2| − |(160 − 150)/2| = 145 − 5
    assert _bits(_one_series([150, 10, 160]), SPIKE) == [1]


def test_spike_exactly_at_the_bound_is_not_flagged() -> None:
    # |112 − (12 + 12)/2| − 0 = 100, not above 100
    assert _bits(_one_series([12, 112, 12]), SPIKE) == []
    assert _bits(_one_series([12, 112.5, 12]), SPIKE) == [1]


def test_negative_beyond_noise_and_small_negatives_kept() -> None:
    flags = _one_series([5, -3, -10, -10.5, 4])
    assert _bits(flags, NEG) == [3]


def test_out_of_instrument_range() -> None:
    flags = _one_series([5, 1000, 7, 1000.5, 6])
    assert _bits(flags, RANGE) == [3]
    # The out-of-range reading is nobody's neighbour: 7 lies between 1000 and 6, not
    # between 1000 and 1000.5. 1000 (in range) stands out from 5 and 7: a spike.
    assert _bits(flags, SPIKE) == [1]


def _station_series(
    values: Sequence[float], ranges: dict[tuple[int, int], tuple[float, float]],
    parameter: int = NO2, station: int = 0,
) -> npt.NDArray[np.uint16]:  # fmt: skip
    n = len(values)
    st, par = np.full(n, station), np.full(n, parameter)
    bounds = range_bounds(_rules(), PARAMS, st, par, ranges)
    return evaluate(_rules(), PARAMS, st, par, T0 + np.arange(n) * 6 * H,  # no neighbours
                    np.array(values), np.zeros(n), bounds=bounds)  # fmt: skip


def test_station_instrument_range_replaces_the_default() -> None:
    # station 0's NO2 analyser reads 0-500 µg/m³; the rules' default range_max is 1000
    values = [5, 500, 500.5, 999, 1000.5, -3, -10.5]
    flags = _station_series(values, {(0, NO2): (0.0, 500.0)})
    assert _bits(flags, RANGE) == [2, 3, 4]
    assert _bits(flags, NEG) == [6]  # a min of 0 leaves negatives to the negative rule
    # another station, and another parameter of the same station, keep the default
    assert _bits(_station_series(values, {(0, NO2): (0.0, 500.0)}, station=1), RANGE) == [4]
    assert _bits(_station_series(values, {(0, NO2): (0.0, 500.0)}, parameter=PM10),
                 RANGE) == [4]  # fmt: skip
    # a range wider than the default raises the limit
    assert _bits(_station_series(values, {(0, NO2): (0.0, 2000.0)}), RANGE) == []


def test_station_instrument_range_with_a_positive_minimum() -> None:
    # min 50: out of range below 50 − 10 (the noise allowance −negative_below)
    flags = _station_series([40, 39.5, 45, 100, 200.5], {(0, NO2): (50.0, 200.0)})
    assert _bits(flags, RANGE) == [1, 4]
    assert range_bounds(_rules(), PARAMS, np.zeros(1), np.zeros(1), {}) is None


def test_parameters_without_rules_get_only_status_bits() -> None:
    flags = _one_series([-50, 5000, 5000, 5000, 5000, 7], parameter=TEMP, status=[0] * 5 + [2])
    assert flags.tolist() == [0, 0, 0, 0, 0, FAULT]


def test_pm25_above_pm10_in_the_same_station_hour() -> None:
    # Station 0, hour 0: PM2.5 mean 50, PM10 mean 40 → 50 > 40·1.1 + 5 = 49: flagged.
    # Station 0, hour 1: PM2.5 48 vs PM10 40 → 48 ≤ 49: kept.
    # Station 1, hour 0: PM2.5 50, no PM10: nothing to compare.
    station = np.array([0, 0, 0, 0, 0, 0, 1])
    parameter = np.array([PM10, PM10, PM25, PM25, PM25, PM10, PM25])
    ts = T0 + np.array([0, M5, 0, M5, H, H, 0])
    value = np.array([39.0, 41.0, 45.0, 55.0, 48.0, 40.0, 50.0])
    order = np.lexsort((ts, parameter, station))
    flags = evaluate(_rules(), PARAMS, station[order], parameter[order], ts[order],
                     value[order], np.zeros(7))  # fmt: skip
    flagged = sorted(
        (int(station[order][i]), PARAMS[int(parameter[order][i])], int(ts[order][i] - T0))
        for i in np.flatnonzero(flags & PM)
    )
    assert flagged == [(0, "pm10", 0), (0, "pm10", M5), (0, "pm25", 0), (0, "pm25", M5)]


def test_manual_readings_are_invisible_to_the_other_rules() -> None:
    # Without the invalidation, 150 is a spike; invalidated, nothing else is flagged and
    # the run of 20s is counted as if it had never been interrupted.
    values = np.array([20.0, 20.0, 150.0, 20.0, 20.0, 12.0])
    n = len(values)
    manual = np.array([False, False, True, False, False, False])
    flags = evaluate(_rules(), PARAMS, np.zeros(n), np.full(n, NO2), T0 + np.arange(n) * M5,
                     values, np.zeros(n), manual)  # fmt: skip
    assert flags.tolist() == [FLAT, FLAT, MANUAL, FLAT, FLAT, 0]


def test_first_rule_orders_removals() -> None:
    assert first_rule(np.array([0, MANUAL | FAULT, FAULT | RANGE, FLAT | SPIKE, PM])).tolist() == [
        -1, 0, 2, 5, 7,
    ]  # fmt: skip


def test_manual_mask_last_word_wins() -> None:
    station = np.array([0, 0, 0, 0, 1])
    parameter = np.array([NO2, NO2, PM25, PM25, NO2])
    ts = T0 + np.array([0, H, 0, H, 0])
    periods = [
        Period(0, -1, T0, T0 + 2 * H, invalid=True),  # station 0, every parameter
        Period(0, PM25, T0 + H, T0 + 2 * H, invalid=False),  # PM2.5 of the second hour back
    ]
    assert manual_mask(periods, station, parameter, ts).tolist() == [True, True, True, False,
                                                                     False]  # fmt: skip


def test_hourly_means_count_each_rule_once_and_skip_invalidated_hours() -> None:
    # Hour 0: 3 valid (10, 20, 30), one status 02, one spike → mean 20, n_valid 3.
    # Hour 1: everything invalidated by an officer → no row.
    station = np.zeros(7, np.int64)
    parameter = np.full(7, NO2)
    ts = T0 + np.array([0, M5, 2 * M5, 3 * M5, 4 * M5, H, H + M5])
    value = np.array([10.0, 20.0, 30.0, 99.0, 40.0, 5.0, 6.0])
    flags = np.array([0, 0, 0, FAULT, SPIKE, MANUAL, MANUAL | FAULT], np.uint16)
    means = hourly_means(station, parameter, ts, value, flags, np.ones(7, bool))
    assert means.hour.tolist() == [T0 // H]
    assert means.mean.tolist() == [20.0]
    assert means.n_valid.tolist() == [3]
    assert means.n_flagged.tolist() == [1]
    assert means.removed["n_qc_spike"].tolist() == [1]
    assert means.removed["n_qc_manual"].tolist() == [0]


def test_shipped_rules_file_loads_with_every_aqi_pollutant() -> None:
    rules = load_rules()
    assert rules.version
    assert {"pm25", "pm10", "no2", "o3", "so2", "co"} <= set(rules.parameters)
    assert rules.context_hours() >= 1


def test_rules_file_errors_name_the_key(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(
        'version = "x"\nmax_gap_minutes = 90\n[pm_ratio]\ntolerance_ug_m3 = 5\n'
        "tolerance_fraction = 0.1\n[parameters.pm25]\nnegative_below = -10\n"
        "range_max = 1000\nflat_line_n = 1\nspike = 100\n",
        encoding="utf-8",
    )
    with pytest.raises(RulesError, match=r"parameters\.pm25\.flat_line_n"):
        load_rules(path)


def _random_readings(seed: int, stations: int = 4, per_series: int = 3000) -> dict[str, Any]:
    """Random series with every kind of fault, sorted by station, parameter and time."""
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(stations):
        for p in range(len(PARAMS)):
            steps = rng.choice([M5, M5, M5, 2 * M5, 3 * H], per_series)
            ts = T0 + np.cumsum(steps)
            value = np.round(rng.uniform(-15, 80, per_series), 0)  # coarse: repeats happen
            value[rng.integers(0, per_series, 30)] += rng.choice([-400.0, 500.0, 2000.0], 30)
            for start in rng.integers(0, per_series - 20, 10):
                value[start : start + rng.integers(2, 16)] = value[start]
            status = rng.choice([0, 0, 0, 0, 0, 0, 0, 0, 1, 2], per_series)
            rows.append((np.full(per_series, s), np.full(per_series, p), ts, value, status))
    columns = [np.concatenate([r[i] for r in rows]) for i in range(5)]
    manual = rng.random(len(columns[0])) < 0.02
    return {"station": columns[0], "parameter": columns[1], "ts": columns[2],
            "value": columns[3], "status": columns[4], "manual": manual}  # fmt: skip


@pytest.mark.skipif(bool(WHY_NO_NUMBA), reason=WHY_NO_NUMBA or "numba imports")
@pytest.mark.parametrize("seed", range(6))
def test_compiled_kernel_gives_the_numpy_flags(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    from qaqc import kernels

    assert kernels.kernel() is not None
    data = _random_readings(seed)
    rules = _rules(pm_abs=2.0, pm_rel=0.0)
    # per-station instrument ranges: narrower, wider and with a positive minimum
    bounds = range_bounds(rules, PARAMS, data["station"], data["parameter"],
                          {(0, NO2): (0.0, 60.0), (1, PM25): (0.0, 5000.0),
                           (2, PM10): (20.0, 900.0)})  # fmt: skip
    results = {}
    for backend, compiled in (("numpy", False), ("numba", True)):
        monkeypatch.setattr(kernels, "wanted", lambda n, compiled=compiled: compiled)
        for with_manual in (False, True):
            for with_bounds in (False, True):
                results[backend, with_manual, with_bounds] = evaluate(
                    rules, PARAMS, data["station"], data["parameter"], data["ts"],
                    data["value"], data["status"], data["manual"] if with_manual else None,
                    bounds if with_bounds else None,
                )  # fmt: skip
    for with_manual in (False, True):
        for with_bounds in (False, True):
            numpy_flags = results["numpy", with_manual, with_bounds]
            assert np.array_equal(results["numba", with_manual, with_bounds], numpy_flags)
            for bit in (CALIB, FAULT, RANGE, NEG, FLAT, SPIKE, PM):  # every rule exercised
                assert np.count_nonzero(numpy_flags & bit) > 0, bit
    # the station ranges change which readings are flagged
    assert np.count_nonzero(results["numpy", False, True] & RANGE) > np.count_nonzero(
        results["numpy", False, False] & RANGE
    )
