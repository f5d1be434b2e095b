"""The work plan: which hours and local days a changed station-hour touches."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from worker.plan import plan_work, union_of_runs
from worker.timeline import LocalCalendar, datetime_of_hour, hour_number

HCM = LocalCalendar.for_timezone("Asia/Ho_Chi_Minh")
FAR_FUTURE = hour_number(dt.datetime(2100, 1, 1, tzinfo=dt.UTC))


def _hour(year: int, month: int, day: int, hour: int) -> int:
    """Hour number of a local (UTC+7) wall-clock time."""
    local = dt.datetime(year, month, day, hour, tzinfo=dt.timezone(dt.timedelta(hours=7)))
    return hour_number(local)


def _written(plan_hours: tuple[np.ndarray, np.ndarray, np.ndarray]) -> list[dt.datetime]:
    return [datetime_of_hour(int(h)) for h in sorted(plan_hours[2])]


def test_calendar_days_start_at_local_midnight() -> None:
    assert HCM.offset_hours == 7
    # 16:59 UTC is 23:59 local on the 1st; 17:00 UTC is 00:00 local on the 2nd.
    before = hour_number(dt.datetime(2025, 1, 1, 16, 0, tzinfo=dt.UTC))
    after = hour_number(dt.datetime(2025, 1, 1, 17, 0, tzinfo=dt.UTC))
    assert HCM.date_of(int(HCM.day_of_hour(before))) == dt.date(2025, 1, 1)
    assert HCM.date_of(int(HCM.day_of_hour(after))) == dt.date(2025, 1, 2)
    assert HCM.day_start(dt.date(2025, 1, 2)) == dt.datetime(2025, 1, 1, 17, tzinfo=dt.UTC)


@pytest.mark.parametrize("zone", ["Europe/Berlin", "Asia/Kolkata", "Nowhere/Atlantis"])
def test_calendar_refuses_zones_whose_days_are_not_24_whole_hours(zone: str) -> None:
    with pytest.raises(ValueError, match=zone):
        LocalCalendar.for_timezone(zone)


def test_one_changed_hour_touches_the_next_11_hours_and_their_days() -> None:
    changed = _hour(2025, 3, 10, 20)  # 20:00 local: the NowCast reach crosses midnight
    plan = plan_work([0], [changed], HCM, FAR_FUTURE)
    hours = _written(plan.written_hours())
    assert hours[0] == datetime_of_hour(changed)
    assert len(hours) == 12 and hours[-1] == datetime_of_hour(changed + 11)
    days = sorted(HCM.date_of(int(d)) for d in plan.written_days()[2])
    # 13:00 (h − 7) … 07:00 next day (h + 11): the 10th and the 11th.
    assert days == [dt.date(2025, 3, 10), dt.date(2025, 3, 11)]


def test_early_hour_also_touches_the_previous_day() -> None:
    # US O3 windows of the 9th (starting up to 23:00) reach 7 hours into the 10th.
    plan = plan_work([0], [_hour(2025, 3, 10, 3)], HCM, FAR_FUTURE)
    days = sorted(HCM.date_of(int(d)) for d in plan.written_days()[2])
    assert days == [dt.date(2025, 3, 9), dt.date(2025, 3, 10)]


def test_hours_and_days_that_have_not_begun_are_not_planned() -> None:
    now = _hour(2025, 3, 10, 22)
    plan = plan_work([0], [now - 1], HCM, now)
    assert _written(plan.written_hours()) == [datetime_of_hour(now - 1), datetime_of_hour(now)]
    days = sorted(HCM.date_of(int(d)) for d in plan.written_days()[2])
    assert days == [dt.date(2025, 3, 10)]


def test_duplicates_coalesce_and_stations_get_their_own_rows() -> None:
    h = _hour(2025, 3, 10, 12)
    plan = plan_work([0, 0, 0, 1], [h, h, h + 1, h], HCM, FAR_FUTURE)
    rows, _, hours = plan.written_hours()
    stations = plan.row_station[rows]
    assert sorted(hours[stations == 0].tolist()) == list(range(h, h + 13))
    assert sorted(hours[stations == 1].tolist()) == list(range(h, h + 12))
    assert plan.n_station_hours == 25


def test_long_backlogs_are_split_into_rows_of_bounded_length() -> None:
    first = _hour(2025, 1, 1, 0)
    hours = np.arange(first, first + 24 * 70)
    plan = plan_work(np.zeros_like(hours), hours, HCM, FAR_FUTURE, max_days_per_row=31)
    assert plan.days_per_row == 31
    assert plan.row_days.tolist() == [31, 31, 10]  # Dec 31 … Mar 12: 72 days
    written = np.sort(plan.written_hours()[2])
    assert written.tolist() == list(range(first, first + 24 * 70 + 11))
    t0, t1 = plan.row_windows()
    assert (t1 - t0).tolist() == [12 + 24 * d + 7 for d in (31, 31, 10)]


@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 200), st.integers(0, 30)), max_size=40))
def test_union_of_runs_equals_the_set_of_every_member(
    runs: list[tuple[int, int, int]],
) -> None:
    # Runs as plan_work makes them: in order of their first member, ends non-decreasing.
    ordered = sorted((station * 1000 + start, width) for station, start, width in runs)
    first = np.array([a for a, _ in ordered], dtype=np.int64)
    last = np.maximum.accumulate(first + np.array([w for _, w in ordered], dtype=np.int64))
    pairs = zip(first.tolist(), last.tolist(), strict=True)
    expected = sorted({v for a, b in pairs for v in range(a, b + 1)})
    assert union_of_runs(first, last).tolist() == expected


def test_hours_of_the_first_day_of_1970_plan_no_day_before_it() -> None:
    utc = LocalCalendar.for_timezone("UTC")
    plan = plan_work([0, 1], [3, 3], utc, FAR_FUTURE)
    rows, _, days = plan.written_days()
    assert plan.row_station[rows].tolist() == [0, 1] and days.tolist() == [0, 0]
