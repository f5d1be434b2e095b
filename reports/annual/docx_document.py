"""The Vietnamese DOCX report (python-docx) in the form of an administrative document.

Decree 30/2020/NĐ-CP (Appendix I) fixes the form: A4; margins top and bottom 2-2.5 cm,
left 3-3.5 cm, right 1.5-2 cm; Times New Roman; body 13-14 pt; the header with the
issuing agency (left) and the national emblem lines (right), number and symbol, place
and date; the title; page numbers centred at the top from the second page; at the end
"Nơi nhận" (left) and the signature block (right). What the configuration does not give
(AQM_REPORT_*, aqm.toml) is left as dotted lines to fill by hand.

It only lays out what other rooms computed: findings (:mod:`~reports.annual.assessment`),
tables (:mod:`~reports.annual.tables`), prose (:mod:`~reports.annual.narrative`) and chart
files (:mod:`~reports.annual.charts`). Tables repeat their header row on every page and
are laid out at a fixed width inside the text area.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any, Final
from xml.sax.saxutils import escape as xml_escape

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK, WD_COLOR_INDEX
from docx.image.image import Image
from docx.opc.constants import RELATIONSHIP_TYPE
from docx.opc.packuri import PackURI
from docx.oxml import OxmlElement, parse_xml
from docx.oxml.ns import nsdecls, qn
from docx.oxml.shape import CT_Inline
from docx.parts.image import ImagePart
from docx.shared import Cm, Pt, RGBColor
from docx.text.paragraph import Paragraph

from aqi.categories import VN_CATEGORIES
from reports.annual import narrative
from reports.annual import wording as w
from reports.annual.assessment import PROVINCE_KEY, AnnualAssessment, StationFindings
from reports.annual.meteorology import Meteorology, weather_paragraphs
from reports.annual.statistics import (
    MIN_DAY_SHARE,
    MIN_HOURS_PER_8H,
    MIN_HOURS_PER_DAY,
    MIN_WINDOWS_PER_DAY,
)
from reports.annual.tables import Cell, ReportTables, Table
from reports.annual.validation import NetworkValidation, levels_sentence

SECTION_TITLES: Final = {
    "introduction": "1. Mở đầu và căn cứ pháp lý",
    "network": "2. Mạng lưới quan trắc",
    "methodology": "3. Phương pháp đánh giá",
    "province": "4. Chất lượng không khí toàn tỉnh",
    "episodes": "5. Các đợt ô nhiễm",
    "meteorology": "6. Khí tượng và các đợt ô nhiễm",
    "comparison": "7. Diễn biến so với các năm trước",
    "conclusions": "8. Kết luận và kiến nghị",
    "stations": "Phụ lục 1. Kết quả theo từng trạm",
    "indicative": "Phụ lục 2. Số liệu tham khảo (cảm biến chi phí thấp, trạm di động)",
}
"""Headings of the report's top-level sections (tests look for them)."""

FONT_NAME: Final = "Times New Roman"
BODY_PT: Final = 13
TABLE_PT: Final = 10.0
SMALLER_TABLE_PT: Final = (9.0, 8.0)
PAGE_WIDTH_CM: Final = 21.0
PAGE_HEIGHT_CM: Final = 29.7
MARGINS_CM: Final = {"top": 2.0, "bottom": 2.0, "left": 3.0, "right": 1.5}
"""Decree 30/2020/NĐ-CP Appendix I §II: top/bottom 2-2.5, left 3-3.5, right 1.5-2 cm."""
TEXT_WIDTH_CM: Final = PAGE_WIDTH_CM - MARGINS_CM["left"] - MARGINS_CM["right"]
CHART_WIDTH: Final = Cm(16)
BLANK: Final = "…………"
"""Printed where the configuration gives nothing: the officer fills it in."""
OFFICER_TEXT: Final = (
    "[Phần do cán bộ soạn thảo bổ sung: {what}. Xóa dòng hướng dẫn này khi hoàn thiện.]"
)
_HEADER_SHADE: Final = "D9D9D9"
MAX_EPISODES_SHOWN: Final = 10

LEGAL_BASIS: Final = (
    "Luật Bảo vệ môi trường số 72/2020/QH14 (Điều 106 về trách nhiệm công khai thông tin "
    "chất lượng môi trường; Điều 118 về báo cáo công tác bảo vệ môi trường hằng năm);",
    "Nghị định số 08/2022/NĐ-CP ngày 10/01/2022 của Chính phủ quy định chi tiết một số điều "
    "của Luật Bảo vệ môi trường (Điều 8: kế hoạch quản lý chất lượng môi trường không khí "
    "cấp tỉnh; Điều 10: ô nhiễm không khí nghiêm trọng);",
    "Nghị quyết số 122/NQ-CP của Chính phủ và Kế hoạch của tỉnh triển khai thực hiện;",
    "Thông tư số 10/2021/TT-BTNMT ngày 30/06/2021 của Bộ Tài nguyên và Môi trường quy định "
    "kỹ thuật quan trắc môi trường và quản lý thông tin, dữ liệu quan trắc chất lượng môi "
    "trường (Điều 29–31: trạm được công bố chỉ số chất lượng không khí);",
    "Thông tư số 02/2022/TT-BTNMT (Phụ lục VI, Mẫu số 03: nội dung báo cáo công tác bảo vệ "
    "môi trường cấp tỉnh về chất lượng không khí);",
    "Quyết định số 1459/QĐ-TCMT ngày 12/11/2019 của Tổng cục Môi trường ban hành Hướng dẫn "
    "kỹ thuật tính toán và công bố chỉ số chất lượng không khí Việt Nam (VN_AQI);",
    "QCVN 05:2023/BTNMT – Quy chuẩn kỹ thuật quốc gia về chất lượng không khí (ban hành kèm "
    "Thông tư số 01/2023/TT-BTNMT, hiệu lực từ 12/09/2023).",
)


@dataclass(frozen=True)
class ChartFiles:
    category_days: Path
    province_monthly: Path
    station_monthly: dict[str, Path]
    station_calendar: dict[str, Path]
    daily_pm25: Path | None = None


@dataclass(frozen=True)
class WeatherSection:
    met: Meteorology
    roses: dict[str, Path]
    rain: Table
    episodes: Table


@dataclass(frozen=True)
class Letterhead:
    """The administrative form's variable parts (AQM_REPORT_*); empty: left to fill."""

    parent_agency: str = ""
    agency: str = ""
    number: str = ""
    place: str = ""
    signer_title: str = ""
    signer_name: str = ""
    recipients: tuple[str, ...] = ()


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
        "ngày 12/11/2019 của Tổng cục Môi trường. Các mức: "
        f"{bands}; màu theo Bảng 1 của Quyết định.",
        "Trạm được công bố VN_AQI: chỉ trạm quan trắc tự động, cố định, đo tối thiểu PM2.5, "
        "O3 và một trong NO2, SO2, CO, thiết bị đáp ứng Điều 31 (Điều 29–30 Thông tư "
        "10/2021/TT-BTNMT), xét theo loại trạm có hiệu lực vào từng ngày. Chỉ số liệu các "
        "ngày trạm được công bố mới được tính vào số ngày theo VN_AQI, trung bình toàn tỉnh, "
        "đánh giá QCVN, các ngày và các đợt ô nhiễm. Cảm biến chi phí thấp và trạm di động "
        "chỉ cung cấp số liệu tham khảo (Phụ lục 2).",
        "Giới hạn so sánh theo QCVN 05:2023/BTNMT (Thông tư 01/2023/TT-BTNMT, hiệu lực từ "
        "12/09/2023); với các ngày trước đó áp dụng QCVN 05:2013/BTNMT. Mỗi giá trị được so "
        "với giới hạn có hiệu lực vào ngày của thời gian trung bình (ví dụ PM2.5 24 giờ: 50 "
        "µg/m³ đến 31/12/2025, 45 µg/m³ từ 01/01/2026).",
        "Ngày là 24 giờ tính từ 00:00 giờ Việt Nam (UTC+7); giờ được đặt tên theo thời điểm "
        "bắt đầu. Dữ liệu là trung bình 1 giờ hợp lệ; số liệu trạng thái 01/02 (hiệu chuẩn, "
        "lỗi thiết bị) không được dùng. Giá trị âm nhỏ (nhiễu của thiết bị quanh 0) được giữ "
        "nguyên khi tính trung bình; khi tính VN_AQI chúng được tính là 0.",
        "Quy tắc đầy đủ dữ liệu: trung bình 24 giờ chỉ được tính khi có ít nhất "
        f"{MIN_HOURS_PER_DAY} giá trị 1 giờ hợp lệ ({100 * MIN_HOURS_PER_DAY / 24:g} %); "
        f"trung bình 8 giờ cần {MIN_HOURS_PER_8H}/8 giờ và giá trị 8 giờ lớn nhất của ngày "
        f"cần {MIN_WINDOWS_PER_DAY}/24 giá trị 8 giờ; trung bình năm (tháng) là trung bình "
        "các giá trị ngày hợp lệ và chỉ được tính khi có giá trị ngày hợp lệ cho ít nhất "
        f"{100 * MIN_DAY_SHARE:g} % số ngày của năm (tháng). "
        "Khi không đạt, ô số liệu để trống và cột ghi chú nêu \"không đủ dữ liệu\".",
        "Vượt giới hạn: giá trị lớn hơn hẳn (>) giới hạn. Giới hạn 24 giờ: đếm số ngày có "
        "trung bình 24 giờ vượt; giới hạn 8 giờ: đếm số ngày có trung bình 8 giờ lớn nhất "
        "vượt; giới hạn 1 giờ: đếm số giờ vượt. Bên cạnh mỗi số lần vượt là số giá trị hợp lệ "
        "và số giá trị trong thời gian trạm hoạt động. Việc so sánh dùng giá trị chưa làm "
        "tròn; các bảng hiển thị làm tròn đến 0,1 µg/m³, nên một trung bình 25,04 µg/m³ "
        "hiển thị là 25,0 nhưng vẫn vượt giới hạn 25 µg/m³.",
        "Toàn tỉnh: số ngày theo mức VN_AQI là tổng số ngày-trạm; trung bình năm (tháng) là "
        "trung bình của các trạm đủ dữ liệu; số lần vượt là số ngày (giờ) có ít nhất một trạm "
        "vượt; 10 ngày ô nhiễm nhất là 10 ngày-trạm có VN_AQI cao nhất. So sánh giữa các năm "
        "chỉ dùng các trạm có số liệu đủ (≥ 75 % số ngày) trong cả hai năm, và nêu số trạm.",
        "Thời gian hoạt động của trạm lấy từ danh mục trạm (ngày lắp đặt, ngày ngừng); ngày "
        "có dữ liệu ngoài khoảng này cũng được tính là ngày hoạt động. Khoảng gián đoạn là "
        "chuỗi hơn 24 giờ liên tiếp không có trung bình 1 giờ hợp lệ trong thời gian hoạt động.",
    ]


def data_level_method(
    validation: NetworkValidation, station_ids: Sequence[str], provisional: bool
) -> str:
    """The methods' statement on data levels, and why the report is a draft if it is."""
    text = (
        "Mức số liệu: số liệu tạm thời (provisional) mới qua kiểm tra tự động; số liệu đã "
        "xác nhận (verified) đã được cán bộ rà soát theo nhật ký trạm, kết quả hiệu chuẩn "
        "và kiểm tra. " + levels_sentence(validation, station_ids)
    )
    if provisional:
        text += (
            f" Vì các số liệu của báo cáo có số liệu tạm thời, báo cáo là bản {DRAFT_TEXT}: "
            "các số liệu có thể thay đổi khi được xác nhận."
        )
    else:
        text += " Mọi số liệu của báo cáo đều đã được xác nhận."
    return text


def _set_run_font(run: Any, size: float | None = None, bold: bool | None = None,
                  italic: bool | None = None) -> None:
    run.font.name = FONT_NAME
    run._element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), FONT_NAME)
    if size is not None:
        run.font.size = Pt(size)
    if bold is not None:
        run.bold = bold
    if italic is not None:
        run.italic = italic


def _field(paragraph: Any, instruction: str, placeholder: str = "") -> None:
    """A Word field (PAGE, TOC …) as begin/instruction/separate/result/end runs."""
    def char(kind: str) -> Any:
        element = OxmlElement("w:fldChar")
        element.set(qn("w:fldCharType"), kind)
        return element

    begin = paragraph.add_run()
    begin._r.append(char("begin"))
    code = paragraph.add_run()
    text = OxmlElement("w:instrText")
    text.set(qn("xml:space"), "preserve")
    text.text = f" {instruction} "
    code._r.append(text)
    separate = paragraph.add_run()
    separate._r.append(char("separate"))
    paragraph.add_run(placeholder)
    end = paragraph.add_run()
    end._r.append(char("end"))


class _Writer:
    """Adds the report's blocks at the end of the body.

    python-docx looks for the body's section properties among all children on every
    paragraph or table it appends, gives each picture an id by searching the whole
    document and names its part by listing every image part: quadratic in the length of
    a 100-station report. The writer keeps the end of the body and its own counters, and
    so writes the same XML in linear time.
    """

    def __init__(self) -> None:
        self.doc: Any = Document()
        self.table_number = 0
        self.figure_number = 0
        self.body = self.doc.element.body
        self.end_of_body = self.body.sectPr
        self.shape_ids = 0
        self.images: dict[str, str] = {}
        """SHA-1 of each picture's file → relationship id (one part per distinct image)."""
        styles = self.doc.styles
        normal = styles["Normal"]
        normal.font.name = FONT_NAME
        normal.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), FONT_NAME)
        normal.font.size = Pt(BODY_PT)
        normal.paragraph_format.space_after = Pt(6)
        normal.paragraph_format.line_spacing = 1.15
        for name, size in (("Heading 1", 14), ("Heading 2", 13), ("Heading 3", 13),
                           ("Title", 14), ("Caption", 12)):
            style = styles[name]
            style.font.name = FONT_NAME
            rfonts = style.element.get_or_add_rPr().get_or_add_rFonts()
            for attribute in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
                rfonts.set(qn(attribute), FONT_NAME)
            for theme in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
                rfonts.attrib.pop(qn(theme), None)
            style.font.size = Pt(size)
            style.font.color.rgb = RGBColor(0, 0, 0)
            style.font.bold = name != "Caption"
            style.font.italic = name in ("Caption", "Heading 3")
        styles["Table Grid"].font.size = Pt(TABLE_PT)
        # smaller type for tables whose words would not fit at TABLE_PT (no word breaks)
        for points in SMALLER_TABLE_PT:
            small = styles.add_style(f"Table Grid {points:g}", WD_STYLE_TYPE.TABLE)
            small.base_style = styles["Table Grid"]
            small.font.size = Pt(points)
        for points in (TABLE_PT, *SMALLER_TABLE_PT):
            cell_style = styles.add_style(_cell_style(points), WD_STYLE_TYPE.PARAGRAPH)
            cell_style.base_style = normal
            cell_style.font.size = Pt(points)
            cell_style.paragraph_format.space_before = Pt(0)
            cell_style.paragraph_format.space_after = Pt(0)
            cell_style.paragraph_format.line_spacing = 1.0
        # style ids looked up once: python-docx searches the styles part on every lookup
        self.style_ids = {
            style.name: style.style_id for style in styles
            if style.name in ("Caption", "Table Grid", *(f"Table Grid {p:g}" for p in
                                                      SMALLER_TABLE_PT),
                              *(_cell_style(p) for p in (TABLE_PT, *SMALLER_TABLE_PT)),
                              *(f"Heading {level}" for level in (1, 2, 3)))
        }  # fmt: skip
        section = self.doc.sections[0]
        section.orientation = WD_ORIENT.PORTRAIT
        section.page_width, section.page_height = Cm(PAGE_WIDTH_CM), Cm(PAGE_HEIGHT_CM)
        section.top_margin = Cm(MARGINS_CM["top"])
        section.bottom_margin = Cm(MARGINS_CM["bottom"])
        section.left_margin = Cm(MARGINS_CM["left"])
        section.right_margin = Cm(MARGINS_CM["right"])
        # Decree 30: page numbers centred at the top, from the second page
        section.different_first_page_header_footer = True
        para = section.header.paragraphs[0]
        para.alignment = WD_ALIGN_PARAGRAPH.CENTER
        _field(para, "PAGE", "2")
        for run in para.runs:
            _set_run_font(run, 13)

    def add_paragraph(self, text: str = "", style: str | None = None) -> Any:
        """A paragraph at the end of the body (as ``Document.add_paragraph``); ``style``
        is a style name of :attr:`style_ids`."""
        p = OxmlElement("w:p")
        self.end_of_body.addprevious(p)
        para = Paragraph(p, self.doc._body)
        if text:
            para.add_run(text)
        if style is not None:
            p.get_or_add_pPr().get_or_add_pStyle().val = self.style_ids[style]
        return para

    def heading(self, text: str, level: int) -> None:
        self.add_paragraph(text, f"Heading {level}")

    def paragraphs(self, texts: Sequence[str]) -> None:
        for text in texts:
            para = self.add_paragraph(text)
            para.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY

    def bullets(self, texts: Sequence[str]) -> None:
        for text in texts:
            para = self.add_paragraph(f"- {text}")
            para.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
            para.paragraph_format.first_line_indent = Cm(1)

    def officer_text(self, what: str) -> None:
        """A marked place for the officer's own text (highlighted, to replace)."""
        run = self.add_paragraph().add_run(OFFICER_TEXT.format(what=what))
        run.italic = True
        run.font.highlight_color = WD_COLOR_INDEX.YELLOW

    def table(self, table: Table, title: str | None = None, empty: str = "",
              drop: Sequence[int] = ()) -> None:
        if not table.rows:
            if empty:
                self.add_paragraph(empty)
            return
        keep = [j for j in range(len(table.columns)) if j not in drop]
        columns = [table.columns[j] for j in keep]
        self.table_number += 1
        caption = self.add_paragraph(f"Bảng {self.table_number}. {title or table.title}",
                                     "Caption")
        caption.paragraph_format.keep_with_next = True
        texts = [[cell_text(row[j]) for row in table.rows] for j in keep]
        headers = [c.header for c in columns]
        longest = _longest(headers, texts)
        size = next((pt for pt in (TABLE_PT, *SMALLER_TABLE_PT)
                     if _fits(longest, pt)), SMALLER_TABLE_PT[-1])
        widths = _twips(_column_widths(longest, size))
        table_style = "Table Grid" if size == TABLE_PT else f"Table Grid {size:g}"
        self.end_of_body.addprevious(parse_xml(_table_xml(
            headers, texts, widths, self.style_ids[table_style],
            self.style_ids[_cell_style(size)],
        )))  # fmt: skip
        self.add_paragraph().paragraph_format.space_after = Pt(0)

    def picture(self, path: Path, caption: str) -> None:
        """The picture centred at :data:`CHART_WIDTH`, as ``Document.add_picture`` places
        it (parts image1.png, image2.png …; drawing ids 1, 2 …), and its caption."""
        self.figure_number += 1
        image = Image.from_file(str(path))
        rel_id = self.images.get(image.sha1)
        if rel_id is None:
            part = ImagePart.from_image(
                image, PackURI(f"/word/media/image{len(self.images) + 1}.{image.ext}")
            )
            rel_id = self.doc.part.relate_to(part, RELATIONSHIP_TYPE.IMAGE)
            self.images[image.sha1] = rel_id
        if not self.shape_ids:
            self.shape_ids = self.doc.part.next_id - 1
        self.shape_ids += 1
        cx, cy = image.scaled_dimensions(CHART_WIDTH, None)
        para = self.add_paragraph()
        para.add_run()._r.add_drawing(
            CT_Inline.new_pic_inline(self.shape_ids, rel_id, image.filename, cx, cy)
        )
        para.alignment = WD_ALIGN_PARAGRAPH.CENTER
        para.paragraph_format.keep_with_next = True
        caption_para = self.add_paragraph(f"Hình {self.figure_number}. {caption}", "Caption")
        caption_para.alignment = WD_ALIGN_PARAGRAPH.CENTER

    def page_break(self) -> None:
        self.add_paragraph().add_run().add_break(WD_BREAK.PAGE)


# Word refuses (offers to repair) children of tblPr / settings out of schema order
# (ECMA-376 Part 1, CT_TblPr and CT_Settings), so elements are inserted before these.
_AFTER_CELL_MARGINS: Final = ("w:tblLook", "w:tblCaption", "w:tblDescription", "w:tblPrChange")
_AFTER_BORDERS: Final = ("w:shd", "w:tblLayout", "w:tblCellMar", *_AFTER_CELL_MARGINS)
_AFTER_TBL_W: Final = ("w:jc", "w:tblCellSpacing", "w:tblInd", "w:tblBorders", *_AFTER_BORDERS)
_AFTER_UPDATE_FIELDS: Final = (
    "w:hdrShapeDefaults", "w:footnotePr", "w:endnotePr", "w:compat", "w:docVars", "w:rsids",
    "m:mathPr", "w:attachedSchema", "w:themeFontLang", "w:clrSchemeMapping",
    "w:doNotIncludeSubdocsInStats", "w:doNotAutoCompressPictures", "w:forceUpgrade",
    "w:captions", "w:readModeInkLockDown", "w:smartTagType", "sl:schemaLibrary",
    "w:shapeDefaults", "w:doNotEmbedSmartTags", "w:decimalSymbol", "w:listSeparator",
)

CHAR_CM: Final = 0.45 * TABLE_PT * 2.54 / 72
"""Width of an average character (0.45 em) of Times New Roman at TABLE_PT, in cm."""
CELL_PADDING_CM: Final = 0.1
"""Left and right inner margin of a table cell."""
_WRAP_AT: Final = 28
"""Text longer than this many characters wraps rather than widening its column."""


@functools.lru_cache(maxsize=65536)
def _ems(text: str) -> float:
    """Approximate width of ``text`` in em of Times New Roman (bold headers included)."""
    return sum(0.74 if c.isupper() else 0.52 if c.isdigit() else 0.3 if c in " .,;:()/-|"
               else 0.48 for c in text)


def _longest(headers: Sequence[str], texts: Sequence[Sequence[str]]
             ) -> tuple[list[float], list[float]]:  # fmt: skip
    """Per column: its widest word and the widest line it wants, in average characters."""
    least, want = [], []
    for header, column in zip(headers, texts, strict=True):
        sample = column[:500]
        words = [_ems(word) / 0.45 for text in (header, *sample) for word in text.split()]
        lines = [_ems(text) / 0.45 for text in sample] + [min(_ems(header) / 0.45, 12)]
        least.append(max(words, default=1.0))
        want.append(min(max(lines, default=1.0), _WRAP_AT))
    return least, want


def _fits(longest: tuple[list[float], list[float]], size: float) -> bool:
    """Whether every column can be as wide as its longest word (:func:`_longest`) at
    ``size`` pt."""
    least, _ = longest
    char = CHAR_CM * size / TABLE_PT
    return sum(n * char + 2 * CELL_PADDING_CM + 0.15 for n in least) <= TEXT_WIDTH_CM


def _column_widths(longest: tuple[list[float], list[float]], size: float = 10) -> list[float]:
    """Column widths (cm) that fill the text width: each column at least as wide as its
    longest word (so no word breaks inside), the room left shared by how much more each
    column's longest line wants (up to :data:`_WRAP_AT` characters); ``longest`` is
    what :func:`_longest` measured."""
    least, want = longest
    char = CHAR_CM * size / TABLE_PT
    pad = 2 * CELL_PADDING_CM + 0.15
    minimum = [n * char + pad for n in least]
    extra = [max(0.0, (m - n) * char) for m, n in zip(want, least, strict=True)]
    room = TEXT_WIDTH_CM - sum(minimum)
    if room <= 0 or sum(extra) == 0:
        scale = TEXT_WIDTH_CM / sum(minimum)
        return [m * scale for m in minimum] if room <= 0 else [
            m + room / len(minimum) for m in minimum]
    share = min(1.0, room / sum(extra))
    widths = [m + e * share for m, e in zip(minimum, extra, strict=True)]
    left = TEXT_WIDTH_CM - sum(widths)
    return [wd + left * wd / sum(widths) for wd in widths]


def _twips(widths_cm: Sequence[float]) -> list[int]:
    """Column widths in twips, scaled to fill the text width exactly."""
    total = int(TEXT_WIDTH_CM / 2.54 * 1440)
    scale = total / sum(widths_cm)
    return [int(wd * scale) for wd in widths_cm]


def _table_xml(headers: Sequence[str], texts: Sequence[Sequence[str]], widths: Sequence[int],
               table_style: str, cell_style: str) -> str:
    """A whole data table as WordprocessingML, built as text and parsed once: building it
    cell by cell through python-docx dominates the time of a 100-station report.

    Fixed layout at ``widths`` (twips); narrow cell margins; the header row shaded, bold,
    kept whole and repeated on every page (``w:tblHeader``); every cell paragraph in
    ``cell_style`` (Word and LibreOffice let the 13-pt Normal style win over a table
    style's font size). Children follow the schema's order (ECMA-376 CT_TblPr, CT_TrPr).
    """
    margin = int(CELL_PADDING_CM / 2.54 * 1440)
    grid = "".join(f'<w:gridCol w:w="{wd}"/>' for wd in widths)
    paragraph = f'<w:p><w:pPr><w:pStyle w:val="{cell_style}"/></w:pPr>'

    def cell(width: int, text: str, header: bool) -> str:
        shade = f'<w:shd w:val="clear" w:color="auto" w:fill="{_HEADER_SHADE}"/>' if header \
            else ""
        bold = "<w:rPr><w:b/></w:rPr>" if header else ""
        run = (f'<w:r>{bold}<w:t xml:space="preserve">{xml_escape(text)}</w:t></w:r>'
               if text else "")
        return (f'<w:tc><w:tcPr><w:tcW w:w="{width}" w:type="dxa"/>{shade}</w:tcPr>'
                f"{paragraph}{run}</w:p></w:tc>")

    rows = ["<w:tr><w:trPr><w:cantSplit/><w:tblHeader/></w:trPr>"
            + "".join(cell(wd, h, True) for wd, h in zip(widths, headers, strict=True))
            + "</w:tr>"]
    for r in range(len(texts[0]) if texts else 0):
        rows.append("<w:tr>" + "".join(cell(wd, column[r], False)
                                       for wd, column in zip(widths, texts, strict=True))
                    + "</w:tr>")
    return (
        f"<w:tbl {nsdecls('w')}><w:tblPr><w:tblStyle w:val=\"{table_style}\"/>"
        f'<w:tblW w:w="{sum(widths)}" w:type="dxa"/><w:jc w:val="center"/>'
        '<w:tblLayout w:type="fixed"/>'
        f'<w:tblCellMar><w:left w:w="{margin}" w:type="dxa"/>'
        f'<w:right w:w="{margin}" w:type="dxa"/></w:tblCellMar>'
        '<w:tblLook w:val="04A0" w:firstRow="1" w:lastRow="0" w:firstColumn="1" '
        'w:lastColumn="0" w:noHBand="0" w:noVBand="1"/></w:tblPr>'
        f"<w:tblGrid>{grid}</w:tblGrid>{''.join(rows)}</w:tbl>"
    )


def _cell_style(points: float) -> str:
    """Name of the paragraph style of table cells at ``points`` pt."""
    return f"Ô bảng {points:g}"


def _fixed_width(grid: Any, widths_cm: Sequence[float], narrow: bool = False) -> None:
    """Lay the table out at fixed column widths (cm) that sum to the text width."""
    total_twips = int(TEXT_WIDTH_CM / 2.54 * 1440)
    scale = total_twips / sum(widths_cm)
    widths = [int(wd * scale) for wd in widths_cm]
    tbl_pr = grid._tbl.tblPr
    if narrow:
        margins = OxmlElement("w:tblCellMar")
        for edge in ("left", "right"):
            element = OxmlElement(f"w:{edge}")
            element.set(qn("w:w"), str(int(CELL_PADDING_CM / 2.54 * 1440)))
            element.set(qn("w:type"), "dxa")
            margins.append(element)
        tbl_pr.insert_element_before(margins, *_AFTER_CELL_MARGINS)
    tbl_pr.get_or_add_tblLayout().set(qn("w:type"), "fixed")
    tbl_w = tbl_pr.find(qn("w:tblW"))
    if tbl_w is None:
        tbl_w = OxmlElement("w:tblW")
        tbl_pr.insert_element_before(tbl_w, *_AFTER_TBL_W)
    tbl_w.set(qn("w:type"), "dxa")
    tbl_w.set(qn("w:w"), str(sum(widths)))
    for col, width in zip(grid._tbl.tblGrid.findall(qn("w:gridCol")), widths, strict=True):
        col.set(qn("w:w"), str(width))
    for row in grid._tbl.tr_lst:
        for tc, width in zip(row.tc_lst, widths, strict=True):
            tc_w = tc.get_or_add_tcPr().get_or_add_tcW()
            tc_w.type = "dxa"
            tc_w.w = width


def _no_borders(grid: Any) -> None:
    borders = OxmlElement("w:tblBorders")
    for edge in ("top", "left", "bottom", "right", "insideH", "insideV"):
        element = OxmlElement(f"w:{edge}")
        element.set(qn("w:val"), "nil")
        borders.append(element)
    grid._tbl.tblPr.insert_element_before(borders, *_AFTER_BORDERS)


def _centred(cell: Any, text: str, size: float, bold: bool = False, italic: bool = False,
             first: bool = False) -> Any:
    para = cell.paragraphs[0] if first else cell.add_paragraph()
    para.alignment = WD_ALIGN_PARAGRAPH.CENTER
    para.paragraph_format.space_after = Pt(0)
    run = para.add_run(text)
    _set_run_font(run, size, bold, italic)
    return para


def _letterhead(writer: _Writer, report: AnnualAssessment, head: Letterhead) -> None:
    """Decree 30 Appendix I: agency (left) and national emblem lines (right), number and
    symbol, place and date line, then the document's kind and title."""
    doc = writer.doc
    grid = doc.add_table(rows=2, cols=2)
    grid.autofit = False
    _no_borders(grid)
    _fixed_width(grid, [6.5, 9.5])
    left, right = grid.cell(0, 0), grid.cell(0, 1)
    _centred(left, (head.parent_agency or BLANK).upper(), 12, first=True)
    _centred(left, (head.agency or BLANK).upper(), 12, bold=True)
    _centred(left, "_______", 12, bold=True)
    _centred(right, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", 12, bold=True, first=True)
    _centred(right, "Độc lập - Tự do - Hạnh phúc", 13, bold=True)
    _centred(right, "_______________________", 13, bold=True)
    number = head.number or f"{BLANK}/BC-{BLANK}"
    _centred(grid.cell(1, 0), f"Số: {number}", 13, first=True)
    place = head.place or report.province
    _centred(grid.cell(1, 1), f"{place}, ngày …… tháng …… năm {BLANK}", 13, italic=True,
             first=True)
    writer.add_paragraph()
    for text, size in (("BÁO CÁO", 14),
                       (f"Chất lượng môi trường không khí năm {report.year} trên địa bàn tỉnh "
                        f"{report.province}", 14)):
        para = writer.add_paragraph()
        para.alignment = WD_ALIGN_PARAGRAPH.CENTER
        para.paragraph_format.space_after = Pt(0)
        _set_run_font(para.add_run(text), size, bold=True)
    line = writer.add_paragraph()
    line.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _set_run_font(line.add_run("_______________"), 13, bold=True)


def _fld_char(run: Any, kind: str) -> None:
    element = OxmlElement("w:fldChar")
    element.set(qn("w:fldCharType"), kind)
    run._r.append(element)


def _table_of_contents(writer: _Writer, titles: Sequence[str]) -> None:
    """A TOC field whose shown result lists the chapters; Word fills in the page numbers
    when it updates fields on opening (settings ``w:updateFields``)."""
    para = writer.add_paragraph()
    _set_run_font(para.add_run("MỤC LỤC"), 13, bold=True)
    para.alignment = WD_ALIGN_PARAGRAPH.CENTER
    first = writer.add_paragraph()
    _fld_char(first.add_run(), "begin")
    code = OxmlElement("w:instrText")
    code.set(qn("xml:space"), "preserve")
    code.text = ' TOC \\o "1-1" \\h \\z \\u '
    first.add_run()._r.append(code)
    _fld_char(first.add_run(), "separate")
    first.add_run(titles[0])
    for title in titles[1:]:
        writer.add_paragraph(title)
    _fld_char(writer.doc.paragraphs[-1].add_run(), "end")
    update = OxmlElement("w:updateFields")
    update.set(qn("w:val"), "true")
    writer.doc.settings.element.insert_element_before(update, *_AFTER_UPDATE_FIELDS)
    writer.page_break()


def _signature(writer: _Writer, head: Letterhead) -> None:
    """Nơi nhận (left) and the signature block (right), Decree 30 Appendix I."""
    doc = writer.doc
    writer.add_paragraph()
    grid = doc.add_table(rows=1, cols=2)
    grid.autofit = False
    _no_borders(grid)
    _fixed_width(grid, [8.0, 8.0])
    left, right = grid.cell(0, 0), grid.cell(0, 1)
    para = left.paragraphs[0]
    _set_run_font(para.add_run("Nơi nhận:"), 12, bold=True, italic=True)
    recipients = head.recipients or ("Như trên", BLANK, "Lưu: VT")
    for i, name in enumerate(recipients):
        end = "." if i == len(recipients) - 1 else ";"
        line = left.add_paragraph()
        line.paragraph_format.space_after = Pt(0)
        _set_run_font(line.add_run(f"- {name}{end}"), 11)
    _centred(right, (head.signer_title or BLANK).upper(), 13, bold=True, first=True)
    _centred(right, "(Ký, ghi rõ họ tên, đóng dấu)", 13, italic=True)
    for _ in range(4):
        _centred(right, "", 13)
    _centred(right, head.signer_name or BLANK, 13, bold=True)


DRAFT_TEXT: Final = "DỰ THẢO"


def _watermark(writer: _Writer) -> None:
    """A diagonal grey "DỰ THẢO" behind the text of every page (VML text path)."""
    for section in writer.doc.sections:
        for header in (section.header, section.first_page_header):
            para = header.paragraphs[0] if header.paragraphs else header.add_paragraph()
            shape = parse_xml(
                f'<w:r {nsdecls("w")} xmlns:v="urn:schemas-microsoft-com:vml" '
                'xmlns:o="urn:schemas-microsoft-com:office:office"><w:pict>'
                '<v:shapetype id="_x0000_t136" coordsize="21600,21600" o:spt="136" '
                'adj="10800" path="m@7,l@8,m@5,21600l@6,21600e">'
                '<v:path textpathok="t" o:connecttype="custom"/>'
                '<v:textpath on="t" fitshape="t"/></v:shapetype>'
                '<v:shape id="aqm-draft" o:spid="_x0000_s2049" type="#_x0000_t136" '
                'style="position:absolute;margin-left:0;margin-top:0;width:440pt;height:110pt;'
                "rotation:315;z-index:-251654144;mso-position-horizontal:center;"
                "mso-position-horizontal-relative:margin;mso-position-vertical:center;"
                'mso-position-vertical-relative:margin" fillcolor="#c8c8c8" stroked="f">'
                '<v:fill opacity=".5"/>'
                f'<v:textpath style="font-family:&quot;{FONT_NAME}&quot;;font-size:1pt" '
                f'string="{DRAFT_TEXT}"/></v:shape></w:pict></w:r>'
            )
            para._p.append(shape)


def _scope_tables(
    writer: _Writer, tables: ReportTables, key: str, name: str, previous: bool
) -> None:
    writer.table(tables.category_days.rows_for(key), f"Số ngày theo mức VN_AQI — {name}")
    writer.table(tables.annual_means.rows_for(key), f"Trung bình năm so với QCVN — {name}")
    writer.table(tables.exceedances.rows_for(key), f"Số lần vượt giới hạn QCVN — {name}",
                 empty="Không có thông số nào có giới hạn ngắn hạn trong QCVN 05/BTNMT.")
    writer.table(tables.maxima.rows_for(key), f"Giá trị lớn nhất (µg/m³) — {name}")
    # a station's own worst days need no station columns
    drop = (2, 3) if key != PROVINCE_KEY else ()
    writer.table(tables.worst_days.rows_for(key), f"10 ngày có VN_AQI cao nhất — {name}",
                 empty="Không có ngày nào có VN_AQI.", drop=drop)
    writer.table(tables.monthly_means.rows_for(key),
                 f"Trung bình tháng (µg/m³; — : không đủ dữ liệu) — {name}")
    if previous:
        writer.table(tables.previous_year.rows_for(key), f"So sánh với năm trước — {name}",
                     empty="Không có số liệu năm trước đủ để so sánh.")


def write_report(
    report: AnnualAssessment,
    tables: ReportTables,
    charts: ChartFiles,
    path: Path,
    annex_name: str,
    generated_by: str,
    on_station: Callable[[str], None] | None = None,
    letterhead: Letterhead | None = None,
    draft: bool = False,
    trend: Table | None = None,
    validation: tuple[NetworkValidation, Table, Table, bool] | None = None,
    weather: WeatherSection | None = None,
) -> Path:
    """Write the DOCX report to ``path``."""
    head = letterhead or Letterhead()
    writer = _Writer()
    doc = writer.doc
    props = doc.core_properties
    props.title = f"Báo cáo chất lượng môi trường không khí năm {report.year} — {report.province}"
    props.subject = "Báo cáo chất lượng không khí hằng năm"
    props.author = head.agency or report.province
    props.comments = f"Số liệu tổng hợp bằng phần mềm {generated_by}"
    props.keywords = f"VN_AQI; QCVN 05:2023/BTNMT; {generated_by}"
    props.category = DRAFT_TEXT if draft else "Báo cáo"
    if draft:
        _watermark(writer)

    _letterhead(writer, report, head)
    if draft:
        para = writer.add_paragraph()
        para.alignment = WD_ALIGN_PARAGRAPH.CENTER
        _set_run_font(para.add_run(f"{DRAFT_TEXT} — số liệu chưa được xác nhận đầy đủ"), 13,
                      bold=True, italic=True)
    _table_of_contents(writer, list(SECTION_TITLES.values()))

    writer.heading(SECTION_TITLES["introduction"], 1)
    writer.paragraphs([
        f"Báo cáo đánh giá chất lượng môi trường không khí năm {report.year} trên địa bàn "
        f"tỉnh {report.province} từ số liệu của mạng lưới quan trắc tự động, phục vụ báo cáo "
        "công tác bảo vệ môi trường hằng năm và đánh giá kế hoạch quản lý chất lượng môi "
        "trường không khí của tỉnh. Căn cứ:",
    ])  # fmt: skip
    writer.bullets(LEGAL_BASIS)

    writer.heading(SECTION_TITLES["network"], 1)
    writer.paragraphs(narrative.network_paragraphs(report))
    writer.table(tables.stations, drop=(6,))  # status: the retirement date says it
    writer.table(tables.completeness)
    writer.table(tables.gaps, empty="Không có khoảng gián đoạn dữ liệu nào dài hơn một ngày.")
    if validation is not None:
        checked, levels, flags, _ = validation
        writer.paragraphs([
            "Kiểm soát chất lượng số liệu (QA/QC): mọi giá trị đo qua các quy tắc kiểm tra tự "
            "động (trạng thái 01 hiệu chuẩn, 02 lỗi thiết bị; vượt dải đo; giá trị âm; giá trị "
            "không đổi liên tiếp; đột biến; PM2.5 lớn hơn PM10) rồi được cán bộ rà soát, hủy "
            "các khoảng sai có nêu lý do và xác nhận. Số liệu gốc được giữ nguyên; các trung "
            "bình chỉ dùng giá trị hợp lệ. "
            + levels_sentence(checked, [s.key for s in report.stations]),
        ])  # fmt: skip
        writer.table(levels)
        writer.table(flags)

    writer.heading(SECTION_TITLES["methodology"], 1)
    writer.paragraphs(methodology(report))
    if validation is not None:
        checked, _, _, provisional = validation
        writer.paragraphs([data_level_method(checked, [s.key for s in report.stations],
                                             provisional)])
    note = writer.add_paragraph()
    _set_run_font(note.add_run(
        f"Ghi chú: số liệu được tổng hợp tự động bằng phần mềm {generated_by} từ cơ sở dữ "
        f"liệu quan trắc; các bảng đầy đủ có trong tệp {annex_name}."
    ), 11, italic=True)  # fmt: skip

    writer.heading(SECTION_TITLES["province"], 1)
    writer.paragraphs(narrative.province_paragraphs(report))
    writer.picture(charts.category_days,
                   f"Số ngày theo mức VN_AQI của từng trạm, năm {report.year}")
    writer.picture(charts.province_monthly,
                   "Nồng độ trung bình tháng toàn tỉnh (trung bình của các trạm) và giới hạn "
                   "trung bình năm của QCVN")
    if charts.daily_pm25 is not None:
        writer.picture(charts.daily_pm25,
                       "PM2.5 trung bình 24 giờ theo ngày so với giới hạn 24 giờ có hiệu lực")
    _scope_tables(writer, tables, PROVINCE_KEY, f"toàn tỉnh {report.province}", False)

    writer.heading(SECTION_TITLES["episodes"], 1)
    writer.paragraphs(narrative.episode_paragraphs(report))
    episodes = tables.episodes.rows_for(PROVINCE_KEY)
    shown = replace(episodes, rows=episodes.rows[:MAX_EPISODES_SHOWN])
    more = len(episodes.rows) - len(shown.rows)
    writer.table(shown, episodes.title + (
        f" ({MAX_EPISODES_SHOWN} đợt dài nhất; đủ {len(episodes.rows)} đợt trong phụ lục XLSX)"
        if more > 0 else ""), empty="Không có đợt ô nhiễm nào.")
    writer.table(tables.serious_pollution)

    writer.heading(SECTION_TITLES["meteorology"], 1)
    if weather is None:
        writer.paragraphs(["Trong năm báo cáo không trạm nào đo gió hoặc mưa."])
    else:
        writer.paragraphs(weather_paragraphs(weather.met))
        for measured in weather.met.stations:
            if measured.station_id in weather.roses:
                writer.picture(weather.roses[measured.station_id],
                               f"Hoa gió theo mùa — {measured.name}")  # fmt: skip
        writer.table(weather.rain, empty="Không trạm nào đo mưa.")
        limit = MAX_EPISODES_SHOWN * len(weather.met.stations)
        cut = replace(weather.episodes, rows=weather.episodes.rows[:limit])
        writer.table(cut, weather.episodes.title + (
            f" ({MAX_EPISODES_SHOWN} đợt dài nhất; đủ các đợt trong phụ lục XLSX)"
            if len(weather.episodes.rows) > limit else ""),
            empty="Không có đợt ô nhiễm nào để đối chiếu với khí tượng.")  # fmt: skip

    writer.heading(SECTION_TITLES["comparison"], 1)
    writer.paragraphs(narrative.comparison_paragraphs(report))
    if report.has_previous_year:
        writer.table(tables.previous_year.rows_for(PROVINCE_KEY),
                     f"So sánh toàn tỉnh với năm {report.year - 1} trên cùng các trạm",
                     empty="Không có số liệu năm trước đủ để so sánh.")
    if trend is not None:
        writer.table(trend)

    writer.heading(SECTION_TITLES["conclusions"], 1)
    writer.heading("8.1. Kết luận", 2)
    writer.paragraphs(narrative.conclusions(report))
    writer.officer_text("đánh giá nguyên nhân (nguồn thải, khí tượng, sự kiện trong năm)")
    writer.heading("8.2. Kiến nghị", 2)
    writer.officer_text("các biện pháp, kiến nghị với Ủy ban nhân dân tỉnh và các cơ quan")

    _signature(writer, head)
    writer.page_break()

    writer.heading(SECTION_TITLES["stations"], 1)
    for station in report.stations:
        _station_section(writer, report, tables, charts, station)
        if on_station is not None:
            on_station(station.key)

    writer.heading(SECTION_TITLES["indicative"], 1)
    writer.paragraphs([
        "Số liệu của cảm biến chi phí thấp và trạm di động là số liệu tham khảo: các điểm này "
        "không đáp ứng Điều 29–31 Thông tư 10/2021/TT-BTNMT nên không được công bố VN_AQI, "
        "không được dùng để đánh giá QCVN và không được tính vào các số liệu toàn tỉnh. "
        "PM2.5 của cảm biến chi phí thấp được hiệu chỉnh theo công thức của US EPA (Barkjohn "
        "và cộng sự, 2021) khi danh mục trạm chỉ định; giá trị thô được giữ nguyên trong cơ sở "
        "dữ liệu.",
    ])  # fmt: skip
    writer.table(tables.indicative,
                 empty="Năm báo cáo không có điểm quan trắc nào chỉ cung cấp số liệu tham khảo.")
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
                   f"Nồng độ trung bình tháng và giới hạn trung bình năm — {station.name}")
    writer.picture(charts.station_calendar[station.key],
                   f"Lịch VN_AQI ngày — {station.name}")
