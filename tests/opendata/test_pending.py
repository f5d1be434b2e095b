"""Which local years a changed hourly mean reaches (pure; no database).

A changed hour *h* changes the hourly AQI up to *h* + 11 (NowCast) and the daily AQI of
the local days containing *h* − 7 … *h* + 11 (8-hour O3 windows reach 7 hours back).
Expected years are read off a calendar in Asia/Ho_Chi_Minh (UTC+7) by hand.
"""

from __future__ import annotations

import datetime as dt

from opendata.pending import changed_years
from worker.timeline import LocalCalendar, hour_number

CALENDAR = LocalCalendar.for_timezone("Asia/Ho_Chi_Minh")
LOCAL = dt.timezone(dt.timedelta(hours=7))


def _hour(year: int, month: int, day: int, hour: int) -> int:
    return hour_number(dt.datetime(year, month, day, hour, tzinfo=LOCAL))


def test_an_hour_mid_year_reaches_its_own_year_only() -> None:
    assert changed_years([0], [_hour(2025, 6, 1, 12)], CALENDAR) == [(0, 2025)]


def test_the_first_hours_of_a_year_reach_back_into_the_last_day_of_the_previous() -> None:
    # 03:00 on 1 January: 7 hours back is 20:00 on 31 December, a day of 2024.
    assert changed_years([0], [_hour(2025, 1, 1, 3)], CALENDAR) == [(0, 2024), (0, 2025)]
    # 07:00: 7 hours back is 00:00 on 1 January, already 2025.
    assert changed_years([0], [_hour(2025, 1, 1, 7)], CALENDAR) == [(0, 2025)]


def test_the_last_hours_of_a_year_reach_into_the_next() -> None:
    # 13:00 on 31 December: its NowCast reaches 00:00 on 1 January (13 + 11 = 24).
    assert changed_years([1], [_hour(2025, 12, 31, 13)], CALENDAR) == [(1, 2025), (1, 2026)]
    assert changed_years([1], [_hour(2025, 12, 31, 12)], CALENDAR) == [(1, 2025)]


def test_stations_keep_their_own_years_and_duplicates_coalesce() -> None:
    hours = [_hour(2025, 6, 1, 0), _hour(2025, 6, 1, 1), _hour(2025, 12, 31, 20)]
    assert changed_years([0, 0, 1], hours, CALENDAR) == [(0, 2025), (1, 2025), (1, 2026)]
    assert changed_years([], [], CALENDAR) == []
