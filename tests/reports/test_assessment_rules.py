"""Report rules checked on small hand-made years (no database): the province's comparison
with the previous year, and the regulation named for the limits of each year."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from aqi.limits import regulations_in_force
from reports.annual.assessment import (
    REPORT_PARAMETERS,
    AnnualAssessment,
    assess,
    episodes,
    serious_pollution_check,
)
from reports.annual.source import StationRecord, YearData, local_year
from reports.annual.tables import build_tables
from stations.eligibility import ClassPeriod

ZONE = "Asia/Ho_Chi_Minh"
Q2013, Q2023 = "QCVN 05:2013/BTNMT", "QCVN 05:2023/BTNMT"
ART30 = ("pm25", "o3", "no2")  # an AQI-publishing station's minimum (Circular 10/2021 Art. 30)


def year_data(year: int, pm25: dict[int, tuple[int, int, float]]) -> YearData:
    """Two stations A (0) and B (1); ``pm25[station] = (first day, end day, value)``."""
    start, days = local_year(year, ZONE)
    hourly = np.full((2, len(REPORT_PARAMETERS), len(days) * 24), np.nan)
    for station, (first, end, value) in pm25.items():
        hourly[station, REPORT_PARAMETERS.index("pm25"), first * 24 : end * 24] = value
    empty = np.full((2, len(days)), np.nan)
    return YearData(year, start, days, ("A", "B"), REPORT_PARAMETERS, hourly, empty,
                    np.full((2, len(days)), None, dtype=object))  # fmt: skip


def registry(a_retired: date | None, b_installed: date | None) -> list[StationRecord]:
    return [
        StationRecord("A", "Trạm A", None, None, "fixed_automatic",
                      "retired" if a_retired else "active", None, a_retired, ART30,
                      public_aqi=True),
        StationRecord("B", "Trạm B", None, None, "fixed_automatic", "active", b_installed,
                      None, ART30, public_aqi=True),
    ]  # fmt: skip


def report(year: int, current: YearData, previous: YearData | None, stations: list[StationRecord]
           ) -> AnnualAssessment:  # fmt: skip
    return assess(stations, current, "Bắc Ninh", datetime(year, 1, 1, tzinfo=ZoneInfo(ZONE)),
                  previous)  # fmt: skip


def province_pm25(r: AnnualAssessment) -> tuple[float | None, float | None]:
    annual = next(a for a in r.province_findings.annual if a.parameter == "pm25")
    return (None if annual.previous is None else annual.previous.value,
            None if annual.comparable is None else annual.comparable.value)  # fmt: skip


def test_province_compares_years_only_over_stations_with_both() -> None:
    # A: full 2024 at 20, closed on 31/01/2025; B: opened 01/11/2024 (61 days), 60 all
    # 2025. Neither station has an annual mean in both years (75 % of days needed), so
    # there is nothing like for like to compare: 20 → 60 would compare A with B.
    previous = year_data(2024, {0: (0, 366, 20.0), 1: (305, 366, 60.0)})
    current = year_data(2025, {0: (0, 31, 20.0), 1: (0, 365, 60.0)})
    r = report(2025, current, previous, registry(date(2025, 1, 31), date(2024, 11, 1)))
    assert province_pm25(r) == (None, None)

    # B present all of 2024 too (at 40): B alone is compared, 40 → 60; A is left out.
    previous = year_data(2024, {0: (0, 366, 20.0), 1: (0, 366, 40.0)})
    r = report(2025, current, previous, registry(date(2025, 1, 31), None))
    before, after = province_pm25(r)
    assert before is not None and after is not None
    assert (round(before, 9), round(after, 9)) == (40.0, 60.0)


@pytest.mark.parametrize(
    ("year", "names"),
    [(2022, (Q2013,)), (2023, (Q2013, Q2023)), (2024, (Q2023,)), (2026, (Q2023,))],
)
def test_the_regulations_of_a_year(year: int, names: tuple[str, ...]) -> None:
    # QCVN 05:2023 took effect on 12/09/2023 (Circular 01/2023/TT-BTNMT).
    assert regulations_in_force(date(year, 1, 1), date(year, 12, 31)) == names


def test_a_2022_report_names_qcvn_05_2013_for_its_limits() -> None:
    current = year_data(2022, {0: (0, 365, 120.0), 1: (0, 365, 10.0)})
    r = report(2022, current, None, registry(None, None))
    tables = build_tables(r)
    assert Q2013 in tables.annual_means.title and Q2023 not in tables.annual_means.title
    assert Q2013 in tables.exceedances.title and Q2023 not in tables.exceedances.title
    r2023 = report(2023, year_data(2023, {0: (0, 365, 20.0)}), None, registry(None, None))
    assert f"{Q2013} và {Q2023}" in build_tables(r2023).exceedances.title


def test_station_counts_for_the_province_only_on_days_its_aqi_may_be_published() -> None:
    """A station upgraded to a publishing class on 01/07 counts from then on; a low-cost
    sensor never does and is assessed apart, as indicative."""
    start, days = local_year(2025, ZONE)
    n = len(days)
    hourly = np.full((3, len(REPORT_PARAMETERS), n * 24), np.nan)
    hourly[:, REPORT_PARAMETERS.index("pm25")] = 30.0
    aqi = np.full((3, n), 80.0)
    aqi[1, :181] = 320.0  # the upgraded station, while not yet publishing
    aqi[2] = 450.0  # the low-cost sensor
    data = YearData(2025, start, days, ("A", "B", "C"), REPORT_PARAMETERS, hourly, aqi,
                    np.full((3, n), "pm25", dtype=object))  # fmt: skip
    upgraded = (ClassPeriod(date(2024, 1, 1), "low_cost_sensor", False),
                ClassPeriod(date(2025, 7, 1), "fixed_automatic", True))
    stations = [
        StationRecord("A", "Trạm A", None, None, "fixed_automatic", "active", None, None,
                      ART30, public_aqi=True),
        StationRecord("B", "Trạm B", None, None, "fixed_automatic", "active", None, None,
                      ART30, public_aqi=True, classes=upgraded),
        StationRecord("C", "Cảm biến C", None, None, "low_cost_sensor", "active", None, None,
                      ART30),
    ]  # fmt: skip
    r = report(2025, data, None, stations)
    assert [s.key for s in r.stations] == ["A", "B"]
    assert [s.key for s in r.indicative] == ["C"]
    first_eligible = (date(2025, 7, 1) - date(2025, 1, 1)).days  # 181
    assert r.stations[1].eligible_days == n - first_eligible
    counts = r.province_findings.category_days
    # A every day, B from 01/07, all Trung bình (AQI 80); nothing at 320 or 450
    assert counts.counts == (0, n + (n - first_eligible), 0, 0, 0, 0)
    assert all(w.aqi == 80 for w in r.province_findings.worst_days)
    assert r.episodes == ()
    assert [c.longest_run for c in r.serious_pollution] == [0, 0]


def test_episodes_and_the_decree_08_article_10_criterion() -> None:
    days = [date(2025, 1, 1) + timedelta(days=i) for i in range(10)]
    aqi = np.array([
        [100, 210, 305, 310, 120, np.nan, 220, 230, 90, 302],
        [100, 150, 180, 301, 300, 80, 90, 240, 80, 80],
    ])  # fmt: skip
    found = episodes(aqi, days, ["Trạm A", "Trạm B"])
    # runs of days with some station ≥ 201: 2-5 Jan (4 days), 7-8 Jan (2), 10 Jan (1)
    assert [(e.first_day.day, e.days, e.peak_aqi, e.stations) for e in found] == [
        (2, 4, 310, 2), (7, 2, 240, 2), (10, 1, 302, 1)]
    assert found[0].peak_station == "Trạm A"
    a = serious_pollution_check(aqi[0], days, "A", "Trạm A")
    assert (a.longest_run, a.run_start, a.met) == (2, date(2025, 1, 3), False)
    met = serious_pollution_check(np.array([301.0, 320, 301, 10]), days[:4], "B", "Trạm B")
    assert (met.longest_run, met.met) == (3, True)
