"""Decoders and validation without a broker: formats, tolerance, hostile input."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


def test_senml_relative_t_against_an_absolute_bt_and_station_from_base_name() -> None:
    bt = NOW.timestamp()
    pack = [{"bn": "urn:aqm:station:BN-01:", "bt": bt, "n": "pm25", "v": 5.0, "t": -60}]
    decoded = decode(json.dumps(pack).encode(), TZ, NOW, 10_000)
    assert decoded.source_format is SourceFormat.SENML
    assert decoded.readings[0].station_id == "BN-01"
    assert decoded.readings[0].ts == NOW - timedelta(seconds=60)


def test_senml_time_relative_to_reception_is_rejected_not_read_against_now() -> None:
    pack = [{"bn": "urn:aqm:station:BN-01:", "n": "pm25", "v": 5.0, "t": -60}]
    decoded = decode(json.dumps(pack).encode(), TZ, NOW, 10_000)
    assert decoded.readings == []
    assert [(r.code, r.index) for r in decoded.rejections] == [(Reason.RELATIVE_TIME, 0)]
    assert "RFC 8428" in decoded.rejections[0].message and "bt" in decoded.rejections[0].message


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


# --- A key given twice in any JSON object is a malformed record naming it ---


def _object_text(pairs: list[tuple[str, object]]) -> str:
    """A JSON object written pair by pair, so a key can appear twice."""
    return (
        "{"
        + ", ".join(
            f"{json.dumps(k)}: {v if isinstance(v, Raw) else json.dumps(v)}" for k, v in pairs
        )
        + "}"
    )


class Raw(str):
    """JSON text already written (a nested object), inserted as is."""


def _with_repeat(
    pairs: list[tuple[str, object]], key_at: int, insert_at: int, value: object
) -> list[tuple[str, object]]:
    key = pairs[key_at][0]
    out = list(pairs)
    out.insert(insert_at, (key, value))
    return out


AQM_OBJECTS: dict[str, tuple[list[tuple[str, object]], dict[str, object]]] = {
    # object → its pairs, and another value for each key (same type, a different value)
    "observation": (
        [("station", "BN-01"), ("ts", "2025-03-01T08:55:00+07:00"), ("values", None),
         ("units", None), ("status", "00")],
        {"station": "BN-01", "ts": "2025-03-01T08:50:00+07:00", "status": "01"},
    ),
    "values": ([("pm25", 10.0), ("no2", 20.0), ("co", 1.0)], {"pm25": 500.0, "no2": 21.0, "co": 2.0}),
    "units": ([("no2", "ppb"), ("co", "mg/m3")], {"no2": "ppm", "co": "ug/m3"}),
}  # fmt: skip


def _aqm_observation(which: str, key_at: int, insert_at: int, same_value: bool) -> tuple[str, str]:
    """An observation whose object ``which`` repeats one key; (JSON text, repeated key)."""
    objects = {name: list(pairs) for name, (pairs, _) in AQM_OBJECTS.items()}
    pairs, others = AQM_OBJECTS[which]
    key_at %= len(pairs)
    key = pairs[key_at][0]
    if key in ("values", "units"):  # repeat a nested object: the second one differs
        nested = objects[key]
        value: object = Raw(_object_text([(nested[0][0], AQM_OBJECTS[key][1][nested[0][0]])]))
    else:
        value = pairs[key_at][1] if same_value else others[key]
    objects[which] = _with_repeat(pairs, key_at, insert_at % (len(pairs) + 1), value)
    top = [
        (k, Raw(_object_text(objects[k])) if k in ("values", "units") else v)
        for k, v in objects["observation"]
    ]
    return _object_text(top), key


@settings(max_examples=300, deadline=None)
@given(
    which=st.sampled_from(sorted(AQM_OBJECTS)),
    key_at=st.integers(0, 10),
    insert_at=st.integers(0, 10),
    same_value=st.booleans(),
    position=st.integers(0, 2),
)
def test_aqm_json_key_given_twice_in_any_object_rejects_its_observation(
    which: str, key_at: int, insert_at: int, same_value: bool, position: int
) -> None:
    bad, key = _aqm_observation(which, key_at, insert_at, same_value)
    good = json.dumps(
        {"station": "BN-01", "ts": "2025-03-01T08:55:00+07:00", "values": {"pm10": 30}}
    )
    items = [good, good]
    items.insert(position, bad)
    got = verdict("[" + ", ".join(items) + "]")
    assert [(r.parameter, r.value) for r in got.readings] == [("pm10", 30.0), ("pm10", 30.0)]
    assert [r.code for r in got.rejections] == [Reason.MALFORMED_RECORD]
    message = got.rejections[0].message
    assert (
        message.startswith(f"observation {position}:") and f"key {key!r} is given twice" in message
    )


def test_repeated_value_and_units_keys_are_never_resolved() -> None:
    cases = [
        '{"station": "BN-01", "ts": "2025-03-01T08:55:00+07:00", "values": {"pm25": 10, "pm25": 500}}',
        '{"station": "BN-01", "ts": "2025-03-01T08:55:00+07:00", "values": {"no2": 10}, "units": {"no2": "ppm", "no2": "ppb"}}',
        '{"station": "BN-01", "ts": "2025-03-01T08:55:00+07:00", "values": {"no2": 10}, "units": {"no2": "ppb", "no2": "ppm"}}',
        '{"station": "BN-02", "station": "BN-01", "ts": "2025-03-01T08:55:00+07:00", "values": {"pm25": 1}}',
        '{"station": "BN-01", "ts": "2025-03-01T08:55:00+07:00", "ts": "2025-03-01T08:50:00+07:00", "values": {"pm25": 1}}',
        '{"station": "BN-01", "ts": "2025-03-01T08:55:00+07:00", "values": {"pm25": 1, "pm\\u0032\\u0035": 2}}',
    ]
    for text in cases:
        got = verdict(text)
        assert got.readings == [], text
        assert [r.code for r in got.rejections] == [Reason.MALFORMED_RECORD], text
        assert "is given twice" in got.rejections[0].message


SENML_RECORDS: list[list[tuple[str, object]]] = [
    [("bn", "urn:aqm:station:BN-01:"), ("bt", T0), ("bu", "ug/m3"), ("bv", 0.0), ("n", "pm25"), ("v", 1.0)],
    [("n", "pm10"), ("v", 2.0), ("t", 60)],
    [("n", "no2"), ("u", "ug/m3"), ("v", 3.0), ("t", 120)],
]  # fmt: skip
SENML_OTHER = {"bn": "urn:aqm:station:BN-02:", "bt": T0 - 3600, "bu": "ppb", "bv": 5.0,
               "n": "so2", "v": 9.0, "t": 30, "u": "ppb"}  # fmt: skip
BASE_WORD = {"bn": "name", "bt": "time", "bu": "unit", "bv": "value"}


@settings(max_examples=300, deadline=None)
@given(
    record=st.integers(0, 2),
    key_at=st.integers(0, 10),
    insert_at=st.integers(0, 10),
    same_value=st.booleans(),
)
def test_senml_key_given_twice_in_any_record_rejects_it_and_its_dependents(
    record: int, key_at: int, insert_at: int, same_value: bool
) -> None:
    pairs = SENML_RECORDS[record]
    key_at %= len(pairs)
    key, value = pairs[key_at]
    repeated = _with_repeat(
        pairs, key_at, insert_at % (len(pairs) + 1), value if same_value else SENML_OTHER[key]
    )
    texts = [_object_text(p) for p in SENML_RECORDS]
    texts[record] = _object_text(repeated)
    got = verdict("[" + ", ".join(texts) + "]")
    by_index = {r.index: r for r in got.rejections}
    assert by_index[record].code is Reason.MALFORMED_RECORD
    assert f"key {key!r} is given twice" in by_index[record].message
    # A record relying on a base given twice is rejected too: its base is unknown.
    dependents = set()
    if key in BASE_WORD:
        dependents = {i for i in range(record + 1, 3) if not (key == "bu" and i == 2)}
    for i in dependents:
        assert f"the base {BASE_WORD[key]} of record {record} was invalid" in by_index[i].message
    assert set(by_index) == {record} | dependents
    # Everything else is read exactly as written in the pack, never with the other value.
    expected = {0: ("pm25", 1.0, T0), 1: ("pm10", 2.0, T0 + 60), 2: ("no2", 3.0, T0 + 120)}
    assert sorted((r.index, r.parameter, r.value, r.ts.timestamp()) for r in got.readings) == [
        (i, *expected[i]) for i in range(3) if i not in by_index
    ]


# --- UTC offsets: only what ISO 8601 and PostgreSQL allow ---


def _offset_text(minutes: int, colon: bool) -> str:
    sign = "-" if minutes < 0 else "+"
    hh, mm = divmod(abs(minutes), 60)
    return f"{sign}{hh:02d}{':' if colon else ''}{mm:02d}"


@settings(max_examples=500, deadline=None)
@given(minutes=st.integers(-(23 * 60 + 59), 23 * 60 + 59), colon=st.booleans())
def test_aqm_json_offsets_over_the_whole_range(minutes: int, colon: bool) -> None:
    # Written so that the instant is NOW whatever the offset: only the offset decides.
    local = (NOW + timedelta(minutes=minutes)).replace(tzinfo=None)
    ts = local.strftime("%Y-%m-%dT%H:%M:%S") + _offset_text(minutes, colon)
    got = verdict(json.dumps({"station": "BN-01", "ts": ts, "values": {"pm25": 12.5}}))
    if abs(minutes) <= 15 * 60 + 59:
        assert got.rejections == [], ts
        assert [(r.ts, r.ts.utcoffset()) for r in got.readings] == [
            (NOW, timedelta(minutes=minutes))
        ]
    else:
        assert got.readings == [], ts
        assert [r.code for r in got.rejections] == [Reason.BAD_TIMESTAMP], ts
        assert "outside ±15:59" in got.rejections[0].message


_STRICT_OFFSET = re.compile(r"(?P<sign>[+-])(?P<hh>[0-9]{2}):?(?P<mm>[0-9]{2})")


@settings(max_examples=500, deadline=None)
@given(
    offset=st.from_regex(
        r"\A([+-]?[0-9]{0,3}:?[0-9]{0,3}(:[0-9]{1,2})?|[Zz]|UTC|GMT\+7| \+07:00)\Z"
    )
)
def test_aqm_json_malformed_offsets_are_rejected_never_misread(offset: str) -> None:
    ts = "2025-03-01T08:55:00" + offset
    got = verdict(json.dumps({"station": "BN-01", "ts": ts, "values": {"pm25": 12.5}}))
    match = _STRICT_OFFSET.fullmatch(offset)
    if offset in ("Z", "z"):
        minutes: int | None = 0
    elif match and int(match["hh"]) <= 15 and int(match["mm"]) <= 59:
        minutes = (int(match["hh"]) * 60 + int(match["mm"])) * (-1 if match["sign"] == "-" else 1)
    else:
        minutes = None
    if minutes is None:
        assert got.readings == [], ts
        assert [r.code for r in got.rejections] in (
            [Reason.MALFORMED_RECORD],
            [Reason.BAD_TIMESTAMP],
        ), ts
        return
    instant = datetime(2025, 3, 1, 8, 55, tzinfo=UTC) - timedelta(minutes=minutes)
    if abs(instant - NOW) <= POLICY.future_tolerance or instant < NOW:
        assert [r.ts for r in got.readings] == [instant], ts
    else:
        assert [r.code for r in got.rejections] == [Reason.TS_IN_FUTURE], ts


@pytest.mark.parametrize("ts", [1740790800, "1740790800", 1740790800000, "2025-03-01", True])
def test_aqm_json_ts_must_be_date_and_time_text_never_a_guessed_epoch(ts: object) -> None:
    got = verdict(json.dumps({"station": "BN-01", "ts": ts, "values": {"pm25": 1}}))
    assert got.readings == []
    assert [r.code for r in got.rejections] == [Reason.MALFORMED_RECORD]
    assert "ts: " in got.rejections[0].message and "ISO 8601" in got.rejections[0].message


@pytest.mark.parametrize(
    ("ts", "why"),
    [
        ("9999-12-31T23:59:59-15:59", "outside years 1–9999"),
        ("0001-01-01T00:00:00+15:00", "outside years 1–9999"),
        ("2025-03-01T08:55:00+16:00", "outside ±15:59"),
        ("2025-03-01T08:55:00-23:59", "outside ±15:59"),
    ],
)
def test_aqm_json_times_that_cannot_be_written_in_utc_are_bad_timestamps(ts: str, why: str) -> None:
    got = verdict(json.dumps({"station": "BN-01", "ts": ts, "values": {"pm25": 1}}))
    assert got.readings == []
    assert [r.code for r in got.rejections] == [Reason.BAD_TIMESTAMP]
    assert why in got.rejections[0].message


@settings(max_examples=300, deadline=None)
@given(minutes=st.integers(-(23 * 60 + 59), 23 * 60 + 59), seconds=st.sampled_from([0, 0, 30]))
def test_every_decoder_refuses_a_zone_beyond_the_offset_limit(minutes: int, seconds: int) -> None:
    # Circular 10 text takes the station's zone; whatever zone reaches the decoder, a time
    # PostgreSQL would refuse never leaves it as a reading.
    zone = timezone(timedelta(minutes=minutes, seconds=seconds if minutes >= 0 else -seconds))
    stamp = (NOW.astimezone(zone)).strftime("%Y%m%d%H%M%S")
    decoded = decode(f"PM10\t40\tug/m3\t{stamp}\t00\r\n".encode(), zone, NOW, 10_000)
    if abs(minutes) <= 15 * 60 + 59 and not seconds:
        assert [r.ts for r in decoded.readings] == [NOW]
    else:
        assert decoded.readings == []
        assert [r.code for r in decoded.rejections] == [Reason.BAD_TIMESTAMP]


# --- SenML times never depend on when the message arrived ---

senml_times = st.one_of(
    st.none(),
    st.integers(-(2**29), 2**29),
    st.floats(-1e9, 1e9, allow_nan=False),
    st.integers(T0 - 86_400, T0 + 60),
)


@settings(max_examples=500, deadline=None)
@given(
    bt=senml_times,
    ts=st.lists(senml_times, min_size=1, max_size=4),
    later=st.integers(1, 10 * 86_400),
)
def test_senml_decoded_at_two_receive_times_gives_identical_readings(
    bt: float | None, ts: list[float | None], later: int
) -> None:
    records: list[dict[str, object]] = []
    for i, t in enumerate(ts):
        record: dict[str, object] = {"n": "pm25", "v": float(i)}
        if t is not None:
            record["t"] = t
        records.append(record)
    records[0] = {
        "bn": "urn:aqm:station:BN-01:",
        **({"bt": bt} if bt is not None else {}),
        **records[0],
    }
    payload = json.dumps(records).encode()
    first = decode(payload, TZ, NOW, 100_000)
    again = decode(payload, TZ, NOW + timedelta(seconds=later), 100_000)
    assert first == again
    for i, t in enumerate(ts):
        resolved = (bt or 0) + (t or 0)
        if resolved < 2**28:
            assert Reason.RELATIVE_TIME in [r.code for r in first.rejections if r.index == i]
        else:
            # microsecond resolution, as datetime and timestamptz keep
            got = [r.ts.timestamp() for r in first.readings if r.index == i]
            assert got == [] or got == [pytest.approx(resolved, abs=1e-6)]


# --- Circular 10 text in the station's own zone ---


def test_tt10_is_read_in_the_zone_it_is_given() -> None:
    text = b"PM10\t40\tug/m3\t20250301015500\t00\r\n"
    in_utc = decode(text, ZoneInfo("UTC"), NOW, 10_000)
    in_ict = decode(text, TZ, NOW, 10_000)
    assert [r.ts for r in in_utc.readings] == [datetime(2025, 3, 1, 1, 55, tzinfo=UTC)]
    assert [r.ts for r in in_ict.readings] == [datetime(2025, 2, 28, 18, 55, tzinfo=UTC)]


def test_tt10_without_a_known_zone_is_rejected_not_guessed() -> None:
    decoded = decode(b"PM10\t40\tug/m3\t20250301015500\t00\r\n", None, NOW, 10_000)
    assert decoded.readings == []
    assert [r.code for r in decoded.rejections] == [Reason.BAD_TIMESTAMP]
    assert "time zone is unknown" in decoded.rejections[0].message


@pytest.mark.parametrize("stamp", ["20250330023000", "20251026023000"])
def test_tt10_local_time_skipped_or_repeated_by_a_clock_change_is_rejected(stamp: str) -> None:
    decoded = decode(
        f"PM10\t40\tug/m3\t{stamp}\t00".encode(), ZoneInfo("Europe/Berlin"), NOW, 10_000
    )
    assert decoded.readings == []
    assert [r.code for r in decoded.rejections] == [Reason.BAD_TIMESTAMP]
    assert "clock change" in decoded.rejections[0].message
