"""Circular 10/2021/TT-BTNMT datalogger text: one line per parameter.

``Name<TAB>Value<TAB>Unit<TAB>YYYYMMDDhhmmss<TAB>Status``, CRLF. The time carries no
zone: it is read in the station's zone (its catalogue ``timezone``, by default
``AQM_TIMEZONE``, UTC+7), and a local time that the zone skips or repeats (a daylight
saving change) is rejected rather than guessed.
Tolerant of what loggers do (whitespace instead of tabs, header lines, extra columns,
a missing status, the older ``timestamp name value unit`` order); strict about what
is stored: a line that cannot be read is rejected with its line number.

A header line is text without a value, skipped only before the first data line. A line
that looks like data — four or more fields with a number second, or a first field of
eight or more digits (the older order) — is data even without a valid timestamp, and is
rejected rather than skipped.
"""

from __future__ import annotations

import re
from datetime import datetime, tzinfo

from ingest.model import Decoded, RawReading, Reason, Rejection, SourceFormat

_TIMESTAMP = re.compile(r"^\d{14}$")
_STATUS = re.compile(r"^\d{2}$")
_DIGITS = re.compile(r"^\d+$")
_OLD_ORDER_TIME = re.compile(r"^\d{8,}$")
MAX_LINES = 10_000


def _fields(line: str) -> list[str]:
    return [f.strip() for f in line.split("\t")] if "\t" in line else line.split()


def _parse_time(text: str, local_tz: tzinfo | None) -> datetime | str:
    """The instant ``text`` names in ``local_tz``, or why it names none."""
    try:
        naive = datetime.strptime(text, "%Y%m%d%H%M%S")
    except ValueError:
        return f"no such time {text!r}"
    if local_tz is None:
        return f"time {text} has no zone and the station's time zone is unknown to ingest"
    ts = naive.replace(tzinfo=local_tz)
    if ts.utcoffset() != ts.replace(fold=1).utcoffset():
        return f"local time {text} is skipped or repeated by a clock change in {local_tz}"
    return ts


def _parse_value(text: str) -> float | None:
    try:
        return float(text.replace(",", "."))
    except ValueError:
        return None


def _looks_like_data(fields: list[str]) -> bool:
    """True for a line shaped like a reading, whatever its timestamp: not a header."""
    return bool(_OLD_ORDER_TIME.match(fields[0])) or (
        len(fields) >= 4 and _parse_value(fields[1]) is not None
    )


def _unreadable(fields: list[str], number: int, index: int) -> Rejection:
    """The rejection of a data line without a 14-digit timestamp where one belongs."""
    if _OLD_ORDER_TIME.match(fields[0]):
        stamp: str | None = fields[0]
    else:
        stamp = fields[3] if len(fields) >= 4 and _DIGITS.match(fields[3]) else None
    if stamp is not None:
        return Rejection(
            Reason.BAD_TIMESTAMP,
            f"line {number}: time {stamp[:32]!r} is not YYYYMMDDhhmmss",
            index,
        )
    return Rejection(
        Reason.MALFORMED_LINE,
        f"line {number}: expected 'Name Value Unit YYYYMMDDhhmmss Status'",
        index,
    )


def decode(text: str, local_tz: tzinfo | None) -> Decoded:
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
        if ts_at is None and not seen_data and not _looks_like_data(fields):
            continue  # a header line before the data
        seen_data = True
        if ts_at is None:
            rejections.append(_unreadable(fields, number, index))
            index += 1
            continue
        if not (ts_at == 3 or (ts_at == 0 and len(fields) >= 4)):
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
        if isinstance(ts, str):
            rejections.append(Rejection(Reason.BAD_TIMESTAMP, f"line {number}: {ts}", index))
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
