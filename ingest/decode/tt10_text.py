"""Circular 10/2021/TT-BTNMT datalogger text: one line per parameter.

``Name<TAB>Value<TAB>Unit<TAB>YYYYMMDDhhmmss<TAB>Status`` in local time (UTC+7), CRLF.
Tolerant of what loggers do (whitespace instead of tabs, header lines, extra columns,
a missing status, the older ``timestamp name value unit`` order); strict about what
is stored: a line that cannot be read is rejected with its line number.
"""

from __future__ import annotations

import re
from datetime import datetime, tzinfo

from ingest.model import Decoded, RawReading, Reason, Rejection, SourceFormat

_TIMESTAMP = re.compile(r"^\d{14}$")
_STATUS = re.compile(r"^\d{2}$")
MAX_LINES = 10_000


def _fields(line: str) -> list[str]:
    return [f.strip() for f in line.split("\t")] if "\t" in line else line.split()


def _parse_time(text: str, local_tz: tzinfo) -> datetime | None:
    try:
        return datetime.strptime(text, "%Y%m%d%H%M%S").replace(tzinfo=local_tz)
    except ValueError:
        return None


def _parse_value(text: str) -> float | None:
    try:
        return float(text.replace(",", "."))
    except ValueError:
        return None


def decode(text: str, local_tz: tzinfo) -> Decoded:
    readings: list[RawReading] = []
    rejections: list[Rejection] = []
    lines = text.splitlines()
    if len(lines) > MAX_LINES:
        return Decoded(
            None, [], [Rejection(Reason.MALFORMED_LINE, f"{len(lines)} lines (max {MAX_LINES})")]
        )
    seen_data = False
    index = 0
    for number, line in enumerate(lines, start=1):
        fields = [f for f in _fields(line) if f != ""]
        if not fields:
            continue
        ts_at = next((i for i, f in enumerate(fields) if _TIMESTAMP.match(f)), None)
        if ts_at is None and not seen_data:
            continue  # a header line before the data
        seen_data = True
        layout_ok = ts_at == 3 or (ts_at == 0 and len(fields) >= 4)
        if ts_at is None or not layout_ok:
            rejections.append(
                Rejection(
                    Reason.MALFORMED_LINE,
                    f"line {number}: expected 'Name Value Unit YYYYMMDDhhmmss Status'",
                    index,
                )
            )
            index += 1
            continue
        if ts_at == 3:
            name, value_text, unit, ts_text = fields[:4]
            status = fields[4] if len(fields) > 4 else "00"
        else:
            ts_text, name, value_text, unit = fields[:4]
            status = fields[4] if len(fields) > 4 and _STATUS.match(fields[4]) else "00"
        ts = _parse_time(ts_text, local_tz)
        value = _parse_value(value_text)
        if ts is None:
            rejections.append(
                Rejection(Reason.BAD_TIMESTAMP, f"line {number}: no such time {ts_text!r}", index)
            )
        elif value is None:
            rejections.append(
                Rejection(
                    Reason.MALFORMED_LINE,
                    f"line {number}: value {value_text!r} is not a number",
                    index,
                )
            )
        elif not _STATUS.match(status):
            rejections.append(
                Rejection(
                    Reason.BAD_STATUS, f"line {number}: status {status!r} is not two digits", index
                )
            )
        else:
            readings.append(RawReading(None, name, value, unit, ts, status, index))
        index += 1
    if not readings and not rejections:
        return Decoded(
            None,
            [],
            [
                Rejection(
                    Reason.UNKNOWN_FORMAT,
                    "no data line found (not aqm JSON, SenML or Circular 10/2021 text)",
                )
            ],
        )
    return Decoded(SourceFormat.TT10_TEXT, readings, rejections)
