"""The values that travel between the ingest stages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class SourceFormat(StrEnum):
    AQM_JSON = "aqm_json"
    TT10_TEXT = "tt10_text"
    SENML = "senml"


class Reason(StrEnum):
    """Stable codes for everything ingest rejects (stored in rejected_messages.reason_code)."""

    PAYLOAD_TOO_LARGE = "payload_too_large"
    EMPTY_PAYLOAD = "empty_payload"
    INVALID_UTF8 = "invalid_utf8"
    UNKNOWN_FORMAT = "unknown_format"
    MALFORMED_JSON = "malformed_json"
    MALFORMED_LINE = "malformed_line"
    MALFORMED_RECORD = "malformed_record"
    BAD_TOPIC = "bad_topic"
    STATION_MISMATCH = "station_mismatch"
    UNKNOWN_STATION = "unknown_station"
    INACTIVE_STATION = "inactive_station"
    UNKNOWN_PARAMETER = "unknown_parameter"
    UNKNOWN_UNIT = "unknown_unit"
    NOT_FINITE = "not_finite"
    OUT_OF_RANGE = "out_of_range"
    BAD_TIMESTAMP = "bad_timestamp"
    RELATIVE_TIME = "relative_time"
    """A SenML time relative to the time of reception (RFC 8428 §4.5.3): a redelivered
    message would map it to another instant, so it is not stored."""
    TS_IN_FUTURE = "ts_in_future"
    TS_TOO_OLD = "ts_too_old"
    BAD_STATUS = "bad_status"
    NO_READINGS = "no_readings"
    DECODER_ERROR = "decoder_error"
    STORE_FAILED = "store_failed"
    CONFLICTING_VALUE = "conflicting_value"
    """A reading of a station, parameter and time already stored (or twice in one batch)
    with another value or status: the first stays stored, this one is kept as a reject."""
    MORE_REJECTS = "more_rejects"
    """Not an item: the one row that counts, by reason, the rejects of a message beyond
    the rows one message may add (its payload is kept whole)."""


@dataclass(frozen=True, slots=True)
class RawReading:
    """One value as a payload stated it, before names and units are normalised."""

    station_id: str | None  # None: the payload does not name a station (the topic does)
    parameter: str
    value: float
    unit: str | None  # None: the parameter's default unit
    ts: datetime  # timezone-aware
    status: str
    index: int  # position within the message, for rejects


@dataclass(frozen=True, slots=True)
class Rejection:
    code: Reason
    message: str
    index: int = -1  # -1: the whole message


@dataclass(frozen=True, slots=True)
class Decoded:
    """What a decoder made of one payload: readings to validate and immediate rejects."""

    source_format: SourceFormat | None
    readings: list[RawReading]
    rejections: list[Rejection]


@dataclass(frozen=True, slots=True)
class Reading:
    """A validated reading, ready to store: value in the parameter's normalised unit."""

    station_id: str
    parameter: str
    ts: datetime
    value: float
    original_value: float
    original_unit: str
    status: str
    source_format: SourceFormat
    index: int = -1  # position within the message, for a reject found when storing
