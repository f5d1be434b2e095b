"""The Vietnamese DOCX report (python-docx): title page, summary, methodology, network,
province-wide section, a section per station, annex note; tables and charts embedded.

It only lays out what other rooms computed: findings (:mod:`~reports.annual.assessment`),
tables (:mod:`~reports.annual.tables`), prose (:mod:`~reports.annual.narrative`) and chart
files (:mod:`~reports.annual.charts`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Final

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt

from aqi.categories import VN_CATEGORIES
from reports.annual import narrative
from reports.annual import wording as w
from reports.annual.assessment import PROVINCE_KEY, AnnualAssessment, StationFindings
from reports.annual.tables import Cell, ReportTables, Table

SECTION_TITLES: Final = {
    "summary": "1. Tóm tắt",
    "methodology": "2. Phương pháp",
    "network": "3. Mạng lưới quan trắc",
    "province": "4. Chất lượng không khí toàn tỉnh",
    "stations": "5. Kết quả theo trạm",
    "annex": "6. Phụ lục",
}
"""Headings of the report's top-level sections (tests look for them)."""

CHART_WIDTH: Final = Cm(16)
_HEADER_SHADE: Final = "DDEBF7"


@dataclass(frozen=True)
class ChartFiles:
    category_days: Path
    province_monthly: Path
    station_monthly: dict[str, Path]
    station_calendar: dict[str, Path]


def cell_text(value: Cell) -> str:
    """How a table cell reads in the document (Vietnamese number and date style)."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "Có" if value else "Không"
    if isinstance(value, int):
        return w.integer(value)
    if isinstance(value, float):
        return w.number(value)
    if isinstance(value, datetime):
        return w.hour(value)
    if isinstance(value, date):
        return w.day(value)
    return str(value)


def methodology(report: AnnualAssessment) -> list[str]:
    """The methodology section: indices, limits, completeness and aggregation rules."""
    bands = "; ".join(f"{c.lower}–{c.upper} {c.name_vi}" for c in VN_CATEGORIES)
    return [
        "Chỉ số chất lượng không khí VN_AQI ngày được tính theo Quyết định 1459/QĐ-TCMT "
        "ngày 12/11/2019 của Tổng cục Môi trường, từ bảng aqi_daily của hệ thống (chuẩn "
        f"vn_1459_2019). Các mức: {bands}; màu theo Bảng 1 của Quyết định.",
        "Giới hạn so sánh theo QCVN 05:2023/BTNMT (Thông tư 01/2023/TT-BTNMT, hiệu lực từ "
        "12/09/2023); với các ngày trước đó áp dụng QCVN 05:2013/BTNMT. Mỗi giá trị được so "
        "với giới hạn có hiệu lực vào ngày của thời gian trung bình (ví dụ PM2.5 24 giờ: 50 "
        "µg/m³ đến 31/12/2025, 45 µg/m³ từ 01/01/2026).",
        "Ngày là 24 giờ tính từ 00:00 giờ Việt Nam (UTC+7); giờ được đặt tên theo thời điểm "
        "bắt đầu. Dữ liệu là trung bình 1 giờ hợp lệ (bảng hourly, cờ valid); số liệu trạng "
        "thái 01/02 (hiệu chuẩn, lỗi) không được dùng. Giá trị âm nhỏ (nhiễu của thiết bị "
        "quanh 0) được giữ nguyên khi tính trung bình; khi tính VN_AQI chúng được tính là 0.",
        "Quy tắc đầy đủ dữ liệu: trung bình 24 giờ chỉ được tính khi có ít nhất 18 giá trị 1 "
        "giờ hợp lệ (75 %); trung bình 8 giờ cần 6/8 giờ và giá trị 8 giờ lớn nhất của ngày "
        "cần 18/24 giá trị 8 giờ; trung bình năm (tháng) là trung bình các giá trị ngày hợp lệ "
        "và chỉ được tính khi có giá trị ngày hợp lệ cho ít nhất 75 % số ngày của năm (tháng). "
        "Khi không đạt, báo cáo ghi \"không đủ dữ liệu\" thay cho con số.",
        "Vượt giới hạn: giá trị lớn hơn hẳn (>) giới hạn. Giới hạn 24 giờ: đếm số ngày có "
        "trung bình 24 giờ vượt; giới hạn 8 giờ: đếm số ngày có trung bình 8 giờ lớn nhất "
        "vượt; giới hạn 1 giờ: đếm số giờ vượt. Bên cạnh mỗi số lần vượt là số giá trị hợp lệ "
        "và số giá trị có thể trong thời gian trạm hoạt động. Việc so sánh dùng giá trị chưa "
        "làm tròn; các bảng hiển thị làm tròn đến 0,1 µg/m³, nên một trung bình 25,04 µg/m³ "
        "hiển thị là 25,0 nhưng vẫn vượt giới hạn 25 µg/m³.",
        "Toàn tỉnh: số ngày theo mức VN_AQI là tổng số ngày-trạm; trung bình năm (tháng) là "
        "trung bình của các trạm đủ dữ liệu; số lần vượt là số ngày (giờ) có ít nhất một trạm "
        "vượt; 10 ngày ô nhiễm nhất là 10 ngày-trạm có VN_AQI cao nhất.",
        "Thời gian hoạt động của trạm lấy từ danh mục trạm (ngày lắp đặt, ngày ngừng); ngày "
        "có dữ liệu ngoài khoảng này cũng được tính là ngày hoạt động. Khoảng gián đoạn là "
        "chuỗi hơn 24 giờ liên tiếp không có trung bình 1 giờ hợp lệ trong thời gian hoạt động.",
    ]


class _Writer:
    def __init__(self) -> None:
        self.doc: Any = Document()
        self.table_number = 0
        self.figure_number = 0
        normal = self.doc.styles["Normal"]
        normal.font.name = "Times New Roman"
        normal.font.size = Pt(12)
        self.doc.styles["Table Grid"].font.size = Pt(9)
        section = self.doc.sections[0]
        section.orientation = WD_ORIENT.PORTRAIT
        section.page_width, section.page_height = Cm(21), Cm(29.7)
        section.left_margin = section.right_margin = Cm(2)

    def heading(self, text: str, level: int) -> None:
        self.doc.add_heading(text, level=level)

    def paragraphs(self, texts: Sequence[str]) -> None:
        for text in texts:
            self.doc.add_paragraph(text)

    def table(self, table: Table, title: str | None = None, empty: str = "") -> None:
        if not table.rows:
            if empty:
                self.doc.add_paragraph(empty)
            return
        self.table_number += 1
        caption = self.doc.add_paragraph(f"Bảng {self.table_number}. {title or table.title}")
        caption.style = self.doc.styles["Caption"]
        grid = self.doc.add_table(rows=len(table.rows) + 1, cols=len(table.columns))
        grid.style = self.doc.styles["Table Grid"]
        # One pass over the flat cell list and runs added at the XML level: going through
        # ``row.cells`` and ``cell.text`` per cell dominates the time of a 100-station report.
        cells = grid._cells
        width = len(table.columns)
        for cell, column in zip(cells[:width], table.columns, strict=True):
            run = cell.paragraphs[0].add_run(column.header)
            run.bold = True
            shade = OxmlElement("w:shd")
            shade.set(qn("w:val"), "clear")
            shade.set(qn("w:fill"), _HEADER_SHADE)
            cell._tc.get_or_add_tcPr().append(shade)
        values = (value for row in table.rows for value in row)
        for cell, value in zip(cells[width:], values, strict=True):
            cell._tc.p_lst[0].add_r().text = cell_text(value)

    def picture(self, path: Path, caption: str) -> None:
        self.figure_number += 1
        self.doc.add_picture(str(path), width=CHART_WIDTH)
        self.doc.paragraphs[-1].alignment = WD_ALIGN_PARAGRAPH.CENTER
        para = self.doc.add_paragraph(f"Hình {self.figure_number}. {caption}")
        para.style = self.doc.styles["Caption"]

    def page_break(self) -> None:
        self.doc.add_page_break()


def _scope_tables(
    writer: _Writer, tables: ReportTables, key: str, name: str, previous: bool
) -> None:
    writer.table(tables.category_days.rows_for(key), f"Số ngày theo mức VN_AQI — {name}")
    writer.table(tables.annual_means.rows_for(key), f"Trung bình năm so với QCVN — {name}")
    writer.table(tables.exceedances.rows_for(key), f"Số lần vượt giới hạn QCVN — {name}",
                 empty="Không có thông số nào có giới hạn ngắn hạn trong QCVN 05/BTNMT.")
    writer.table(tables.worst_days.rows_for(key), f"10 ngày có VN_AQI cao nhất — {name}",
                 empty="Không có ngày nào có VN_AQI.")
    writer.table(tables.monthly_means.rows_for(key),
                 f"Trung bình tháng (µg/m³; — : không đủ dữ liệu) — {name}")
    if previous:
        writer.table(tables.previous_year.rows_for(key), f"So sánh với năm trước — {name}",
                     empty="Không có dữ liệu năm trước để so sánh.")


def write_report(
    report: AnnualAssessment,
    tables: ReportTables,
    charts: ChartFiles,
    path: Path,
    annex_name: str,
    generated_by: str,
    on_station: Callable[[str], None] | None = None,
) -> Path:
    """Write the DOCX report to ``path``."""
    writer = _Writer()
    doc = writer.doc
    for _ in range(6):
        doc.add_paragraph()
    for text, size in (
        ("BÁO CÁO", 20),
        (f"CHẤT LƯỢNG MÔI TRƯỜNG KHÔNG KHÍ NĂM {report.year}", 18),
        (f"Tỉnh {report.province}", 16),
    ):
        para = doc.add_paragraph()
        para.alignment = WD_ALIGN_PARAGRAPH.CENTER
        run = para.add_run(text)
        run.bold = True
        run.font.size = Pt(size)
    for _ in range(8):
        doc.add_paragraph()
    para = doc.add_paragraph(
        f"Số liệu từ mạng lưới quan trắc tự động ({len(report.stations)} trạm), "
        f"lập tự động ngày {w.day(date.today())} bằng {generated_by}."
    )
    para.alignment = WD_ALIGN_PARAGRAPH.CENTER
    writer.page_break()

    writer.heading(SECTION_TITLES["summary"], 1)
    writer.paragraphs(narrative.summary(report))

    writer.heading(SECTION_TITLES["methodology"], 1)
    writer.paragraphs(methodology(report))

    writer.heading(SECTION_TITLES["network"], 1)
    writer.paragraphs([
        f"Danh sách trạm theo danh mục trạm; thời gian hoạt động trong năm {report.year} "
        "theo ngày lắp đặt và ngày ngừng hoạt động."
    ])  # fmt: skip
    writer.table(tables.stations)
    writer.table(tables.completeness)
    writer.table(tables.gaps, empty="Không có khoảng gián đoạn dữ liệu nào dài hơn một ngày.")

    writer.heading(SECTION_TITLES["province"], 1)
    writer.paragraphs(narrative.province_paragraphs(report))
    writer.picture(charts.category_days,
                   f"Số ngày theo mức VN_AQI của từng trạm, năm {report.year}")
    writer.picture(charts.province_monthly,
                   "Nồng độ trung bình tháng toàn tỉnh (trung bình của các trạm) và giới hạn QCVN")
    _scope_tables(writer, tables, PROVINCE_KEY, f"toàn tỉnh {report.province}",
                  report.has_previous_year)

    writer.heading(SECTION_TITLES["stations"], 1)
    for station in report.stations:
        _station_section(writer, report, tables, charts, station)
        if on_station is not None:
            on_station(station.key)

    writer.heading(SECTION_TITLES["annex"], 1)
    writer.paragraphs([
        f"Toàn bộ các bảng số liệu của báo cáo có trong tệp {annex_name} (mỗi bảng một trang "
        "tính), để cán bộ sử dụng lại số liệu. Các biểu đồ có trong thư mục charts/ dưới dạng "
        "tệp PNG."
    ])  # fmt: skip
    doc.save(str(path))
    return path


def _station_section(
    writer: _Writer,
    report: AnnualAssessment,
    tables: ReportTables,
    charts: ChartFiles,
    station: StationFindings,
) -> None:
    writer.heading(f"{station.name} ({station.key})", 2)
    writer.paragraphs(narrative.station_paragraphs(report, station))
    _scope_tables(writer, tables, station.key, station.name, report.has_previous_year)
    writer.picture(charts.station_monthly[station.key],
                   f"Nồng độ trung bình tháng và giới hạn QCVN — {station.name}")
    writer.picture(charts.station_calendar[station.key],
                   f"Lịch VN_AQI ngày — {station.name}")
