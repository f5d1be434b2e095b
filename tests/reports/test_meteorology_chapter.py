"""The meteorology chapter: wind rose by season, rain by month and the weather during
episodes, recomputed here from the seeded BN01 weather rows with plain Python."""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import date, datetime

import pytest
from docx import Document
from openpyxl import load_workbook

from reports.annual.docx_document import SECTION_TITLES

from .conftest import YEAR, BuiltReport, local_day

pytestmark = pytest.mark.services

SECTORS = ("Bắc", "Đông Bắc", "Đông", "Đông Nam", "Nam", "Tây Nam", "Tây", "Tây Bắc")
SEASON = {12: "Đông (tháng 12–2)", 1: "Đông (tháng 12–2)", 2: "Đông (tháng 12–2)",
          3: "Xuân (tháng 3–5)", 4: "Xuân (tháng 3–5)", 5: "Xuân (tháng 3–5)",
          6: "Hè (tháng 6–8)", 7: "Hè (tháng 6–8)", 8: "Hè (tháng 6–8)",
          9: "Thu (tháng 9–11)", 10: "Thu (tháng 9–11)", 11: "Thu (tháng 9–11)"}  # fmt: skip


def _sheet(report: BuiltReport, name: str) -> list[tuple[object, ...]]:
    return [tuple(r) for r in load_workbook(report.xlsx, read_only=True)[name].iter_rows(
        min_row=2, values_only=True)]  # fmt: skip


def _series(report: BuiltReport, parameter: str) -> dict[datetime, float]:
    return {t: v for s, p, t, v, ok in report.seed.hourly
            if s == "BN01" and p == parameter and ok and local_day(t).year == YEAR}  # fmt: skip


def test_wind_rose_by_season(annual_report: BuiltReport) -> None:
    speed, direction = (
        _series(annual_report, "wind_speed"),
        _series(annual_report, "wind_direction"),
    )
    expected: dict[tuple[str, str], int] = defaultdict(int)
    totals: dict[str, int] = defaultdict(int)
    for t, v in speed.items():
        if t not in direction:
            continue
        season = SEASON[local_day(t).month]
        totals[season] += 1
        if v < 0.5:
            expected[(season, "Lặng gió")] += 1
        else:
            expected[(season, SECTORS[int(((direction[t] + 22.5) % 360) // 45)])] += 1
    rows = _sheet(annual_report, "Hoa gió")
    assert {r[0] for r in rows} == {"BN01"}  # only the station that measures wind
    got = {(str(r[2]), str(r[3])): r for r in rows}
    assert len(got) == 4 * 9
    for (season, sector), row in got.items():
        n = expected[(season, sector)]
        assert row[4] == n and row[5] == pytest.approx(100 * n / totals[season]), (season, sector)


def test_rain_by_month(annual_report: BuiltReport) -> None:
    rain = _series(annual_report, "rain")
    mm: dict[int, float] = defaultdict(float)
    hours: dict[int, int] = defaultdict(int)
    for t, v in rain.items():
        mm[local_day(t).month] += v
        hours[local_day(t).month] += v > 0
    rows = {r[2]: r for r in _sheet(annual_report, "Lượng mưa") if r[0] == "BN01"}
    assert sorted(int(str(m)) for m in rows) == list(range(1, 13))
    for month, row in rows.items():
        assert row[3] == pytest.approx(mm[int(str(month))]) and row[4] == hours[int(str(month))]


def test_weather_during_episodes(annual_report: BuiltReport) -> None:
    speed, direction = (
        _series(annual_report, "wind_speed"),
        _series(annual_report, "wind_direction"),
    )
    rain = _series(annual_report, "rain")
    by_day: dict[date, list[float]] = defaultdict(list)
    for t, v in speed.items():
        if t in direction:
            by_day[local_day(t)].append(v)
    annual = statistics.fmean(v for t, v in speed.items() if t in direction)
    episodes = {(r[2], r[3]) for r in _sheet(annual_report, "Đợt ô nhiễm")}
    rows = _sheet(annual_report, "Khí tượng trong đợt ô nhiễm")
    assert episodes and {(r[2], r[3]) for r in rows} == episodes
    for row in rows:
        first, last = row[2], row[3]
        assert isinstance(first, datetime) and isinstance(last, datetime)
        days = [statistics.fmean(v) for d, v in by_day.items() if first.date() <= d <= last.date()]
        wet = sum(v for t, v in rain.items() if first.date() <= local_day(t) <= last.date())
        assert row[4] == pytest.approx(statistics.fmean(days) if days else None)
        assert row[5] == pytest.approx(annual) and row[6] == pytest.approx(wet)


def test_docx_has_the_meteorology_chapter_with_wind_roses(annual_report: BuiltReport) -> None:
    document = Document(str(annual_report.docx))
    text = "\n".join(p.text for p in document.paragraphs)
    assert SECTION_TITLES["meteorology"] in text
    assert "Hoa gió theo mùa — Trạm Suối Hoa" in text
    assert any(p.name == f"hoa-gio-BN01-{YEAR}.png" for p in annual_report.charts)
