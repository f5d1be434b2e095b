"""Hostile bytes against every payload decoder: nothing escapes, everything is accounted for.

Two generators: a fast mutation loop (100,000 cases, seeded with valid payloads of all
three formats, mutated by byte flips, splices, truncations, duplications and hostile
tokens), and hypothesis (structured JSON documents and free text). Each case goes
through ``ingest.decode.decode`` and ``ingest.validate.judge`` exactly as the service
calls them; the checks are those the service relies on: no exception, every item either
a reading or a rejection with a reason (never both, never neither), and what is accepted
is a finite, plausible reading of the topic's station. Three more hold for every case:
the same payload decoded at another receive time gives the same result (a redelivered
or retained message maps to the same instants); every accepted time has an offset
PostgreSQL and ISO 8601 accept (hours and minutes, at most ±15:59); and a payload whose
JSON repeats a key in any object is never accepted whole (the object holding it is
rejected; found by the test's own strict parse, not the decoder's).
"""

from __future__ import annotations

import json
import math
import random
import re
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aqm_core.parameters import PARAMETERS
from ingest.decode import decode
from ingest.model import Reading, Reason
from ingest.validate import StationInfo, ValidationPolicy, judge
from tests.payload_strategies import json_documents

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2025, 3, 1, 1, 0, tzinfo=UTC)
MAX_BYTES = 65_536
STATION = "BN-01"
REGISTRY = {
    STATION: StationInfo(active=True),
    "BN-02": StationInfo(active=True),
    "BN-09": StationInfo(active=False),
}
POLICY = ValidationPolicy()
MUTATION_CASES = 100_000


def seeds() -> list[bytes]:
    ts = (NOW - timedelta(minutes=5)).astimezone(TZ)
    aqm = {
        "station": STATION,
        "ts": ts.isoformat(),
        "values": {"pm25": 41.3, "pm10": 77.0, "no2": 38.1, "co": 1.2},
        "units": {"no2": "ppb", "co": "mg/m3"},
        "status": "00",
    }
    senml = [
        {
            "bn": f"urn:aqm:station:{STATION}:",
            "bt": ts.timestamp(),
            "n": "pm25",
            "u": "ug/m3",
            "v": 41.3,
        },
        {"n": "pm10", "u": "ug/m3", "v": 77.0},
        {"n": "humidity", "u": "%RH", "v": 81.0, "t": 60},
    ]
    stamp = ts.strftime("%Y%m%d%H%M%S")
    tt10 = (
        f"PM-2-5\t35.2\tug/m3\t{stamp}\t00\r\nCO\t1.25\tmg/m3\t{stamp}\t00\r\n"
        f"NO2\t42,0\tug/Nm3\t{stamp}\t01\r\n{stamp} Temp 28.5 oC\r\n"
    )
    return [
        json.dumps(aqm).encode(),
        json.dumps([aqm, aqm | {"status": "02"}]).encode(),
        json.dumps(senml).encode(),
        tt10.encode(),
    ]


TOKENS = [
    b"NaN",
    b"Infinity",
    b"-Infinity",
    b"1e999",
    b"-1e999",
    b"null",
    b"true",
    b"[]",
    b"{}",
    b'"\\u0000"',
    b"\x00",
    b"\xff\xfe",
    b"\xc3\x28",
    b"\xed\xa0\x80",
    b'"99999999999999999999"',
    b"9" * 400,
    b"-0",
    b'"BN-02"',
    b'"9999-12-31T23:59:59+14:00"',
    b'"0001-01-01T00:00:00-12:00"',
    b"99999999999999",
    b"00000000000000",
    b'"\';DROP TABLE readings;--"',
    b"[" * 50,
    b'{"a":' * 20,
    b"\t",
    b"\r\n",
    b"\n\n",
    b'"units"',
    b'"values"',
    b'"bn"',
    b'"bt"',
    b"1e308",
    b"4.9e-324",
    b"2e9",
    b"-2e9",
    b"+23:59",
    b"-16:00",
    b"+15:59",
    b"-15:59",
    b"+07:00:30",
    b"+0700",
    b'"t": -60',
    b'"bt": 100',
]

# One "key": scalar pair, which the key-repeating mutation writes twice.
_PAIR = re.compile(rb'"[^"\\]{0,16}"\s*:\s*(-?[0-9.eE+]+|"[^"\\]{0,40}"|null|true|false)')
OTHER_NOW = NOW + timedelta(days=1, seconds=7)
MAX_OFFSET = timedelta(hours=15, minutes=59)


def mutate(rng: random.Random, data: bytes) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(8)
        at = rng.randrange(len(b) + 1)
        if op == 0 and b:  # flip a byte
            b[min(at, len(b) - 1)] = rng.randrange(256)
        elif op == 1:  # insert a hostile token
            b[at:at] = rng.choice(TOKENS)
        elif op == 2 and b:  # delete a slice
            del b[at : at + rng.randint(1, 16)]
        elif op == 3:  # truncate
            del b[at:]
        elif op == 4 and b:  # duplicate a slice
            end = min(len(b), at + rng.randint(1, 64))
            b[at:at] = b[at:end]
        elif op == 5 and b:  # replace a digit run's neighbourhood with a token
            b[at : at + 3] = rng.choice(TOKENS)
        elif op == 6 and (pairs := list(_PAIR.finditer(bytes(b)))):  # repeat a key
            pair = rng.choice(pairs)
            b[pair.start() : pair.start()] = pair.group() + b", "
        else:  # splice with another seed
            other = rng.choice(SEEDS)
            cut = rng.randrange(len(other) + 1)
            b = b[:at] + bytearray(other[cut:])
    return bytes(b)


SEEDS = seeds()


def _refuse_repeats(pairs: list[tuple[str, object]]) -> dict[str, object]:
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise KeyError("repeated key")
    return dict(pairs)


def repeats_a_key(payload: bytes) -> bool:
    """True when ``payload`` is JSON with a key given twice in one object."""
    try:
        json.loads(payload, object_pairs_hook=_refuse_repeats)
    except KeyError:
        return True
    except (ValueError, RecursionError):
        return False
    return False


def check_case(payload: bytes, topic_station: str | None = STATION) -> tuple[int, int]:
    """Decode and judge one payload as the service does; (readings, rejections)."""
    decoded = decode(payload, TZ, NOW, MAX_BYTES)
    # the receive time changes nothing: a redelivery decodes to the same readings
    assert decode(payload, TZ, OTHER_NOW, MAX_BYTES) == decoded
    verdict = judge(decoded, topic_station, REGISTRY, POLICY, NOW)
    if repeats_a_key(payload):
        assert verdict.rejections, "a repeated key was resolved silently"
    indices = [r.index for r in verdict.rejections if r.index >= 0]
    for rejection in verdict.rejections:
        assert isinstance(rejection.code, Reason) and rejection.message, rejection
    for reading in verdict.readings:
        assert isinstance(reading, Reading)
        spec = PARAMETERS[reading.parameter]
        assert reading.station_id == topic_station
        assert math.isfinite(reading.value)
        assert spec.min_plausible <= reading.value <= spec.max_plausible
        assert reading.status in {"00", "01", "02"}
        assert NOW - POLICY.past_horizon <= reading.ts <= NOW + POLICY.future_tolerance
        offset = reading.ts.utcoffset()
        assert offset is not None and abs(offset) <= MAX_OFFSET and not offset.seconds % 60
    # each item is stored or rejected, never both; the service rejects an empty verdict
    # as a whole (no_readings), so nothing is ever silently dropped
    read_indices = {id(r) for r in verdict.readings}
    assert len(read_indices) == len(verdict.readings)
    assert len(indices) == len(set(indices)), verdict.rejections
    return len(verdict.readings), len(verdict.rejections)


# Escapes already diagnosed (see test_huge_senml_integer_is_rejected_not_raised); any
# other exception escaping decode/judge fails the mutation test.
KNOWN_ESCAPES = {"OverflowError at ingest/decode/senml.py:_number"}


def _where(exc: BaseException) -> str:
    tb = exc.__traceback__
    frame = None
    while tb is not None:
        frame = tb.tb_frame
        tb = tb.tb_next
    assert frame is not None
    path = frame.f_code.co_filename.split("/main/")[-1]
    return f"{type(exc).__name__} at {path}:{frame.f_code.co_name}"


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_mutated_payloads_of_all_three_formats() -> None:
    rng = random.Random(1459)
    stored = rejected = empty = 0
    escapes: dict[str, bytes] = {}
    started = time.perf_counter()
    for i in range(MUTATION_CASES):
        payload = mutate(rng, SEEDS[i % len(SEEDS)])
        topic_station = STATION if i % 10 else rng.choice([None, "BN-02", "BN-09", "ZZ"])
        try:
            n_read, n_rej = check_case(payload, topic_station)
        except AssertionError as exc:
            raise AssertionError(f"{exc} for payload {payload!r}") from exc
        except Exception as exc:
            escapes.setdefault(_where(exc), payload)
            continue
        stored += n_read
        rejected += n_rej
        empty += n_read + n_rej == 0
    elapsed = time.perf_counter() - started
    print(
        f"\n[fuzz] {MUTATION_CASES} mutated payloads in {elapsed:.1f} s "
        f"({MUTATION_CASES / elapsed:.0f} cases/s): {stored} readings accepted, {rejected} "
        f"rejections, {empty} empty verdicts (rejected whole as no_readings by the service); "
        f"escapes: {sorted(escapes)}"
    )
    assert stored > 0 and rejected > 0
    new = {k: v for k, v in escapes.items() if k not in KNOWN_ESCAPES}
    assert not new, {k: v[:300] for k, v in new.items()}


@pytest.mark.parametrize("field", ["v", "t", "bt"])
def test_huge_senml_integer_is_rejected_not_raised(field: str) -> None:
    record = {"bn": f"urn:aqm:station:{STATION}:", "bt": 1740790500, "n": "pm25", "v": 41, "t": 0}
    text = json.dumps([record]).replace(f'"{field}": ', f'"{field}": 1{"0" * 400}, "x{field}": ')
    assert f'"{field}": 1{"0" * 400}' in text  # the huge integer really is in the payload
    n_read, n_rej = check_case(text.encode())
    assert n_read == 0 and n_rej == 1


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=json_documents)
def test_generated_json_documents(document: object) -> None:
    check_case(json.dumps(document, allow_nan=True).encode())


@settings(max_examples=2000, deadline=None)
@given(payload=st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_generated_bytes_and_text(payload: bytes) -> None:
    check_case(payload)


def _timed(payload: bytes) -> tuple[str, float]:
    started = time.perf_counter()
    decoded = decode(payload, TZ, NOW, 1_048_576)
    verdict = judge(decoded, STATION, REGISTRY, POLICY, NOW)
    elapsed = time.perf_counter() - started
    assert not verdict.readings
    codes = {r.code.value for r in verdict.rejections}
    assert len(codes) == 1, verdict.rejections
    return codes.pop(), elapsed


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"x" * 1_048_577, "payload_too_large"),
        (b"[" * 100_000 + b"]" * 100_000, "malformed_json"),
        (b'{"a":' * 50_000 + b"1" + b"}" * 50_000, "malformed_json"),
        (
            b'{"station": "BN-01", "ts": "2025-03-01T08:00:00+07:00", "values": {"pm25": 1}}\xff',
            "invalid_utf8",
        ),
        (
            b'{"station": "BN-01", "ts": "2025-03-01T07:55:00+07:00", "values": {"pm25": NaN}}',
            "not_finite",
        ),
        (
            b'{"station": "BN-01", "ts": "2025-03-01T07:55:00+07:00", "values": {"pm25": Infinity}}',
            "not_finite",
        ),
        (
            b'{"station": "BN-01", "ts": "2025-03-01T07:55:00+07:00", "values": {"pm25": 1e999}}',
            "not_finite",
        ),
        (
            b'{"station": "BN-01", "ts": "9999-12-31T23:59:59+14:00", "values": {"pm25": 1}}',
            "ts_in_future",
        ),
        (
            b'{"station": "BN-01", "ts": "99999-12-31T23:59:59+00:00", "values": {"pm25": 1}}',
            "malformed_record",
        ),
        (b'[{"bn": "urn:aqm:station:BN-01:", "bt": 1e300, "n": "pm25", "v": 1}]', "bad_timestamp"),
        (b"PM-2-5\t35.2\tug/m3\t99991231235959\t00\r\n", "ts_in_future"),
        (b"PM-2-5\t35.2\tug/m3\t20251399250000\t00\r\n", "bad_timestamp"),
        (b"PM-2-5 1e999 ug/m3 20250301075500 00\n", "not_finite"),
        (
            json.dumps(
                [{"station": "BN-01", "ts": "2025-03-01T07:55:00+07:00", "values": {"pm25": 1}}]
                * 10_001
            ).encode(),
            "malformed_record",
        ),
    ],
    ids=[
        "oversized",
        "deep-arrays",
        "deep-objects",
        "invalid-utf8",
        "nan",
        "infinity",
        "overflow",
        "year-9999",
        "year-99999",
        "senml-huge-time",
        "tt10-year-9999",
        "tt10-impossible-date",
        "tt10-overflow",
        "too-many-observations",
    ],
)
def test_hostile_payloads_are_rejected_cheaply_with_a_reason(payload: bytes, reason: str) -> None:
    code, elapsed = _timed(payload)
    print(f"\n[cheap] {reason}: {len(payload)} bytes rejected in {elapsed * 1000:.1f} ms")
    assert code == reason
