"""SenML JSON (RFC 8428): base name, time, unit and value resolved into absolute records.

aqm stations name their pack ``"bn": "urn:aqm:station:<ID>:"`` and each record by the
parameter (``"n": "pm25"``). A record's value is ``bv + v`` and its time ``bt + t``
(RFC 8428 §4.1), so a pack with an absolute ``bt`` may give each record a small relative
``t``. A resolved time below 2**28 is relative to the current time (RFC 8428 §4.5.3):
such a record is rejected (``relative_time``), because only the payload fixes the
instant of a redelivered or retained message, and a time read against the receive time
would be stored again at another instant on every redelivery.

A key given twice in a record is never resolved: the record is rejected naming the key,
and a base label given twice leaves its base unknown for the records relying on it.

Base fields (``bn``, ``bt``, ``bu``, ``bv``) apply to every later record until the next one
of the same label. An invalid base field rejects the record carrying it, and every later
record that depends on it until a valid one replaces it: such a record's name, time, unit
or value is unknown, so it is rejected rather than read without the base (a station lost,
a time taken as relative to the receive time, a unit defaulted, a value unshifted).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from ingest.decode.json_objects import RepeatedKeys, repeated_key
from ingest.model import Decoded, RawReading, Reason, Rejection, SourceFormat

_SENML_KEYS = {"bn", "bt", "bu", "bv", "bver", "n", "u", "v", "vs", "vb", "vd", "t", "s", "ut"}
# A record holding only these labels carries no value: it only sets the bases.
_BASE_ONLY_KEYS = {"bn", "bt", "bu", "bv", "bs", "bver"}
_NAME = re.compile(r"^urn:aqm:station:(?P<station>[^:]+):(?P<parameter>.+)$")
RELATIVE_TIME_LIMIT = 2**28
MAX_RECORDS = 10_000
T = TypeVar("T")


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


_BASE_WORDS = {"bn": "name", "bt": "time", "bu": "unit", "bv": "value"}


@dataclass
class _Base(Generic[T]):
    """One base field as the pack has set it so far."""

    label: str  # "bn", "bt", "bu" or "bv"
    code: Reason  # the reason for rejecting a record that relies on an invalid value
    value: T
    read: Callable[[Any], T | None]  # the field's value, or None when it is invalid
    invalid_at: int | None = None  # the record whose value was invalid, until replaced

    def update(self, record: dict[str, Any], index: int) -> str | None:
        """Apply ``record``'s field if it has one; why it is invalid, or None."""
        if self.label not in record:
            return None
        if isinstance(record, RepeatedKeys) and self.label in record.repeated_keys:
            self.invalid_at = index
            return f"{self.label} is given twice"
        value = self.read(record[self.label])
        if value is None:
            self.invalid_at = index
            kind = "string" if self.label in ("bn", "bu") else "finite number"
            return f"{self.label} is not a {kind}"
        self.value, self.invalid_at = value, None
        return None

    def broken(self) -> str | None:
        """Why a record relying on this base cannot be read, or None if it can."""
        if self.invalid_at is None:
            return None
        return f"the base {_BASE_WORDS[self.label]} of record {self.invalid_at} was invalid"


def _finite(value: Any) -> float | None:
    number = _number(value)
    return number if number is not None and math.isfinite(number) else None


def _string(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def decode(document: list[Any], *, repeats: bool = True) -> Decoded:
    """Resolve a SenML pack; ``repeats=False`` says no object in it repeats a key."""
    if len(document) > MAX_RECORDS:
        return Decoded(
            None,
            [],
            [Rejection(Reason.MALFORMED_RECORD, f"{len(document)} records (max {MAX_RECORDS})")],
        )
    readings: list[RawReading] = []
    rejections: list[Rejection] = []
    base_name = _Base("bn", Reason.MALFORMED_RECORD, "", _string)
    base_time = _Base("bt", Reason.BAD_TIMESTAMP, 0.0, _finite)
    base_unit: _Base[str | None] = _Base("bu", Reason.MALFORMED_RECORD, None, _string)
    base_value = _Base("bv", Reason.MALFORMED_RECORD, 0.0, _finite)
    bases: list[_Base[Any]] = [base_name, base_time, base_unit, base_value]

    def reject(code: Reason, message: str, index: int) -> None:
        rejections.append(Rejection(code, f"record {index}: {message}", index))

    for index, record in enumerate(document):
        if not isinstance(record, dict):
            reject(Reason.MALFORMED_RECORD, "not an object", index)
            continue
        # Every base field is applied before the record is judged, so that one bad field
        # does not leave another of the same record unapplied for the records after it.
        invalid = [(b.code, why) for b in bases if (why := b.update(record, index)) is not None]
        repeated = repeated_key(record) if repeats else None
        if repeated is not None:
            reject(Reason.MALFORMED_RECORD, repeated, index)
            continue
        if invalid:
            reject(invalid[0][0], "; ".join(why for _, why in invalid), index)
            continue
        if set(record) <= _BASE_ONLY_KEYS:
            continue  # a base-only record
        name = record.get("n", "")
        if not isinstance(name, str):
            reject(Reason.MALFORMED_RECORD, "n is not a string", index)
            continue
        if "u" in record and not isinstance(record["u"], str):
            reject(Reason.MALFORMED_RECORD, "u is not a string", index)
            continue
        value = _number(record.get("v"))
        if value is None:
            reject(Reason.MALFORMED_RECORD, "no numeric v", index)
            continue
        # The bases this record relies on: all of them, except the unit when it has its own.
        relied = [b for b in bases if b is not base_unit or "u" not in record]
        broken = next(((b.code, why) for b in relied if (why := b.broken()) is not None), None)
        if broken is not None:
            reject(*broken, index)
            continue
        if not math.isfinite(value):
            reject(Reason.NOT_FINITE, f"v is {value}", index)
            continue
        value += base_value.value
        if not math.isfinite(value):
            reject(Reason.NOT_FINITE, f"bv + v is {value}", index)
            continue
        t = _finite(record.get("t", 0.0))
        if t is None:
            reject(Reason.BAD_TIMESTAMP, "t is not a number", index)
            continue
        seconds = base_time.value + t
        if seconds < RELATIVE_TIME_LIMIT:
            reject(
                Reason.RELATIVE_TIME,
                f"time {seconds:g} is relative to the time of reception (below 2**28,"
                " RFC 8428 §4.5.3), which a redelivered message would change;"
                " give the pack an absolute bt (seconds since 1970)",
                index,
            )
            continue
        try:
            ts = datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            reject(Reason.BAD_TIMESTAMP, f"time {seconds} out of range", index)
            continue
        full = base_name.value + name
        match = _NAME.match(full)
        station, parameter = (match["station"], match["parameter"]) if match else (None, full)
        unit: str | None = record.get("u", base_unit.value)
        readings.append(RawReading(station, parameter, value, unit, ts, "00", index))
    return Decoded(SourceFormat.SENML, readings, rejections)
