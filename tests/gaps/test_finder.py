"""The pure gap finder (worker/gaps.py) on crafted series whose gaps are written here."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from worker.gaps import (
    Gaps,
    Schedule,
    expected_slots,
    find_gaps,
    missing_matrix,
    parameters_of,
    slot_presence,
)

DAY = np.datetime64("2025-03-01T00:00", "us")  # a UTC midnight
NAMES = ("pm25", "pm10", "no2")


def at(minutes: float) -> np.datetime64:
    return DAY + np.timedelta64(round(minutes * 60_000_000), "us")


def times(*minutes: float) -> np.ndarray:
    return np.array([at(m) for m in minutes], dtype="datetime64[us]")


def every(interval_min: int, first: int, stop: int, skip: tuple[int, ...] = ()) -> list[int]:
    """Minutes first, first + interval, … < stop, without those in ``skip``."""
    return [m for m in range(first, stop, interval_min) if m not in skip]


def series(per_parameter: Mapping[int, Sequence[float]]) -> tuple[np.ndarray, np.ndarray]:
    ts = [at(m) for p in sorted(per_parameter) for m in per_parameter[p]]
    idx = [p for p in sorted(per_parameter) for _ in per_parameter[p]]
    return np.array(ts, dtype="datetime64[us]"), np.array(idx, dtype=np.int64)


def rows(gaps: Gaps, names: tuple[str, ...] = NAMES) -> list[tuple[str, str, int, list[str]]]:
    return [
        (str(s)[11:16], str(e)[11:16], int(n), parameters_of(int(m), names))
        for s, e, n, m in zip(gaps.start, gaps.end, gaps.missing, gaps.parameters, strict=True)
    ]


def one_hour(interval_s: int = 300) -> Schedule:
    return Schedule.single(at(0), at(60), interval_s)


def test_slots_are_multiples_of_the_interval_in_the_half_open_period() -> None:
    slots, intervals = expected_slots(Schedule.single(at(2), at(17), 300))
    assert [str(s)[11:16] for s in slots] == ["00:05", "00:10", "00:15"]
    assert intervals.tolist() == [300, 300, 300]


def test_a_complete_hour_has_no_gap() -> None:
    ts, idx = series({p: every(5, 0, 60) for p in range(3)})
    gaps = find_gaps(one_hour(), ts, idx, 3)
    assert len(gaps) == 0 and gaps.expected == 12
    assert gaps.missing_by_parameter.tolist() == [0, 0, 0]


def test_clock_jitter_within_half_an_interval_counts_and_beyond_does_not() -> None:
    # 00:05 arrives 2 min 30 s late (exactly half: counts for 00:05, the earlier slot);
    # 00:10 two minutes early; 00:20 comes 2 min 31 s late, nearer 00:25, which also
    # has its own reading: 00:20 is missing.
    pm25 = [0, 7.5, 8, 15, 22.5 + 0.0167, 25, *every(5, 30, 60)]
    ts, idx = series({0: pm25})
    gaps = find_gaps(one_hour(), ts, idx, 1)
    assert rows(gaps, ("pm25",)) == [("00:20", "00:20", 1, ["pm25"])]


def test_several_readings_near_one_slot_fill_it_once() -> None:
    ts, idx = series({0: [0, 0.5, 1, 4.9, 5.1, *every(5, 15, 60)]})
    assert rows(find_gaps(one_hour(), ts, idx, 1), ("pm25",)) == [("00:10", "00:10", 1, ["pm25"])]


def test_each_parameter_is_decided_on_its_own_and_periods_split_where_the_set_changes() -> None:
    # pm25 missing 00:10-00:20, no2 missing 00:15-00:30, pm10 complete
    ts, idx = series({
        0: every(5, 0, 60, skip=(10, 15, 20)),
        1: every(5, 0, 60),
        2: every(5, 0, 60, skip=(15, 20, 25, 30)),
    })  # fmt: skip
    gaps = find_gaps(one_hour(), ts, idx, 3)
    assert rows(gaps) == [
        ("00:10", "00:10", 1, ["pm25"]),
        ("00:15", "00:20", 2, ["pm25", "no2"]),
        ("00:25", "00:30", 2, ["no2"]),
    ]
    assert gaps.missing_by_parameter.tolist() == [3, 0, 4]


def test_a_station_with_no_data_at_all_is_one_period_naming_every_parameter() -> None:
    gaps = find_gaps(one_hour(), times(), np.array([], dtype=np.int64), 3)
    assert rows(gaps) == [("00:00", "00:55", 12, ["pm25", "pm10", "no2"])]


def test_installation_mid_period_expects_nothing_before() -> None:
    # installed at 00:30: readings before it (commissioning tests) are ignored
    ts, idx = series({0: [*every(5, 0, 20), *every(5, 30, 60, skip=(45,))]})
    gaps = find_gaps(Schedule.single(at(30), at(60), 300), ts, idx, 1)
    assert rows(gaps, ("pm25",)) == [("00:45", "00:45", 1, ["pm25"])]
    assert gaps.expected == 6


def test_retirement_expects_nothing_after() -> None:
    ts, idx = series({0: every(5, 0, 20)})
    gaps = find_gaps(Schedule.single(at(0), at(30), 300), ts, idx, 1)
    assert rows(gaps, ("pm25",)) == [("00:20", "00:25", 2, ["pm25"])]


def test_an_interval_change_expects_each_period_at_its_own_rate() -> None:
    # 5-minute reports until 00:30, then every minute; 00:33 and 00:34 are lost, and
    # the 1-minute data would leave four of five slots empty if judged at 5 minutes.
    schedule = Schedule(
        np.array([at(0), at(30)], dtype="datetime64[us]"),
        np.array([at(30), at(40)], dtype="datetime64[us]"),
        np.array([300, 60]),
    )
    ts, idx = series({0: [*every(5, 0, 30), *every(1, 30, 40, skip=(33, 34))]})
    gaps = find_gaps(schedule, ts, idx, 1)
    assert gaps.expected == 6 + 10
    assert rows(gaps, ("pm25",)) == [("00:33", "00:34", 2, ["pm25"])]


def test_a_gap_may_span_an_interval_change() -> None:
    schedule = Schedule(
        np.array([at(0), at(30)], dtype="datetime64[us]"),
        np.array([at(30), at(40)], dtype="datetime64[us]"),
        np.array([300, 60]),
    )
    ts, idx = series({0: [*every(5, 0, 25), *every(1, 32, 40)]})
    assert rows(find_gaps(schedule, ts, idx, 1), ("pm25",)) == [("00:25", "00:31", 3, ["pm25"])]


def test_readings_outside_the_schedule_fill_nothing() -> None:
    ts, idx = series({0: [-60, -3, 62.6, 90, 120]})
    gaps = find_gaps(Schedule.single(at(0), at(60), 300), ts, idx, 1)
    # -3 min is within 2.5 min of nothing; 62.6 is 2.6 min after 01:00 (not a slot)
    assert rows(gaps, ("pm25",)) == [("00:00", "00:55", 12, ["pm25"])]


def test_edge_slots_take_jittered_readings_from_just_outside() -> None:
    ts, idx = series({0: [-2, *every(5, 5, 55), 57]})
    assert len(find_gaps(Schedule.single(at(0), at(60), 300), ts, idx, 1)) == 0


def test_parameter_indices_out_of_range_are_an_error() -> None:
    with pytest.raises(ValueError, match="parameter indices"):
        find_gaps(one_hour(), times(0), np.array([3]), 3)


def test_overlapping_periods_are_refused() -> None:
    with pytest.raises(ValueError, match="overlap"):
        Schedule(times(0, 20), times(30, 40), np.array([300, 60]))


def test_presence_of_a_slot_ignores_order_of_times() -> None:
    slots, iv = expected_slots(one_hour())
    t = times(55, 0, 30, 5)
    assert np.flatnonzero(slot_presence(slots, iv, t)).tolist() == [0, 1, 6, 11]


# --- properties -------------------------------------------------------------------------

INTERVALS = st.sampled_from([60, 300, 600, 900, 3600])


@st.composite
def station_series(draw: st.DrawFn) -> tuple[Schedule, np.ndarray, np.ndarray, int]:
    n_periods = draw(st.integers(1, 3))
    bounds = sorted(
        draw(
            st.lists(
                st.integers(0, 6 * 3600),
                min_size=2 * n_periods,
                max_size=2 * n_periods,
                unique=True,
            )
        )
    )
    starts = np.array([DAY + np.timedelta64(b, "s") for b in bounds[::2]], "datetime64[us]")
    ends = np.array([DAY + np.timedelta64(b, "s") for b in bounds[1::2]], "datetime64[us]")
    intervals = np.array([draw(INTERVALS) for _ in range(n_periods)])
    n_parameters = draw(st.integers(1, 4))
    n = draw(st.integers(0, 400))
    offsets = draw(st.lists(st.integers(-1800, 7 * 3600), min_size=n, max_size=n))
    ts = np.array([DAY + np.timedelta64(o, "s") for o in offsets], "datetime64[us]")
    idx = np.array(
        draw(st.lists(st.integers(0, n_parameters - 1), min_size=n, max_size=n)), dtype=np.int64
    )
    return Schedule(starts, ends, intervals), ts, idx, n_parameters


@settings(max_examples=300, deadline=None)
@given(station_series())
def test_every_slot_is_present_or_in_exactly_one_gap_and_counts_add_up(
    case: tuple[Schedule, np.ndarray, np.ndarray, int],
) -> None:
    schedule, ts, idx, n_parameters = case
    gaps = find_gaps(schedule, ts, idx, n_parameters)
    slots, intervals = expected_slots(schedule)
    assert gaps.expected == len(slots)
    for p in range(n_parameters):
        # presence written independently: any reading of p within half an interval,
        # the reading closest to it not nearer another slot (ties: earlier slot)
        mine = ts[idx == p]
        present = np.zeros(len(slots), bool)
        for t in mine if len(slots) else ():
            d = np.abs((slots - t).astype(np.int64))
            k = int(np.argmin(d))  # argmin takes the first (earlier) of equal distances
            if 2 * d[k] <= intervals[k] * 1_000_000:
                present[k] = True
        for k, slot in enumerate(slots):
            holding = [
                g
                for g in range(len(gaps))
                if gaps.start[g] <= slot <= gaps.end[g] and gaps.parameters[g] >> p & 1
            ]
            assert len(holding) == (0 if present[k] else 1), (p, slot)
        assert gaps.missing_by_parameter[p] == (~present).sum()
        in_gaps = sum(int(gaps.missing[g]) for g in range(len(gaps)) if gaps.parameters[g] >> p & 1)
        assert in_gaps == gaps.missing_by_parameter[p]
    # a period's count is the number of expected slots between its first and last
    for g in range(len(gaps)):
        inside = ((slots >= gaps.start[g]) & (slots <= gaps.end[g])).sum()
        assert gaps.missing[g] == inside
    assert (gaps.start[1:] > gaps.end[:-1]).all()


@settings(max_examples=100, deadline=None)
@given(station_series())
def test_the_matrix_agrees_with_single_parameter_runs(
    case: tuple[Schedule, np.ndarray, np.ndarray, int],
) -> None:
    schedule, ts, idx, n_parameters = case
    slots, intervals = expected_slots(schedule)
    together = missing_matrix(slots, intervals, ts, idx, n_parameters)
    for p in range(n_parameters):
        alone = missing_matrix(slots, intervals, ts[idx == p], np.zeros((idx == p).sum(), int), 1)
        assert (together[p] == alone[0]).all()
