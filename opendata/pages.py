"""The texts beside the data: ``index.html`` (Vietnamese first, then English),
``README.md`` (columns, units, flags) and ``LICENSE`` (CC BY 4.0 with the attribution).

Everything is generated from :mod:`opendata.datasets` and the manifest, so the texts
always describe the files that are there. The page loads nothing from elsewhere.
"""

from __future__ import annotations

import html
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from opendata.datasets import DATASETS, FLAGS
from opendata.files import FileEntry, write_bytes_atomically

LICENCE_NAME = "CC BY 4.0"
LICENCE_URL = "https://creativecommons.org/licenses/by/4.0/"
LICENCE_LEGALCODE = "https://creativecommons.org/licenses/by/4.0/legalcode"
LICENCE_DEED_VI = "https://creativecommons.org/licenses/by/4.0/deed.vi"


def attribution(province: str, publisher: str) -> str:
    return f"Dữ liệu quan trắc không khí tỉnh {province} — {publisher} ({LICENCE_NAME})"


def manifest_header(province: str, publisher: str) -> dict[str, Any]:
    return {
        "title": f"Dữ liệu mở chất lượng không khí tỉnh {province}",
        "title_en": f"Open air-quality data of {province} province",
        "publisher": publisher,
        "licence": {"name": LICENCE_NAME, "url": LICENCE_URL, "legalcode": LICENCE_LEGALCODE},
        "attribution": attribution(province, publisher),
        "readme": "README.md",
    }


def write_pages(root: Path, province: str, publisher: str, timezone: str,
                entries: Mapping[str, FileEntry]) -> None:  # fmt: skip
    write_bytes_atomically(root / "LICENSE", licence_text(province, publisher).encode())
    write_bytes_atomically(root / "README.md", readme_text(province, publisher, timezone).encode())
    write_bytes_atomically(
        root / "index.html", index_html(province, publisher, timezone, entries).encode()
    )


def licence_text(province: str, publisher: str) -> str:
    return f"""Giấy phép / Licence: Creative Commons Attribution 4.0 International ({LICENCE_NAME})

Dữ liệu trong thư mục này do {publisher} công bố theo giấy phép {LICENCE_NAME}.
Bạn được chia sẻ, sao chép, phân phối và chỉnh sửa dữ liệu cho mọi mục đích, kể cả
thương mại, với điều kiện ghi nguồn như sau và cho biết có chỉnh sửa hay không:

    {attribution(province, publisher)}

The data in this folder are published by {publisher} under the {LICENCE_NAME} licence.
You may share, copy, redistribute and adapt them for any purpose, even commercially,
provided you give the attribution above and indicate if changes were made.

Tóm tắt / Summary (tiếng Việt): {LICENCE_DEED_VI}
Toàn văn pháp lý / Legal code: {LICENCE_LEGALCODE}
"""


def readme_text(province: str, publisher: str, timezone: str) -> str:
    lines = [
        f"# Dữ liệu mở chất lượng không khí tỉnh {province} / Open air-quality data",
        "",
        f"Nguồn / Source: {publisher}. Giấy phép / Licence: {LICENCE_NAME} "
        f'({LICENCE_URL}); ghi nguồn / attribution: "{attribution(province, publisher)}".',
        "",
        "## Tệp / Files",
        "",
        "Mỗi năm (theo giờ địa phương) có một thư mục; mỗi trạm có tệp riêng trong "
        "`<năm>/stations/`, toàn tỉnh có tệp gộp `<năm>/<tỉnh>-<năm>-<bộ dữ liệu>`. Mỗi bộ "
        "dữ liệu có hai định dạng cùng nội dung: CSV (UTF-8, dấu phẩy, dòng tiêu đề) và "
        "Parquet. `index.json` liệt kê mọi tệp với kích thước, SHA-256 và thời điểm cập nhật.",
        "",
        "One folder per local year; one file per station in `<year>/stations/`, and the "
        "whole province in `<year>/<province>-<year>-<dataset>`. Each dataset comes as CSV "
        "(UTF-8, comma-separated, header line) and Parquet with the same rows. "
        "`index.json` lists every file with its size, SHA-256 and last-modified time (UTC).",
        "",
        "CSV là UTF-8 không có BOM; trong Excel hãy mở bằng Data → From Text/CSV và chọn "
        "UTF-8 / CSV files are UTF-8 without a byte-order mark; in Excel open them through "
        "Data → From Text/CSV with UTF-8.",
        "",
        f"Giờ địa phương / local time: {timezone}. Ô trống nghĩa là không có số liệu, không "
        "bao giờ ghi 0 thay cho thiếu / An empty field means no data; 0 is never written "
        "for missing.",
        "",
    ]
    for dataset in DATASETS:
        lines += [
            f"## `{dataset.name}` — {dataset.title_vi} / {dataset.title_en}",
            "",
            "| cột / column | kiểu / type | ý nghĩa | meaning |",
            "|---|---|---|---|",
        ]
        schema = dataset.schema(timezone)
        for column in dataset.columns:
            kind = schema.field(column.name).type
            meanings = f"{column.meaning_vi} | {column.meaning_en}"
            lines.append(f"| `{column.name}` | {kind} | {meanings} |")
        lines.append("")
    lines += [
        "## Cờ chất lượng / Flags",
        "",
        "| cờ / flag | ý nghĩa | meaning |",
        "|---|---|---|",
        *(f"| `{code}` | {vi} | {en} |" for code, en, vi in FLAGS),
        "",
        "## Quy tắc công bố / What is published",
        "",
        "VN_AQI chỉ được công bố cho trạm và ngày đủ điều kiện theo Thông tư 10/2021/TT-BTNMT "
        "Điều 29–31 (trạm tự động cố định, thiết bị đạt yêu cầu, đo PM2.5, O3 và một trong "
        "NO2, SO2, CO). Nồng độ của cảm biến chi phí thấp và trạm di động được công bố với "
        "`indicative = true` (số liệu tham khảo), không có AQI.",
        "",
        "VN_AQI is published only for stations and days that qualify under Circular "
        "10/2021/TT-BTNMT Art. 29–31 (fixed automatic station, certified instruments, "
        "measuring PM2.5, O3 and one of NO2, SO2, CO). Concentrations of low-cost sensors "
        "and mobile units are published with `indicative = true`, never with an AQI.",
        "",
        "Số liệu `provisional` có thể thay đổi sau khi cán bộ kiểm tra; các tệp được tạo lại "
        "khi số liệu thay đổi / `provisional` values may change after an officer's review; "
        "the files are rewritten when data change.",
        "",
    ]
    return "\n".join(lines)


_STYLE = """
body{font-family:system-ui,sans-serif;max-width:60rem;margin:1rem auto;padding:0 1rem;
line-height:1.45;color:#1a1a1a}
table{border-collapse:collapse;margin:.5rem 0 1.5rem}td,th{border:1px solid #ccc;
padding:.25rem .5rem;text-align:left}code{background:#f3f3f3;padding:0 .2rem}
.en{color:#555}
"""


def index_html(province: str, publisher: str, timezone: str,
               entries: Mapping[str, FileEntry]) -> str:  # fmt: skip
    e = html.escape
    by_year: dict[int, dict[str | None, dict[str, FileEntry]]] = defaultdict(
        lambda: defaultdict(dict)
    )
    for entry in entries.values():
        by_year[entry.year][entry.station_id][f"{entry.dataset}.{entry.format}"] = entry
    parts = [
        "<!doctype html>",
        '<html lang="vi"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Dữ liệu mở chất lượng không khí tỉnh {e(province)}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>Dữ liệu mở chất lượng không khí tỉnh {e(province)}</h1>",
        f'<p class="en" lang="en">Open air-quality data of {e(province)} province</p>',
        f'<p>Nguồn: {e(publisher)}. Giấy phép <a href="{LICENCE_URL}">{LICENCE_NAME}</a> '
        f'(<a href="LICENSE">LICENSE</a>): được dùng tự do, kể cả thương mại, khi ghi nguồn '
        f"«{e(attribution(province, publisher))}».</p>",
        f'<p class="en" lang="en">Source: {e(publisher)}. Licence '
        f'<a href="{LICENCE_URL}">{LICENCE_NAME}</a>: free to use, commercially too, with '
        "the attribution above.</p>",
        "<p>Giá trị trung bình giờ của mọi thông số, VN_AQI giờ và ngày (Quyết định "
        "1459/QĐ-TCMT) của các trạm được phép công bố, theo năm và trạm và cho toàn tỉnh, "
        "dạng CSV và Parquet. Ô trống là không có số liệu. Giờ bắt đầu theo UTC và giờ "
        f'địa phương ({e(timezone)}). Mô tả các cột: <a href="README.md">README.md</a>; '
        'danh sách tệp kèm SHA-256: <a href="index.json">index.json</a>.</p>',
        '<p class="en" lang="en">Hourly means of every parameter, hourly and daily VN_AQI '
        "of the stations that may publish it, per year and station and for the whole "
        "province, as CSV and Parquet. Empty fields are missing data. Start times in UTC "
        'and local time. Columns: <a href="README.md">README.md</a>; files with SHA-256: '
        '<a href="index.json">index.json</a>.</p>',
    ]
    if not entries:
        parts.append('<p>Chưa có tệp nào. <span class="en" lang="en">No files yet.</span></p>')
    headers = "".join(f"<th>{e(d.name)}</th>" for d in DATASETS)
    for year in sorted(by_year, reverse=True):
        parts += [
            f"<h2>{year}</h2>",
            f"<table><tr><th>Trạm / Station</th>{headers}</tr>",
        ]
        stations = sorted(by_year[year], key=lambda s: (s is not None, s or ""))
        for station in stations:
            files = by_year[year][station]
            label = "Toàn tỉnh / Province" if station is None else station
            cells = []
            for dataset in DATASETS:
                links = [
                    f'<a href="{e(f.path)}">{f.format}</a> ({_size(f.bytes)})'
                    for fmt in ("csv", "parquet")
                    if (f := files.get(f"{dataset.name}.{fmt}")) is not None
                ]
                cells.append(f"<td>{' · '.join(links) or '—'}</td>")
            parts.append(f"<tr><td>{e(label)}</td>{''.join(cells)}</tr>")
        parts.append("</table>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _size(n: int) -> str:
    size = float(n)
    for unit in ("B", "kB", "MB"):
        if size < 1000:
            return f"{size:.0f} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"
