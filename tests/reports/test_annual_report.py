"""The annual report from a seeded TimescaleDB, read as aqm_reader: every checked number
in the XLSX is recomputed here from the seeded rows with plain Python."""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from docx import Document
from openpyxl import load_workbook
from PIL import Image

from aqm.cli import main
from reports.annual.docx_document import SECTION_TITLES

from .conftest import YEAR, BuiltReport, Seeded, local_day, local_start

pytestmark = pytest.mark.services

INSUFFICIENT = "Không đủ dữ liệu"
N_DAYS = 365
# QCVN 05:2023 values in force in 2025, written here independently of aqi.limits
PM25_24H, PM10_24H, NO2_24H, NO2_1H = 50.0, 100.0, 100.0, 200.0
ANNUAL = {"pm25": 25.0, "pm10": 50.0, "no2": 40.0}
LABEL = {"pm25": "Bụi PM2.5", "pm10": "Bụi PM10", "no2": "NO2"}


def _valid_hours(seed: Seeded, year: int = YEAR) -> dict[tuple[str, str], dict[date, list[float]]]:
    by_day: dict[tuple[str, str], dict[date, list[float]]] = defaultdict(lambda: defaultdict(list))
    for station, parameter, hour, mean, valid in seed.hourly:
        day = local_day(hour)
        if valid and day.year == year:
            by_day[(station, parameter)][day].append(mean)
    return by_day


def _daily_means(seed: Seeded, station: str, parameter: str, year: int = YEAR) -> dict[date, float]:
    days = _valid_hours(seed, year)[(station, parameter)]
    return {d: sum(v) / len(v) for d, v in days.items() if len(v) >= 18}


def _annual_mean(seed: Seeded, station: str, parameter: str, year: int = YEAR) -> float | None:
    daily = _daily_means(seed, station, parameter, year)
    n_days = (date(year + 1, 1, 1) - date(year, 1, 1)).days
    return sum(daily.values()) / len(daily) if len(daily) >= 0.75 * n_days else None


def _sheet(report: BuiltReport, name: str) -> list[tuple[object, ...]]:
    workbook = load_workbook(report.xlsx, read_only=True)
    return [tuple(r) for r in workbook[name].iter_rows(values_only=True)]


def _rows(report: BuiltReport, name: str) -> dict[tuple[object, ...], tuple[object, ...]]:
    """Rows keyed by (station id, third column) where the sheet has one."""
    rows = _sheet(report, name)[1:]
    return {(r[0], r[2]): r for r in rows}


def _category(aqi: int) -> int:
    for index, upper in enumerate((50, 100, 150, 200, 300)):
        if aqi <= upper:
            return index
    return 5


def test_annual_means_equal_independent_values_and_insufficient_data_is_said(
    annual_report: BuiltReport,
) -> None:
    rows = _rows(annual_report, "Trung bình năm")
    seed = annual_report.seed
    for parameter in ("pm25", "pm10", "no2"):
        expected = _annual_mean(seed, "BN01", parameter)
        assert expected is not None
        row = rows[("BN01", LABEL[parameter])]
        assert row[3] == pytest.approx(expected, rel=1e-12)
        assert row[4] == len(_daily_means(seed, "BN01", parameter))
        assert row[7] == ANNUAL[parameter]
        assert row[8] == ("Vượt" if expected > ANNUAL[parameter] else "Đạt")
    # BN02: 12-hour days fail the 18-hour rule, leaving < 75 % valid days: the numeric
    # cell stays empty and the note column says why
    assert rows[("BN02", "Bụi PM2.5")][3] is None
    assert str(rows[("BN02", "Bụi PM2.5")][10]).startswith(INSUFFICIENT)
    assert rows[("BN02", "Bụi PM2.5")][4] == len(_daily_means(seed, "BN02", "pm25"))
    # BN03 was installed on 01/07: 184 valid days of 365
    assert rows[("BN03", "Bụi PM2.5")][3] is None
    assert str(rows[("BN03", "Bụi PM2.5")][10]).startswith(INSUFFICIENT)
    assert rows[("BN03", "Bụi PM2.5")][4] == 184
    # province: mean of the stations with enough data (only BN01)
    province = rows[("Toàn tỉnh", "Bụi PM2.5")]
    assert province[3] == pytest.approx(_annual_mean(seed, "BN01", "pm25"), rel=1e-12)
    assert province[9] == 1
    assert "BN00" not in {key[0] for key in rows}


def test_invalid_hours_and_short_days_are_left_out(annual_report: BuiltReport) -> None:
    daily = _daily_means(annual_report.seed, "BN01", "pm25")
    first = date(YEAR, 1, 1)
    hours = _valid_hours(annual_report.seed)[("BN01", "pm25")]
    assert len(hours[first + timedelta(days=100)]) == 17
    assert len(hours[first + timedelta(days=101)]) == 18
    assert first + timedelta(days=100) not in daily  # 17 valid hours
    assert first + timedelta(days=101) in daily  # 18 valid hours
    assert max(daily.values()) < 999  # the invalid rows carry 999
    rows = _rows(annual_report, "Trung bình năm")
    mean = rows[("BN01", "Bụi PM2.5")][3]
    assert isinstance(mean, float) and mean < 999


def test_exceedances_are_strictly_over_the_limit_in_force(annual_report: BuiltReport) -> None:
    rows = {(r[0], r[2], r[3]): r for r in _sheet(annual_report, "Vượt giới hạn")[1:]}
    seed = annual_report.seed
    for station in ("BN01", "BN03"):
        for parameter, limit in (("pm25", PM25_24H), ("pm10", PM10_24H), ("no2", NO2_24H)):
            daily = _daily_means(seed, station, parameter)
            row = rows[(station, LABEL[parameter], "24 giờ")]
            assert row[4] == limit
            assert row[6] == sum(v > limit for v in daily.values())
            assert row[7] == len(daily)
        hours = [m for s, p, h, m, ok in seed.hourly
                 if s == station and p == "no2" and ok and local_day(h).year == YEAR]
        row = rows[(station, "NO2", "1 giờ")]
        assert row[6] == sum(v > NO2_1H for v in hours)
        assert row[7] == len(hours)
    # the day at exactly 50 and the hours at exactly 200 exist and are not counted
    assert _daily_means(seed, "BN01", "pm25")[date(YEAR, 1, 1) + timedelta(days=200)] == 50.0
    assert any(m == 200.0 for s, p, _, m, ok in seed.hourly if s == "BN01" and p == "no2" and ok)
    assert rows[("BN03", "Bụi PM2.5", "24 giờ")][8] == 184  # possible days: since installation
    # province: days on which at least one station exceeded
    over_days = {d for s in ("BN01", "BN02", "BN03")
                 for d, v in _daily_means(seed, s, "pm25").items() if v > PM25_24H}
    assert rows[("Toàn tỉnh", "Bụi PM2.5", "24 giờ")][6] == len(over_days)


def test_days_per_category_come_from_vn_aqi_daily(annual_report: BuiltReport) -> None:
    rows = {r[0]: r for r in _sheet(annual_report, "Số ngày theo AQI")[1:]}
    totals = [0] * 6
    for station in ("BN01", "BN02", "BN03"):
        counts = [0] * 6
        for s, standard, day, aqi, _ in annual_report.seed.daily:
            if s == station and standard == "vn_1459_2019" and aqi is not None and day.year == YEAR:
                counts[_category(aqi)] += 1
        assert list(rows[station][2:8]) == counts
        assert rows[station][9] == sum(counts)
        assert rows[station][10] == pytest.approx(100 * (counts[0] + counts[1]) / sum(counts))
        totals = [a + b for a, b in zip(totals, counts, strict=True)]
    assert list(rows["Toàn tỉnh"][2:8]) == totals
    assert set(rows) == {"BN01", "BN02", "BN03", "Toàn tỉnh"}


def test_completeness_and_gaps(annual_report: BuiltReport) -> None:
    rows = _rows(annual_report, "Độ đầy đủ dữ liệu")
    valid = _valid_hours(annual_report.seed)
    for station, possible_days in (("BN01", N_DAYS), ("BN02", N_DAYS), ("BN03", 184)):
        days = valid[(station, "pm25")]
        row = rows[(station, "Bụi PM2.5")]
        assert row[3] == sum(len(v) for v in days.values())
        assert row[4] == possible_days * 24
        assert row[6] == sum(len(v) >= 18 for v in days.values())
        assert row[7] == possible_days
    gaps = [r for r in _sheet(annual_report, "Gián đoạn dữ liệu")[1:] if r[2] == "Bụi PM2.5"]
    start = local_start(YEAR) + timedelta(hours=7)  # local wall time of grid hour 0
    expected_from = (start + timedelta(hours=1700)).replace(tzinfo=None)
    assert [(r[0], r[3], r[5]) for r in gaps] == [("BN01", expected_from, 90)]


def test_worst_days_monthly_means_and_previous_year(annual_report: BuiltReport) -> None:
    seed = annual_report.seed
    vn = [(d, a, dom) for s, std, d, a, dom in seed.daily
          if s == "BN01" and std == "vn_1459_2019" and a is not None and d.year == YEAR]
    expected = sorted(vn, key=lambda x: (-x[1], x[0]))[:10]
    sheet = _sheet(annual_report, "10 ngày ô nhiễm nhất")
    assert [h for h in sheet[0] if h == "Tên trạm"] == ["Tên trạm"]  # the name once
    worst = [r for r in sheet[1:] if r[0] == "BN01"]
    got = [(r[2].date() if isinstance(r[2], datetime) else r[2], r[5]) for r in worst]
    assert got == [(d, a) for d, a, _ in expected]
    names = {"pm25": "PM2.5", "pm10": "PM10"}
    assert [r[7] for r in worst] == [names[str(x[2])] for x in expected]

    monthly = _rows(annual_report, "Trung bình tháng")[("BN01", "Bụi PM2.5")]
    daily = _daily_means(seed, "BN01", "pm25")
    for month in range(1, 13):
        values = [v for d, v in daily.items() if d.month == month]
        n_days = ((date(YEAR, month % 12 + 1, 1) if month < 12 else date(YEAR + 1, 1, 1))
                  - date(YEAR, month, 1)).days
        want = statistics.fmean(values) if len(values) >= 0.75 * n_days else None
        assert monthly[2 + month] == (pytest.approx(want, rel=1e-12) if want else None)
    bn03 = _rows(annual_report, "Trung bình tháng")[("BN03", "Bụi PM2.5")]
    assert bn03[3:9] == (None,) * 6 and all(v is not None for v in bn03[9:15])

    comparison = {(r[0], r[2]): r for r in _sheet(annual_report, "So sánh năm trước")[1:]}
    row = comparison[("BN01", "Trung bình năm Bụi PM2.5 (µg/m³)")]
    previous = _annual_mean(seed, "BN01", "pm25", YEAR - 1)
    assert row[4] == pytest.approx(previous, rel=1e-12)
    assert row[5] == pytest.approx(_annual_mean(seed, "BN01", "pm25"), rel=1e-12)
    assert ("BN03", "Trung bình năm Bụi PM2.5 (µg/m³)") not in comparison
    # the province compares like for like and says over how many stations
    province = comparison[("Toàn tỉnh", "Trung bình năm Bụi PM2.5 (µg/m³)")]
    assert province[3] == 1
    assert province[5] == pytest.approx(_annual_mean(seed, "BN01", "pm25"), rel=1e-12)


def test_stations_sheet_states_when_each_station_existed(annual_report: BuiltReport) -> None:
    sheet = _sheet(annual_report, "Trạm quan trắc")
    assert "Quận/huyện" not in sheet[0]  # districts were abolished on 1 July 2025
    rows = {r[0]: r for r in sheet[1:]}
    assert set(rows) == {"BN01", "BN02", "BN03", "BNLC", "BNXE"}
    assert rows["BN03"][1] == "Trạm Quế Võ"
    assert rows["BN03"][2] == "Phường Quế Võ"
    installed = rows["BN03"][4]
    assert isinstance(installed, datetime) and installed.date() == date(YEAR, 7, 1)
    assert rows["BN03"][7] == 184
    assert rows["BN01"][7] == N_DAYS
    # days whose AQI may be published (Circular 10/2021 Art. 29-31)
    assert rows["BN01"][8] == N_DAYS and rows["BNLC"][8] == 0 and rows["BNXE"][8] == 0


def test_docx_holds_sections_tables_and_charts(annual_report: BuiltReport) -> None:
    document = Document(str(annual_report.docx))
    headings = [p.text for p in document.paragraphs
                if p.style is not None and str(p.style.name).startswith("Heading")]
    for title in SECTION_TITLES.values():
        assert title in headings
    for station in ("Trạm Suối Hoa (BN01)", "Trạm Từ Sơn (BN02)", "Trạm Quế Võ (BN03)"):
        assert station in headings
    assert not any("BN00" in h or "BNLC" in h or "BNXE" in h for h in headings)
    text = "\n".join(p.text for p in document.paragraphs)
    assert "không đủ dữ liệu" in text  # BN02 and BN03 PM2.5 annual means
    assert "18 giá trị 1 giờ hợp lệ" in text and "75 %" in text  # the completeness rule
    assert "Tháng ô nhiễm nhất" in text or "tháng ô nhiễm nhất" in text
    assert "Trạm Suối Hoa (" in text  # named among stations over the annual PM2.5 limit
    assert "Điều 10 Nghị định 08/2022/NĐ-CP" in text  # evaluated, met or not
    annual_tables = [t for t in document.tables if t.rows[0].cells[0].text == "Thông số"
                     and t.rows[0].cells[1].text == "Trung bình năm (µg/m³)"]
    assert len(annual_tables) == 4  # the province and three eligible stations
    # province: 3 charts; each eligible station: monthly means and calendar; BN01's wind rose
    assert len(document.inline_shapes) == 3 + 2 * 3 + 1


def test_text_names_every_exceeded_one_hour_limit(annual_report: BuiltReport) -> None:
    """1-hour exceedances of any pollutant (not only NO2) appear in the prose."""
    rows = [r for r in _sheet(annual_report, "Vượt giới hạn")[1:]
            if r[0] == "BN01" and r[3] == "1 giờ" and r[6]]
    assert rows, "the seed has NO2 hours over 200"
    text = "\n".join(p.text for p in Document(str(annual_report.docx)).paragraphs)
    for row in rows:
        short = {"Bụi PM2.5": "PM2.5", "Bụi PM10": "PM10"}.get(str(row[2]), str(row[2]))
        assert f"{short} (1 giờ): {row[6]:,}".replace(",", ".") in text


def test_charts_are_non_empty_pngs(annual_report: BuiltReport) -> None:
    names = {p.name for p in annual_report.charts}
    assert f"so-ngay-theo-aqi-{YEAR}.png" in names
    assert {f"lich-aqi-{s}-{YEAR}.png" for s in ("BN01", "BN02", "BN03")} <= names
    assert f"pm25-ngay-toan-tinh-{YEAR}.png" in names
    assert len(annual_report.charts) == 9 + 1  # and the wind rose of BN01
    assert not any("BNLC" in n or "BNXE" in n for n in names)
    for path in annual_report.charts:
        with Image.open(path) as image:
            assert image.format == "PNG"
            assert image.width > 400 and image.height > 200
            # printed at 16 cm wide: at least 200 dpi
            assert image.width >= 200 * 16 / 2.54 - 1
            colours = image.convert("RGB").getcolors(maxcolors=1_000_000)
            assert colours is not None and len(colours) > 5


def test_calendar_uses_1459_colours(annual_report: BuiltReport) -> None:
    path = annual_report.out_dir / "charts" / f"lich-aqi-BN01-{YEAR}.png"
    with Image.open(path) as image:
        colours = {c for _, c in image.convert("RGB").getcolors(maxcolors=1_000_000) or []}
    for rgb in ((0, 228, 0), (255, 255, 0), (255, 126, 0), (255, 0, 0), (143, 63, 151),
                (126, 0, 35)):
        assert rgb in colours


def test_cli_writes_the_report(seeded_url: tuple[str, Seeded], tmp_path: Path,
                               capsys: pytest.CaptureFixture[str],
                               monkeypatch: pytest.MonkeyPatch) -> None:
    url, _ = seeded_url
    monkeypatch.setenv("AQM_REPORT_AGENCY", "Sở Nông nghiệp và Môi trường")
    monkeypatch.setenv("AQM_REPORT_SIGNER_NAME", "Nguyễn Văn An")
    monkeypatch.setenv("AQM_REPORT_RECIPIENTS", "UBND tỉnh;Bộ Nông nghiệp và Môi trường")
    status = main(["report", "annual", "--year", str(YEAR), "--out", str(tmp_path / "r"),
                   "--database-url", url, "--quiet", "--draft", "--compare-years", "2"])
    assert status == 0
    docx = tmp_path / "r" / f"bao-cao-chat-luong-khong-khi-{YEAR}.docx"
    assert "report:" in capsys.readouterr().out
    document = Document(str(docx))
    cells = "\n".join(c.text for t in document.tables for row in t.rows for c in row.cells)
    assert "SỞ NÔNG NGHIỆP VÀ MÔI TRƯỜNG" in cells and "Nguyễn Văn An" in cells
    assert "- UBND tỉnh;" in cells and "- Bộ Nông nghiệp và Môi trường." in cells
    header = document.sections[0].header._element.xml
    assert 'string="DỰ THẢO"' in header  # the draft watermark
    trend = {(r[0], r[1]): r for r in load_workbook(
        tmp_path / "r" / f"phu-luc-so-lieu-{YEAR}.xlsx", read_only=True
    )["Diễn biến nhiều năm"].iter_rows(min_row=2, values_only=True)}
    assert set(trend) >= {("PM2.5 trung bình năm (µg/m³)", "2024"),
                          ("PM2.5 trung bình năm (µg/m³)", "2025")}


def test_cli_names_the_year_without_data(seeded_url: tuple[str, Seeded], tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    url, _ = seeded_url
    status = main(["report", "annual", "--year", "2021", "--out", str(tmp_path),
                   "--database-url", url, "--quiet"])
    assert status == 2
    err = capsys.readouterr().err
    assert "--year 2021" in err and "hourly" in err and "aqi_daily" in err


@pytest.mark.parametrize(
    ("args", "field"),
    [(["--year", "1999"], "--year 1999"), (["--year", "2999"], "--year 2999"),
     (["--year", "2025", "--compare-years", "0"], "--compare-years 0"),
     (["--year", "2025", "--compare-years", "11"], "--compare-years 11")],
)
def test_cli_rejects_years_out_of_range(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                        args: list[str], field: str) -> None:
    assert main(["report", "annual", *args, "--out", str(tmp_path)]) == 2
    assert field in capsys.readouterr().err


def test_cli_rejects_an_out_path_that_is_a_file(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "report.docx"
    target.write_text("x")
    assert main(["report", "annual", "--year", str(YEAR), "--out", str(target)]) == 2
    assert f"--out {target}" in capsys.readouterr().err


def test_cli_names_the_database_it_cannot_reach(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    url = "postgresql://aqm_reader:secret@127.0.0.1:1/aqm"
    status = main(["report", "annual", "--year", str(YEAR), "--out", str(tmp_path),
                   "--database-url", url, "--quiet"])
    assert status == 2
    err = capsys.readouterr().err
    assert "cannot connect" in err and "127.0.0.1:1" in err and "secret" not in err
