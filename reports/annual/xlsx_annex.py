"""The XLSX annex: every table of the report as data, one sheet each (openpyxl).

Row 1 holds the headers (with filters), data start at row 2; numbers are written at full
precision (the number format only rounds what Excel shows), so officers can reuse them.
A numeric column holds only numbers: a value the data do not allow is an empty cell,
explained in the table's note column. A first
sheet lists the sheets with their titles and the completeness rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from reports.annual.tables import Table

_HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
_BOLD = Font(bold=True)


def write_annex(tables: Sequence[Table], path: Path, title: str, notes: Sequence[str]) -> Path:
    """Write ``tables`` to ``path``, preceded by an index sheet (``Mục lục``)."""
    workbook = Workbook(write_only=False)
    index = workbook.active
    index.title = "Mục lục"
    index.append([title])
    index["A1"].font = Font(bold=True, size=13)
    for note in notes:
        index.append([note])
    index.append([])
    index.append(["Trang tính", "Nội dung", "Số dòng"])
    for cell in index[index.max_row]:
        cell.font = _BOLD
    for table in tables:
        index.append([table.sheet, table.title, len(table.rows)])
    index.column_dimensions["A"].width = 24
    index.column_dimensions["B"].width = 90

    for table in tables:
        sheet = workbook.create_sheet(table.sheet)
        sheet.append([c.header for c in table.columns])
        for cell in sheet[1]:
            cell.font = _BOLD
            cell.fill = _HEADER_FILL
            cell.alignment = Alignment(wrap_text=True, vertical="top")
        for row in table.rows:
            sheet.append(list(row))
        for j, column in enumerate(table.columns, start=1):
            letter = get_column_letter(j)
            sheet.column_dimensions[letter].width = column.width
            if column.number_format and table.rows:
                for (cell,) in sheet.iter_rows(min_row=2, min_col=j, max_col=j):
                    cell.number_format = column.number_format
        sheet.freeze_panes = "A2"
        # filters on every column, so an officer can pick a station or a parameter
        sheet.auto_filter.ref = f"A1:{get_column_letter(len(table.columns))}{len(table.rows) + 1}"
    workbook.save(path)
    return path
