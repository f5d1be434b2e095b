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
from ingest.validate import Judgement, StationInfo, ValidationPolicy, judge
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


# --- Fixes: units keyed differently, strict values, SenML bases, data lines as headers ---

T0 = 1740790800  # 2025-03-01T01:00:00Z, an hour before NOW


def verdict(payload: bytes | str, station: str | None = "BN-01") -> Judgement:
    data = payload.encode() if isinstance(payload, str) else payload
    return judge(decode(data, TZ, NOW, 1_000_000), station, REGISTRY, POLICY, NOW)


def observation(values: object, units: object | None = None) -> str:
    body: dict[str, object] = {"station": "BN-01", "ts": "2025-03-01T08:05:00+07:00"}
    body["values"] = values
    if units is not None:
        body["units"] = units
    return json.dumps(body)


def test_units_key_spelled_differently_from_its_value_key_still_applies() -> None:
    # NO2 20 ppb = 20 × 46.0055 / 24.45 = 37.632 µg/m³; PM2.5 0.05 mg/m3 = 50 µg/m³
    got = verdict(observation({"NO2": 20, "pm25": 0.05}, {"no2": "ppb", "PM 2.5": "mg/m3"}))
    assert got.rejections == []
    by_name = {r.parameter: r for r in got.readings}
    assert by_name["no2"].value == pytest.approx(37.632, abs=1e-3)
    assert by_name["no2"].original_unit == "ppb"
    assert by_name["pm25"].value == pytest.approx(50.0)
    assert by_name["pm25"].original_unit == "mg/m3"


def test_units_key_matching_no_value_rejects_the_observation() -> None:
    good = json.loads(observation({"pm25": 10}))
    bad = json.loads(observation({"pm25": 10, "pm10": 20}, {"no2": "ppb"}))
    got = verdict(json.dumps([good, bad]))
    assert [(r.parameter, r.value) for r in got.readings] == [("pm25", 10.0)]
    assert [r.code for r in got.rejections] == [Reason.MALFORMED_RECORD]
    message = got.rejections[0].message
    assert "observation 1" in message and "'no2'" in message


def test_value_claimed_by_two_units_keys_with_different_units_is_rejected() -> None:
    got = verdict(observation({"NO2": 20, "pm10": 5}, {"NO2": "ppm", "no2": "ppb"}))
    assert [(r.parameter, r.value) for r in got.readings] == [("pm10", 5.0)]
    assert [r.code for r in got.rejections] == [Reason.MALFORMED_RECORD]
    assert "conflicting units" in got.rejections[0].message


@pytest.mark.parametrize("value", [True, False, "41.3", "abc", [1], {"v": 1}])
def test_value_that_is_not_a_json_number_is_rejected_naming_it(value: object) -> None:
    got = verdict(observation({"pm25": value}))
    assert got.readings == []
    assert [r.code for r in got.rejections] == [Reason.MALFORMED_RECORD]
    assert "values.pm25" in got.rejections[0].message


def test_integer_values_are_still_numbers() -> None:
    got = verdict(observation({"pm25": 41, "pm10": 77.5}))
    assert got.rejections == []
    assert sorted((r.parameter, r.value) for r in got.readings) == [
        ("pm10", 77.5),
        ("pm25", 41.0),
    ]


def senml(*records: dict[str, object]) -> str:
    return json.dumps([{"bn": "urn:aqm:station:BN-01:", **records[0]}, *records[1:]])


def test_senml_records_after_an_invalid_bt_are_rejected_until_a_valid_one() -> None:
    got = verdict(
        senml(
            {"bt": "x", "n": "pm25", "v": 1},
            {"n": "pm10", "v": 2},  # would otherwise be read at the receive time
            {"bt": T0, "n": "pm10", "v": 3},
            {"n": "pm25", "v": 4, "t": 60},
        )
    )
    assert [(r.index, r.code) for r in got.rejections] == [
        (0, Reason.BAD_TIMESTAMP),
        (1, Reason.BAD_TIMESTAMP),
    ]
    assert "base time of record 0 was invalid" in got.rejections[1].message
    assert [(r.parameter, r.value, r.ts) for r in got.readings] == [
        ("pm10", 3.0, datetime(2025, 3, 1, 1, 0, tzinfo=UTC)),
        ("pm25", 4.0, datetime(2025, 3, 1, 1, 1, tzinfo=UTC)),
    ]


def test_senml_records_after_an_invalid_bn_keep_no_wrong_station() -> None:
    # A BN-02 pack whose later bn is broken, published on BN-01's topic: without the
    # fix, record 2 lost its prefix and was stored as BN-01's (topic) reading.
    pack = [
        {"bn": "urn:aqm:station:BN-02:", "bt": T0, "n": "pm25", "v": 1},
        {"bn": 2, "n": "pm25", "v": 2},
        {"n": "pm10", "v": 3},
        {"bn": "urn:aqm:station:BN-01:", "n": "pm10", "v": 4},
    ]
    got = verdict(json.dumps(pack))
    rejections = sorted(got.rejections, key=lambda r: r.index)
    assert [(r.index, r.code) for r in rejections] == [
        (0, Reason.STATION_MISMATCH),
        (1, Reason.MALFORMED_RECORD),
        (2, Reason.MALFORMED_RECORD),
    ]
    assert "bn is not a string" in rejections[1].message
    assert "base name of record 1 was invalid" in rejections[2].message
    assert [(r.station_id, r.parameter, r.value) for r in got.readings] == [("BN-01", "pm10", 4.0)]


def test_senml_invalid_base_unit_or_unit_never_defaults_the_unit() -> None:
    got = verdict(
        senml(
            {"bt": T0, "bu": "ppb", "n": "no2", "v": 10},
            {"bu": 7, "n": "no2", "v": 20},
            {"n": "no2", "v": 30},  # relies on the broken bu
            {"n": "no2", "u": None, "v": 40},
            {"n": "pm25", "u": "ug/m3", "v": 50},  # its own unit: readable
        )
    )
    assert [(r.index, r.code) for r in got.rejections] == [
        (1, Reason.MALFORMED_RECORD),
        (2, Reason.MALFORMED_RECORD),
        (3, Reason.MALFORMED_RECORD),
    ]
    assert "base unit of record 1 was invalid" in got.rejections[1].message
    # no2 10 ppb = 10 × 46.0055 / 24.45 = 18.816 µg/m³
    assert [(r.parameter, round(r.value, 3)) for r in got.readings] == [
        ("no2", 18.816),
        ("pm25", 50.0),
    ]


def test_senml_base_value_is_added_and_an_invalid_one_rejects_its_dependents() -> None:
    got = verdict(
        senml(
            {"bt": T0, "bv": 10, "n": "pm25", "v": 1},
            {"n": "pm10", "v": 2.5},
            {"bv": "x", "n": "pm25", "v": 1},
            {"n": "pm10", "v": 1},
            {"bv": -5, "n": "pm10", "v": 7},
        )
    )
    assert [(r.parameter, r.value) for r in got.readings] == [
        ("pm25", 11.0),
        ("pm10", 12.5),
        ("pm10", 2.0),
    ]
    assert [(r.index, r.code) for r in got.rejections] == [
        (2, Reason.MALFORMED_RECORD),
        (3, Reason.MALFORMED_RECORD),
    ]
    assert "bv is not a finite number" in got.rejections[0].message
    assert "base value of record 2 was invalid" in got.rejections[1].message


@pytest.mark.parametrize(
    ("first_line", "code"),
    [
        ("PM-2-5\t35.2\tug/m3\t202503010805\t00", Reason.BAD_TIMESTAMP),  # 12 digits
        ("202503010805 PM10 40 ug/m3", Reason.BAD_TIMESTAMP),  # old order, 12 digits
        ("PM-2-5\t35.2\tug/m3\t2025-03-01 08:05\t00", Reason.MALFORMED_LINE),
    ],
)
def test_tt10_data_line_with_a_bad_time_before_the_first_good_one_is_rejected(
    first_line: str, code: Reason
) -> None:
    got = verdict(f"{first_line}\r\nPM10\t40\tug/m3\t20250301080500\t00\r\n")
    assert [(r.parameter, r.value) for r in got.readings] == [("pm10", 40.0)]
    assert [(r.index, r.code) for r in got.rejections] == [(0, code)]
    assert got.rejections[0].message.startswith("line 1:")


@pytest.mark.parametrize(
    "header", ["Name\tValue\tUnit\tTime\tStatus", "STT Thong so Gia tri Don vi Thoi gian"]
)
def test_tt10_real_header_lines_are_still_skipped(header: str) -> None:
    got = verdict(f"{header}\r\nPM10\t40\tug/m3\t20250301080500\t00\r\n")
    assert got.rejections == []
    assert [(r.parameter, r.value) for r in got.readings] == [("pm10", 40.0)]
