"""The writer's encoding against the real TimescaleDB, as ``aqm_ingest``.

The decoders are fuzzed elsewhere; here whatever they may hand over — any text (lone
UTF-16 surrogates, NUL, control characters, huge strings), any float, any timestamp with
any offset — goes through ``write_batch`` (and ``write_isolating_failures`` when the database
refuses a batch's content, as the service does) into the database. Every item must end
stored, a duplicate or a reject, and the write must never raise anything but a database
error the service can act on.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.decode import decode
from ingest.model import Reading, Reason, Rejection, SourceFormat
from ingest.validate import StationInfo, ValidationPolicy, judge
from ingest.writer import (
    MAX_REJECT_ROWS_PER_MESSAGE,
    STORED_PAYLOAD_LIMIT,
    ReceivedMessage,
    WriteResult,
    prepare,
    write_batch,
    write_isolating_failures,
)

from .conftest import as_role, count

pytestmark = pytest.mark.services

T = TypeVar("T")
NOW = datetime.now(UTC).replace(microsecond=0)
TOPIC = "aqm/v1/stations/{}/readings"
CONTENT_ERRORS = (
    psycopg.DataError,
    psycopg.IntegrityError,
    psycopg.InternalError,
    psycopg.errors.ProgramLimitExceeded,
)

# Any character at all, lone surrogates (category Cs) and NUL included.
any_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=40) | st.sampled_from(
    ["\ud800", "\udfff", "a\x00b", "\x00", "x" * 100_000, "\x1b[31m", "ü\ud83d"]
)
offsets = st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(lambda m: timezone(timedelta(minutes=m)))
any_time = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=offsets
) | st.datetimes(timezones=st.none())


def run(coro: Awaitable[T]) -> T:
    return asyncio.run(coro)  # type: ignore[arg-type]


async def store(url: str, messages: list[ReceivedMessage]) -> WriteResult:
    """What the service does: the batch; if its content is refused, apart."""
    conn = await psycopg.AsyncConnection.connect(url, autocommit=True)
    try:
        await prepare(conn)
        try:
            return await write_batch(conn, messages)
        except CONTENT_ERRORS:
            return await write_isolating_failures(conn, messages)
    finally:
        await conn.close()


def reading(
    station: str = "BN-01",
    parameter: str = "pm25",
    ts: datetime | None = None,
    value: float = 10.0,
    status: str = "00",
    index: int = 0,
    unit: str = "µg/m³",
) -> Reading:
    return Reading(
        station,
        parameter,
        ts or NOW - timedelta(hours=1),
        value,
        value,
        unit,
        status,
        SourceFormat.AQM_JSON,
        index,
    )


def message(
    readings: list[Reading],
    rejections: list[Rejection] = (),  # type: ignore[assignment]
    topic: str | None = None,
    station: str | None = "BN-01",
    payload: bytes | None = None,
) -> ReceivedMessage:
    body = payload if payload is not None else repr((readings, rejections)).encode()
    return ReceivedMessage.of(
        topic or TOPIC.format(station),
        body,
        NOW,
        station,
        readings,
        list(rejections),
        1 << 20,
    )


def items_accounted(result: WriteResult) -> int:
    return result.stored + result.duplicates + sum(result.rejected_items.values())


@pytest.fixture
def ingest_url(ingest_db: str) -> str:
    return as_role(ingest_db)


@st.composite
def hostile_messages(draw: Callable[[Any], Any]) -> ReceivedMessage:
    readings = [
        reading(
            station=draw(st.sampled_from(["BN-01", "BN-02"]) | any_text),
            parameter=draw(st.sampled_from(["pm25", "pm10"]) | any_text),
            ts=draw(any_time),
            value=draw(st.floats(allow_nan=True, allow_infinity=True)),
            status=draw(st.sampled_from(["00", "01"]) | any_text),
            unit=draw(st.just("µg/m³") | any_text),
            index=i,
        )
        for i in range(draw(st.integers(0, 3)))
    ]
    rejections = [
        Rejection(draw(st.sampled_from(list(Reason))), draw(any_text), draw(st.integers(-1, 50)))
        for _ in range(draw(st.integers(0, 3)))
    ]
    return message(
        readings,
        rejections,
        topic=draw(any_text | st.just(TOPIC.format("BN-01"))),
        station=draw(st.none() | any_text),
        payload=draw(st.binary(max_size=200)),
    )


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batch=st.lists(hostile_messages(), min_size=1, max_size=6))
def test_any_text_number_and_time_ends_stored_or_rejected(
    ingest_url: str, ingest_db: str, batch: list[ReceivedMessage]
) -> None:
    before = count(ingest_db, "SELECT count(*) FROM rejected_messages")
    result = run(store(ingest_url, batch))
    items = sum(m.items for m in batch)
    assert items_accounted(result) == items, result
    # every message with a reject keeps its payload, once
    for m in batch:
        if m.rejections:
            assert count(
                ingest_db,
                "SELECT count(*) FROM rejected_payloads WHERE payload_digest = %s AND payload = %s",
                m.digest,
                m.payload,
            ), m
    assert count(ingest_db, "SELECT count(*) FROM rejected_messages") >= before
    assert count(ingest_db, "SELECT count(*) FROM readings WHERE value <> value") == 0  # no NaN


def test_a_lone_surrogate_and_nul_in_reject_texts_are_stored_escaped(
    ingest_url: str, ingest_db: str
) -> None:
    """The poison: a JSON key "\\ud800" quoted in a not_finite reason."""
    now = datetime.now(UTC)
    payload = json.dumps(
        {
            "station": "BN-01",
            "ts": (now - timedelta(minutes=10)).astimezone(ZoneInfo("Asia/Bangkok")).isoformat(),
            "values": {"\ud800": None, "pm25": 12.5, "a\x00b": float("nan")},
        }
    ).encode()
    verdict = judge(
        decode(payload, ZoneInfo("Asia/Ho_Chi_Minh"), now, 1 << 20),
        "BN-01",
        {"BN-01": StationInfo(True)},
        ValidationPolicy(),
        now,
    )
    assert any("\ud800" in j.message for j in verdict.rejections)  # what the writer gets
    m = ReceivedMessage.of(TOPIC.format("BN-01"), payload, now, "BN-01", verdict.readings,
                           verdict.rejections, 1 << 20)  # fmt: skip
    result = run(store(ingest_url, [m]))
    assert result.stored == 1
    with psycopg.connect(ingest_db) as conn:
        reasons = [r[0] for r in conn.execute("SELECT reason FROM rejected_messages ORDER BY 1")]
        kept = conn.execute("SELECT payload FROM rejected_payloads").fetchall()
    assert any("\\ud800" in r for r in reasons), reasons
    assert [bytes(k[0]) for k in kept] == [payload]


ODD_OFFSETS = [
    timezone(timedelta(hours=23, minutes=59)),
    timezone(-timedelta(hours=23, minutes=59)),
    timezone(timedelta(hours=5, minutes=45)),
    timezone(timedelta(hours=16)),
]


@pytest.mark.parametrize("n", [1, 2, 3, 50, 500])
async def test_batches_with_odd_offsets_and_duplicates_are_written_whole(
    ingest_url: str, ingest_db: str, n: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Offsets PostgreSQL does not parse never reach SQL: no batch falls back."""
    base = NOW - timedelta(hours=2)
    first = [
        message([reading(ts=(base + timedelta(minutes=i)).astimezone(ODD_OFFSETS[i % 4]))])
        for i in range(n)
    ]
    # the same instants again: half identical (duplicates), half another value (conflicts)
    again = [
        message(
            [
                reading(
                    ts=(base + timedelta(minutes=i)).astimezone(ODD_OFFSETS[(i + 1) % 4]),
                    value=10.0 if i % 2 == 0 else 11.0,
                )
            ]
        )
        for i in range(n)
    ]
    conn = await psycopg.AsyncConnection.connect(ingest_url, autocommit=True)
    try:
        await prepare(conn)
        stored = await write_batch(conn, first)
        assert stored.stored == n
        result = await write_batch(conn, again)  # raises on today's code
    finally:
        await conn.close()
    assert result.stored == 0
    assert result.conflicts == n // 2
    assert result.duplicates == n - n // 2
    assert count(ingest_db, "SELECT count(*) FROM rejected_messages") == n // 2


@pytest.mark.parametrize("batch_size", [1, 2, 3, 7, 400])
async def test_one_parameter_twice_in_a_message_keeps_the_first_by_position(
    ingest_url: str, ingest_db: str, batch_size: int
) -> None:
    base = NOW - timedelta(days=1)
    messages = []
    for i in range(400):
        ts = base + timedelta(minutes=i)
        # the first value is sometimes the larger, sometimes the smaller one
        a, b = (20.0 + i, 500.0 + i) if i % 2 else (500.0 + i, 20.0 + i)
        messages.append(
            message([reading(ts=ts, value=a, index=0), reading(ts=ts, value=b, index=1)])
        )
    conn = await psycopg.AsyncConnection.connect(ingest_url, autocommit=True)
    try:
        await prepare(conn)
        total = WriteResult(0, 0, 0, 0)
        for start in range(0, len(messages), batch_size):
            total = total + await write_batch(conn, messages[start : start + batch_size])
    finally:
        await conn.close()
    assert (total.stored, total.conflicts, total.duplicates) == (400, 400, 0)
    with psycopg.connect(ingest_db) as db:
        stored: dict[Any, Any] = dict(db.execute("SELECT ts, value FROM readings").fetchall())
        rejected = db.execute(
            "SELECT reading_index, reason_code FROM rejected_messages GROUP BY 1, 2"
        ).fetchall()
    wrong = [m for m in messages if stored[m.readings[0].ts] != m.readings[0].value]
    assert not wrong, f"{len(wrong)} of 400 kept the second value"
    assert rejected == [(1, "conflicting_value")]


async def test_one_message_adds_a_bounded_number_of_rejects_and_its_payload_once(
    ingest_url: str, ingest_db: str
) -> None:
    """A 128 KiB message with 7,275 null values: once 7,275 rows of 128 KiB."""
    now = datetime.now(UTC)
    values: dict[str, float | None] = {f"x{i:05d}": None for i in range(7275)}
    values["pm25"] = 12.0
    payload = json.dumps(
        {"station": "BN-01", "ts": (now - timedelta(minutes=5)).isoformat(), "values": values}
    ).encode()
    assert 100_000 < len(payload) < 1 << 20
    verdict = judge(
        decode(payload, ZoneInfo("Asia/Ho_Chi_Minh"), now, 1 << 20),
        "BN-01",
        {"BN-01": StationInfo(True)},
        ValidationPolicy(),
        now,
    )
    assert len(verdict.rejections) == 7275
    m = ReceivedMessage.of(TOPIC.format("BN-01"), payload, now, "BN-01", verdict.readings,
                           verdict.rejections, 1 << 20)  # fmt: skip
    result = await store(ingest_url, [m])
    assert result.stored == 1
    assert sum(result.rejected_items.values()) == 7275  # every item counted
    assert result.rejected == MAX_REJECT_ROWS_PER_MESSAGE + 1
    with psycopg.connect(ingest_db) as conn:
        rows = conn.execute(
            "SELECT reason_code, reason, payload IS NULL FROM rejected_messages"
            " ORDER BY reading_index"
        ).fetchall()
        kept = conn.execute("SELECT payload, payload_bytes FROM rejected_payloads").fetchall()
        size = conn.execute(
            "SELECT pg_total_relation_size('rejected_messages')"
            " + pg_total_relation_size('rejected_payloads')"
        ).fetchone()
    assert len(rows) == MAX_REJECT_ROWS_PER_MESSAGE + 1
    assert all(r[2] for r in rows)  # no payload copy in any reject row
    summary = [r for r in rows if r[0] == "more_rejects"]
    assert (
        len(summary) == 1 and "7,175 more" in summary[0][1] and "not_finite 7,175" in summary[0][1]
    )
    assert [(bytes(k[0]), k[1]) for k in kept] == [(payload, len(payload))]
    assert size is not None and size[0] < 2_000_000, size  # was 344 MB


@pytest.mark.parametrize(
    "size",
    [
        STORED_PAYLOAD_LIMIT - 1,
        STORED_PAYLOAD_LIMIT,
        STORED_PAYLOAD_LIMIT + 1,
        200_000 - 1,
        200_000,
        200_001,
        400_000,
    ],
)
async def test_rejected_payloads_are_kept_whole_up_to_the_size_limit(
    ingest_url: str, ingest_db: str, size: int
) -> None:
    """A payload within AQM_MAX_PAYLOAD_BYTES (200,000 here) is kept byte for byte; a
    larger one (``payload_too_large``) as its first 64 KiB and its size."""
    limit = 200_000
    now = datetime.now(UTC)
    good = json.dumps({"station": "BN-01", "ts": (now - timedelta(minutes=5)).isoformat(),
                       "values": {"pm25": 1.0}})  # fmt: skip
    bad = json.dumps({"station": "BN-01", "ts": "yesterday", "values": {"pm10": 2.0}})
    filler = size - len(good) - len(bad) - 4
    payload = f"[{good}, {bad}{' ' * filler}]".encode()
    assert len(payload) == size
    verdict = judge(
        decode(payload, ZoneInfo("Asia/Ho_Chi_Minh"), now, limit),
        "BN-01",
        {"BN-01": StationInfo(True)},
        ValidationPolicy(),
        now,
    )
    m = ReceivedMessage.of(TOPIC.format("BN-01"), payload, now, "BN-01", verdict.readings,
                           verdict.rejections, limit)  # fmt: skip
    await store(ingest_url, [m])
    with psycopg.connect(ingest_db) as conn:
        kept = conn.execute(
            "SELECT reason_code, payload, payload_bytes FROM rejected_messages_with_payload"
        ).fetchall()
    assert len(kept) == 1
    code, stored, stored_size = kept[0]
    assert stored_size == size
    if size <= limit:
        assert code != "payload_too_large" and bytes(stored) == payload
        assert count(ingest_db, "SELECT count(*) FROM readings") == 1
    else:
        assert code == "payload_too_large" and bytes(stored) == payload[:STORED_PAYLOAD_LIMIT]


@pytest.mark.parametrize("n", [1, 2, 3, 40])
async def test_rejects_of_one_batch_keep_the_order_messages_arrived_in(
    ingest_url: str, ingest_db: str, n: int
) -> None:
    """rejected_messages ids follow arrival (an operator reads the table by id), however
    the payloads' digests sort: each message here is one unparseable payload."""
    start = datetime.now(UTC)
    batch = [
        ReceivedMessage.of(
            TOPIC.format("BN-01"),
            f"not json {i}".encode(),
            start + timedelta(microseconds=i),
            "BN-01",
            [],
            [Rejection(Reason.MALFORMED_JSON, "not JSON")],
        )
        for i in range(n)
    ]
    # the digests' order, which DISTINCT ON would otherwise impose, differs from arrival
    assert n < 3 or sorted(batch, key=lambda m: m.digest) != batch
    await store(ingest_url, batch)
    with psycopg.connect(ingest_db) as conn:
        rows = conn.execute(
            "SELECT payload FROM rejected_messages_with_payload ORDER BY id"
        ).fetchall()
    assert [bytes(r[0]) for r in rows] == [m.payload for m in batch]


@pytest.mark.parametrize(
    ("n", "bad"),
    [(1, [0]), (2, [1]), (3, [0, 2]), (500, [0, 250, 499]), (500, list(range(0, 500, 7)))],
    ids=["1", "2", "3", "500-three-bad", "500-every-seventh-bad"],
)
async def test_messages_the_database_refuses_are_isolated_and_the_rest_stored(
    ingest_url: str, ingest_db: str, n: int, bad: list[int]
) -> None:
    """A status the readings table's CHECK refuses gets past Python: the database itself
    refuses the batch, and only the messages at fault become store_failed."""
    base = NOW - timedelta(hours=3)
    messages = [
        message(
            [
                reading(ts=base + timedelta(seconds=i), status="0x" if i in bad else "00", index=0),
                reading(ts=base + timedelta(seconds=i), parameter="pm10", index=1),
            ]
        )
        for i in range(n)
    ]
    conn = await psycopg.AsyncConnection.connect(ingest_url, autocommit=True)
    try:
        await prepare(conn)
        with pytest.raises(psycopg.errors.CheckViolation):
            await write_batch(conn, messages)
        result = await write_isolating_failures(conn, messages)
    finally:
        await conn.close()
    assert result.stored == 2 * (n - len(bad))
    assert dict(result.rejected_items) == {"store_failed": 2 * len(bad)}
    with psycopg.connect(ingest_db) as db:
        failed = db.execute(
            "SELECT count(DISTINCT payload_digest), count(*) FROM rejected_messages"
            " WHERE reason_code = 'store_failed' AND reason LIKE '%CheckViolation%'"
        ).fetchone()
    assert failed == (len(bad), 2 * len(bad))
    assert count(ingest_db, "SELECT count(*) FROM readings") == 2 * (n - len(bad))
