"""SenML JSON (RFC 8428): base name, time and unit resolved into absolute records.

aqm stations name their pack ``"bn": "urn:aqm:station:<ID>:"`` and each record by the
parameter (``"n": "pm25"``). Times below 2**28 are relative to now (RFC 8428 §4.5.3).
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from ingest.model import Decoded, RawReading, Reason, Rejection, SourceFormat

_SENML_KEYS = {"bn", "bt", "bu", "bv", "bver", "n", "u", "v", "vs", "vb", "vd", "t", "s", "ut"}
_NAME = re.compile(r"^urn:aqm:station:(?P<station>[^:]+):(?P<parameter>.+)$")
RELATIVE_TIME_LIMIT = 2**28
MAX_RECORDS = 10_000


def looks_like_senml(document: Any) -> bool:
    return (
        isinstance(document, list)
        and bool(document)
        and isinstance(document[0], dict)
        and "station" not in document[0]
        and bool(set(document[0]) & _SENML_KEYS)
    )


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return float(value)
    except OverflowError:  # a JSON integer beyond ±1.8e308
        return None


def decode(document: list[Any], now: datetime) -> Decoded:
    if len(document) > MAX_RECORDS:
        return Decoded(
            None,
            [],
            [Rejection(Reason.MALFORMED_RECORD, f"{len(document)} records (max {MAX_RECORDS})")],
        )
    readings: list[RawReading] = []
    rejections: list[Rejection] = []
    base_name, base_time, base_unit = "", 0.0, None
    for index, record in enumerate(document):
        if not isinstance(record, dict):
            rejections.append(
                Rejection(Reason.MALFORMED_RECORD, f"record {index} is not an object", index)
            )
            continue
        if "bn" in record:
            base_name = record["bn"] if isinstance(record["bn"], str) else ""
        if "bt" in record:
            bt = _number(record["bt"])
            if bt is None or not math.isfinite(bt):
                rejections.append(
                    Rejection(Reason.BAD_TIMESTAMP, f"record {index}: bt is not a number", index)
                )
                continue
            base_time = bt
        if "bu" in record:
            base_unit = record["bu"] if isinstance(record["bu"], str) else None
        if "n" not in record and "v" not in record:
            continue  # a base-only record
        name = record.get("n", "")
        if not isinstance(name, str):
            rejections.append(
                Rejection(Reason.MALFORMED_RECORD, f"record {index}: n is not a string", index)
            )
            continue
        value = _number(record.get("v"))
        if value is None:
            rejections.append(
                Rejection(Reason.MALFORMED_RECORD, f"record {index}: no numeric v", index)
            )
            continue
        if not math.isfinite(value):
            rejections.append(Rejection(Reason.NOT_FINITE, f"record {index}: v is {value}", index))
            continue
        t = _number(record.get("t", 0.0))
        if t is None or not math.isfinite(t):
            rejections.append(
                Rejection(Reason.BAD_TIMESTAMP, f"record {index}: t is not a number", index)
            )
            continue
        seconds = base_time + t
        try:
            ts = (
                now + timedelta(seconds=seconds)
                if abs(seconds) < RELATIVE_TIME_LIMIT
                else datetime.fromtimestamp(seconds, UTC)
            )
        except (OverflowError, OSError, ValueError):
            rejections.append(
                Rejection(
                    Reason.BAD_TIMESTAMP, f"record {index}: time {seconds} out of range", index
                )
            )
            continue
        full = base_name + name
        match = _NAME.match(full)
        station, parameter = (match["station"], match["parameter"]) if match else (None, full)
        unit = record.get("u", base_unit)
        readings.append(
            RawReading(
                station, parameter, value, unit if isinstance(unit, str) else None, ts, "00", index
            )
        )
    return Decoded(SourceFormat.SENML, readings, rejections)
