"""Decoders and validation without a broker: formats, tolerance, hostile input."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings

from ingest.decode import MAX_JSON_DEPTH, decode
from ingest.decode.aqm_json import json_schema
from ingest.model import Reason, SourceFormat
from ingest.validate import StationInfo, ValidationPolicy, judge
from tests.payload_strategies import garbage_payloads

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2025, 3, 1, 2, 0, tzinfo=UTC)
REGISTRY = {"BN-01": StationInfo(active=True), "BN-09": StationInfo(active=False)}
POLICY = ValidationPolicy()


def run(payload: bytes, station: str | None = "BN-01") -> tuple[list[object], list[object]]:
    decoded = decode(payload, TZ, NOW, 1_000_000)
    verdict = judge(decoded, station, REGISTRY, POLICY, NOW)
    return list(verdict.readings), list(verdict.rejections)


def test_tt10_whitespace_extra_columns_and_old_layout() -> None:
    text = (
        "20250301085500 PM2.5 40,5 ug/m3\n"  # old layout, decimal comma, no status
        "PM10   80   ug/m3   20250301085500   00   extra  columns\n"
    )
    readings, rejections = run(text.encode())
    assert rejections == []
    assert {(r.parameter, r.value) for r in readings} == {("pm25", 40.5), ("pm10", 80.0)}  # type: ignore[attr-defined]
    assert all(r.ts == datetime(2025, 3, 1, 1, 55, tzinfo=UTC) for r in readings)  # type: ignore[attr-defined]


def test_tt10_bad_line_is_rejected_with_its_line_number() -> None:
    text = b"PM10\t80\tug/m3\t20250301085500\t00\r\nPM10\tabc\tug/m3\t20250301085600\t00\r\n"
    readings, rejections = run(text)
    assert len(readings) == 1
    assert len(rejections) == 1 and "line 2" in rejections[0].message  # type: ignore[attr-defined]


def test_units_are_normalised_by_hand_calculation() -> None:
    body = {
        "station": "BN-01",
        "ts": "2025-03-01T08:00:00+07:00",
        "values": {"so2": 10.0, "co": 2.0, "o3": 0.05},
        "units": {"so2": "ppb", "co": "ppm", "o3": "ppm"},
    }
    readings, rejections = run(json.dumps(body).encode())
    assert rejections == []
    got = {r.parameter: r.value for r in readings}  # type: ignore[attr-defined]
    assert got["so2"] == pytest.approx(10.0 * 64.066 / 24.45, rel=1e-4)
    assert got["co"] == pytest.approx(2.0 * 1000 * 28.010 / 24.45, rel=1e-4)
    assert got["o3"] == pytest.approx(0.05 * 1000 * 48.00 / 24.45, rel=1e-3)


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (b"", Reason.EMPTY_PAYLOAD),
        (b"\xc3\x28", Reason.INVALID_UTF8),
        (b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1), Reason.MALFORMED_JSON),
        (b"[" * 100000, Reason.MALFORMED_JSON),
        (
            b'{"station": "BN-01", "ts": "2025-03-01T08:00:00+07:00", "values": {"pm25": NaN}}',
            Reason.NOT_FINITE,
        ),
        (
            b'{"station": "BN-01", "ts": "2025-03-01T08:00:00+07:00", "values": {"pm25": Infinity}}',
            Reason.NOT_FINITE,
        ),
        (
            b'{"station": "BN-01", "ts": "9999-12-31T23:59:59+00:00", "values": {"pm25": 1}}',
            Reason.TS_IN_FUTURE,
        ),
        (
            b'{"station": "BN-01", "ts": "1970-01-01T00:00:00+00:00", "values": {"pm25": 1}}',
            Reason.TS_TOO_OLD,
        ),
        (
            b'{"station": "BN-01", "ts": "2025-03-01T08:00:00", "values": {"pm25": 1}}',
            Reason.MALFORMED_RECORD,
        ),
        (
            b'{"station": "BN-01", "ts": "2025-03-01T08:00:00+07:00", "values": {"pm25": 1e300}}',
            Reason.OUT_OF_RANGE,
        ),
        (
            b'{"station": "BN-01", "ts": "2025-03-01T08:00:00+07:00", "values": {"pm25; DROP TABLE readings": 1}}',
            Reason.UNKNOWN_PARAMETER,
        ),
        (
            b'[{"bn": "urn:aqm:station:BN-01:", "bt": 1e30, "n": "pm25", "v": 1}]',
            Reason.BAD_TIMESTAMP,
        ),
        (b"hello world", Reason.UNKNOWN_FORMAT),
        (
            b'{"station": "BN-01", "ts": "2025-03-01T08:00:00+07:00", "values": {"pm25": 1}, "status": "7"}',
            Reason.MALFORMED_RECORD,
        ),
    ],
)
def test_hostile_payloads_are_rejected_with_a_reason(payload: bytes, code: Reason) -> None:
    readings, rejections = run(payload)
    assert readings == []
    assert [r.code for r in rejections] == [code]  # type: ignore[attr-defined]


def test_oversized_payload_is_rejected_before_parsing() -> None:
    decoded = decode(b"x" * 2000, TZ, NOW, 1000)
    assert decoded.rejections[0].code is Reason.PAYLOAD_TOO_LARGE


def test_senml_relative_time_and_station_from_base_name() -> None:
    pack = [{"bn": "urn:aqm:station:BN-01:", "n": "pm25", "v": 5.0, "t": -60}]
    decoded = decode(json.dumps(pack).encode(), TZ, NOW, 10_000)
    assert decoded.source_format is SourceFormat.SENML
    assert decoded.readings[0].station_id == "BN-01"
    assert decoded.readings[0].ts == NOW - timedelta(seconds=60)


def test_local_offset_in_json_is_respected() -> None:
    body = {"station": "BN-01", "ts": "2025-03-01T08:05:00+07:00", "values": {"pm25": 1.0}}
    readings, _ = run(json.dumps(body).encode())
    assert readings[0].ts == datetime(2025, 3, 1, 8, 5, tzinfo=timezone(timedelta(hours=7)))  # type: ignore[attr-defined]


@settings(max_examples=3000, deadline=None)
@given(garbage_payloads)
def test_any_payload_ends_stored_or_rejected_never_raises(payload: bytes) -> None:
    decoded = decode(payload, TZ, NOW, 100_000)
    verdict = judge(decoded, "BN-01", REGISTRY, POLICY, NOW)
    assert all(r.code in Reason for r in verdict.rejections)
    # every decoded item is accounted for exactly once
    assert len(verdict.readings) + len(verdict.rejections) == len(decoded.readings) + len(
        decoded.rejections
    )


def test_published_json_schema_is_current() -> None:
    path = Path(__file__).resolve().parents[2] / "docs" / "aqm-json.schema.json"
    assert json.loads(path.read_text()) == json_schema(), (
        "regenerate: .venv/bin/python -m ingest.decode.aqm_json > docs/aqm-json.schema.json"
    )
