"""The annual report as an officer receives it: only eligible stations in the province's
figures (expectations computed here from the seeded rows), the indicative annex with the
low-cost PM2.5 corrected, the Decree 30 form in the DOCX XML, a usable XLSX, and the
document as LibreOffice lays it out."""

from __future__ import annotations

import re
import shutil
import subprocess
import zipfile
from collections import defaultdict
from datetime import date, datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook

from .conftest import INELIGIBLE, YEAR, BuiltReport, Seeded, local_day

pytestmark = pytest.mark.services

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def _sheet(report: BuiltReport, name: str) -> list[tuple[object, ...]]:
    workbook = load_workbook(report.xlsx, read_only=True)
    return [tuple(r) for r in workbook[name].iter_rows(values_only=True)]


def _epa_2021(pa: float, rh: float) -> float:
    """Barkjohn et al. 2021 with the 2022 smoke extension, written out piece by piece."""
    if pa < 30:
        value = 0.524 * pa - 0.0862 * rh + 5.75
    elif pa < 50:
        a = pa / 20 - 1.5
        value = (0.786 * a + 0.524 * (1 - a)) * pa - 0.0862 * rh + 5.75
    elif pa < 210:
        value = 0.786 * pa - 0.0862 * rh + 5.75
    elif pa < 260:
        b = pa / 50 - 4.2
        value = ((0.69 * b + 0.786 * (1 - b)) * pa - 0.0862 * rh * (1 - b) + 2.966 * b
                 + 5.75 * (1 - b) + 8.84e-4 * pa * pa * b)
    else:
        value = 2.966 + 0.69 * pa + 8.84e-4 * pa * pa
    return max(value, 0.0)


def _annual(hours: dict[date, list[float]]) -> float | None:
    daily = [sum(v) / len(v) for v in hours.values() if len(v) >= 18]
    return sum(daily) / len(daily) if len(daily) >= 0.75 * 365 else None


def test_worst_days_of_the_province_leave_ineligible_stations_out(
    annual_report: BuiltReport,
) -> None:
    seed = annual_report.seed
    eligible = [(d, a, s) for s, std, d, a, _ in seed.daily
                if std == "vn_1459_2019" and a is not None and d.year == YEAR
                and s in ("BN01", "BN02", "BN03")]
    # ties broken by day, then by station name order (Quế Võ, Suối Hoa, Từ Sơn)
    order = {"BN03": 0, "BN01": 1, "BN02": 2}
    expected = sorted(eligible, key=lambda x: (-x[1], x[0], order[x[2]]))[:10]
    rows = [r for r in _sheet(annual_report, "10 ngày ô nhiễm nhất")[1:] if r[0] == "Toàn tỉnh"]
    got = [(r[2].date() if isinstance(r[2], datetime) else r[2], r[5], r[3]) for r in rows]
    assert got == expected
    # the ineligible stations' AQI (320-500 every day) would otherwise fill the list
    assert max(a for s, std, d, a, _ in seed.daily if s in INELIGIBLE and a) > expected[0][1]
    for sheet in ("Số ngày theo AQI", "Trung bình năm", "Vượt giới hạn", "Đợt ô nhiễm",
                  "Điều 10 NĐ 08-2022", "Giá trị lớn nhất", "Trung bình tháng"):
        cells = {str(c) for row in _sheet(annual_report, sheet) for c in row}
        assert not cells & {*INELIGIBLE, "Cảm biến KCN Quế Võ", "Xe quan trắc di động số 1"}, sheet


def test_indicative_annex_reports_corrected_low_cost_pm25(annual_report: BuiltReport) -> None:
    seed: Seeded = annual_report.seed
    pm25: dict[datetime, float] = {}
    humidity: dict[datetime, float] = {}
    raw_van: dict[date, list[float]] = defaultdict(list)
    for station, parameter, hour, mean, valid in seed.hourly:
        if not valid or local_day(hour).year != YEAR:
            continue
        if station == "BNLC" and parameter == "pm25":
            pm25[hour] = mean
        elif station == "BNLC" and parameter == "humidity":
            humidity[hour] = mean
        elif station == "BNXE" and parameter == "pm25":
            raw_van[local_day(hour)].append(mean)
    corrected: dict[date, list[float]] = defaultdict(list)
    for hour, value in pm25.items():
        corrected[local_day(hour)].append(_epa_2021(value, humidity[hour]))
    rows = {(r[0], r[3]): r for r in _sheet(annual_report, "Số liệu tham khảo")[1:]}
    low_cost = rows[("BNLC", "Bụi PM2.5")]
    assert low_cost[4] == pytest.approx(_annual(corrected), rel=1e-9)
    assert "us_epa_2021" in str(low_cost[8]) and "100 %" in str(low_cost[8])
    van = rows[("BNXE", "Bụi PM2.5")]
    assert van[4] == pytest.approx(_annual(raw_van), rel=1e-9)
    assert van[2] == "Trạm di động"


def _docx_xml(path: Path) -> dict[str, str]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name).decode("utf-8") for name in archive.namelist()
                if name.endswith(".xml")}


def test_docx_xml_follows_the_administrative_form(annual_report: BuiltReport) -> None:
    xml = _docx_xml(annual_report.docx)
    styles = xml["word/styles.xml"]
    # Times New Roman 13 pt body (sz is in half points), black headings
    assert re.search(r'<w:style [^>]*w:styleId="Normal".*?w:ascii="Times New Roman".*?'
                     r'<w:sz w:val="26"/>', styles, re.S)
    for heading in ("Heading1", "Heading2"):
        block = re.search(rf'w:styleId="{heading}".*?</w:style>', styles, re.S)
        assert block and 'w:ascii="Times New Roman"' in block.group(0)
        assert '<w:color w:val="000000"/>' in block.group(0)
    body = xml["word/document.xml"]
    # page numbers: a PAGE field in the page header; a table of contents field
    headers = "".join(v for k, v in xml.items() if k.startswith("word/header"))
    assert re.search(r"<w:instrText[^>]*> PAGE </w:instrText>", headers)
    assert re.search(r"<w:instrText[^>]*> TOC ", body)
    # Decree 30 page: A4, left margin 3 cm (1701 twips), right 1.5 cm
    assert re.search(r'<w:pgSz w:w="11906" w:h="16838"', body)
    assert re.search(r'<w:pgMar [^>]*w:left="1701"', body)
    # every data table repeats its header row; letterhead and signature have no borders
    tables = re.findall(r"<w:tbl>.*?</w:tbl>", body, re.S)
    data_tables = [t for t in tables if "tblBorders" not in t]
    assert len(data_tables) > 10
    for table in data_tables:
        first_row = re.search(r"<w:tr[ >].*?</w:tr>", table, re.S)
        assert first_row and "<w:tblHeader/>" in first_row.group(0)
    text = re.sub(r"<[^>]+>", "", body)
    for phrase in ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc",
                   "Số: ", "Nơi nhận:", "ngày …… tháng …… năm"):
        assert phrase in text
    assert not re.search(r"[Tt]rạm Trạm|[Tt]rạm Cảm biến|[Tt]rạm Xe ", text)
    assert "Quận/huyện" not in text
    # the tool is named in the properties and the methods note, not on the first page
    core = xml["docProps/core.xml"]
    assert "aqm" in core
    first_page = text.split("MỤC LỤC")[0]
    assert "aqm" not in first_page


def test_xlsx_columns_are_numeric_and_filtered(annual_report: BuiltReport) -> None:
    workbook = load_workbook(annual_report.xlsx)
    for sheet in workbook.worksheets[1:]:
        if sheet.max_row > 1:
            assert sheet.auto_filter.ref == sheet.dimensions, sheet.title
        for column in sheet.iter_cols(min_row=2, values_only=True):
            kinds = {type(v) for v in column if v is not None}
            numeric = kinds & {int, float}
            assert not (numeric and str in kinds), (sheet.title, kinds)
    text = {str(c.value) for ws in workbook.worksheets[1:] for row in ws.iter_rows()
            for c in row if isinstance(c.value, str)}
    assert "không đủ dữ liệu" not in text  # a note column explains empty cells instead


SOFFICE = shutil.which("soffice")


@pytest.mark.skipif(SOFFICE is None, reason="LibreOffice (soffice) is not installed; "
                    "scripts/install-services.sh installs it")
def test_libreoffice_lays_the_report_out_within_the_page(
    annual_report: BuiltReport, tmp_path: Path
) -> None:
    assert SOFFICE is not None
    profile = tmp_path / "profile"
    subprocess.run(
        [SOFFICE, f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to",
         "pdf", "--outdir", str(tmp_path), str(annual_report.docx)],
        check=True, capture_output=True, timeout=300,
    )
    pdf = tmp_path / annual_report.docx.with_suffix(".pdf").name
    info = subprocess.run(["pdfinfo", str(pdf)], check=True, capture_output=True, text=True)
    pages = int(re.search(r"Pages:\s+(\d+)", info.stdout).group(1))  # type: ignore[union-attr]
    # letterhead, contents, seven chapters, three station annexes, the indicative annex
    assert 12 <= pages <= 60
    size = re.search(r"Page size:\s+([\d.]+) x ([\d.]+)", info.stdout)
    assert size and abs(float(size.group(1)) - 595.3) < 1  # A4 portrait, points
    # every word (table cells included) lies inside the text area: left margin 3 cm,
    # right margin 1.5 cm (1 mm tolerance)
    bbox = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], check=True,
                          capture_output=True, text=True).stdout
    cm = 72 / 2.54
    left, right = 3.0 * cm - 0.1 * cm, 595.3 - 1.5 * cm + 0.1 * cm
    outside = [
        (m.group(5), float(m.group(1)), float(m.group(3)))
        for m in re.finditer(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" '
                             r'yMax="([\d.]+)">([^<]*)</word>', bbox)
        if float(m.group(1)) < left or float(m.group(3)) > right
    ]
    assert not outside, outside[:10]
    # no word of a table is split across lines inside its cell: a header such as
    # "Mã trạm" or an id such as BN01 must not be broken into pieces
    words = re.findall(r">([^<]+)</word>", bbox)
    for broken in ("BN0", "BNL", "BNX", "Tố", "trạ", "VN_A"):
        assert broken not in words, broken
