"""Write one batch in one transaction: COPY into staging tables, then set-based merges.

Readings go through ``INSERT … SELECT … ON CONFLICT (station_id, parameter, ts) DO
NOTHING``: the first stored value of a reading wins — within a batch the first by
position, so one parameter given twice in a message always keeps the first — and a
redelivered message is harmless. A reading that is not stored because its key already
holds *another* value or status (a corrected re-upload, one parameter twice in a message)
is not a harmless duplicate: it goes to ``rejected_messages`` as ``conflicting_value``,
so nothing received is lost. Only batches with unstored readings pay for that check.

Rejects reference their message's payload, stored once per message in
``rejected_payloads``; one message creates at most ``MAX_REJECT_ROWS_PER_MESSAGE`` reject
rows plus one ``more_rejects`` row that counts the rest by reason.

Everything is encoded in Python before it reaches PostgreSQL: text PostgreSQL cannot hold
(NUL, lone UTF-16 surrogates) is escaped in reject texts, timestamps go as UTC, and a
reading that cannot be encoded at all (a non-finite value, a time without offset, …)
becomes a ``store_failed`` reject on its own instead of failing the batch.

The station-hours of the rows actually inserted are queued for the AQI worker in the
same statement, and rejects are stored in the same transaction, so a batch is either
wholly committed or not at all — and only then acknowledged.

:class:`Writer` owns the database side of ingest: its one connection, the retry while the
database is away, and the judgement whether an error is the database's or a message's.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
from collections import Counter
from collections.abc import Awaitable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TypeVar

import psycopg

from ingest.metrics import IngestMetrics
from ingest.model import Reading, Reason, Rejection, SourceFormat

log = logging.getLogger("aqm.ingest")
T = TypeVar("T")

STAGING_DDL = """
CREATE TEMP TABLE IF NOT EXISTS staging_readings (
    item integer, station_id text, parameter text, ts timestamptz, value double precision,
    original_value double precision, original_unit text, status text,
    source_format text, received_at timestamptz
) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS staging_rejected (
    received_at timestamptz, topic text, station_id text, reason_code text, reason text,
    reading_index integer, payload_digest bytea
) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS staging_payloads (
    payload_digest bytea, payload bytea, payload_bytes integer
) ON COMMIT DELETE ROWS;
"""

# Several writes in one transaction (``write_isolating_failures``) must not see each
# other's staged rows.
EMPTY_STAGING = "TRUNCATE staging_readings, staging_rejected, staging_payloads"

# DISTINCT ON keeps the first row of each key in ``ORDER BY``: the first by position in
# the batch (``item``), never an arbitrary one.
MERGE_READINGS = """
WITH inserted AS (
    INSERT INTO readings (station_id, parameter, ts, value, original_value, original_unit,
                          status, source_format, received_at)
    SELECT DISTINCT ON (station_id, parameter, ts)
           station_id, parameter, ts, value, original_value, original_unit,
           status, source_format, received_at
    FROM staging_readings
    ORDER BY station_id, parameter, ts, item
    ON CONFLICT (station_id, parameter, ts) DO NOTHING
    RETURNING station_id, ts
), dirty AS (
    INSERT INTO aqi_dirty_hours (station_id, hour)
    SELECT DISTINCT station_id, time_bucket(INTERVAL '1 hour', ts) FROM inserted
)
SELECT count(*) FROM inserted
"""

# Positions (1-based, per call) of readings whose key now holds another value or status
# than theirs. A function of migration 0009: ingest may not read stored values itself,
# and the function answers for at most 10,000 candidates, each key at most once.
CONFLICTING_READINGS = "SELECT item FROM ingest_conflicting_readings(%s, %s, %s, %s, %s)"
CONFLICT_CANDIDATES_PER_CALL = 5000
# Calls per batch for keys given several values in one batch (see ``_conflicts``).
CONFLICT_ROUNDS = 8

MERGE_PAYLOADS = """
INSERT INTO rejected_payloads (payload_digest, payload, payload_bytes)
SELECT DISTINCT ON (payload_digest) payload_digest, payload, payload_bytes
FROM staging_payloads
ON CONFLICT (payload_digest) DO NOTHING
"""

MERGE_REJECTED = """
WITH inserted AS (
    INSERT INTO rejected_messages (received_at, topic, station_id, reason_code, reason,
                                   reading_index, payload_digest)
    SELECT received_at, topic, station_id, reason_code, reason, reading_index, payload_digest
    FROM (SELECT DISTINCT ON (payload_digest, reading_index, reason_code) *
          FROM staging_rejected
          ORDER BY payload_digest, reading_index, reason_code, received_at) AS first_seen
    -- ids in arrival order, as an operator reads the table (DISTINCT ON sorts by digest)
    ORDER BY received_at, reading_index NULLS FIRST
    ON CONFLICT (payload_digest, reading_index, reason_code) DO NOTHING
    RETURNING 1
)
SELECT count(*) FROM inserted
"""

# Payloads are stored whole, except oversized ones (``payload_too_large``): their first
# 64 KiB and the digest of the whole identify them, and storing hundreds of MB of garbage
# would let a hostile client fill the database.
STORED_PAYLOAD_LIMIT = 64 * 1024

# Rows one message may add to rejected_messages; the rest are counted in one more row.
# Its payload is kept whole, so every rejected value can still be read from it.
MAX_REJECT_ROWS_PER_MESSAGE = 100

# Reject texts quote payload content; the payload itself is kept, so a long text is cut.
MAX_REASON_CHARS = 1000

INT4 = (-(2**31), 2**31 - 1)


@dataclass(frozen=True, slots=True)
class ReceivedMessage:
    """One MQTT message as ingest received it, with what validation made of it.

    ``payload`` is what is stored if something of the message is rejected: the whole
    payload, or the first 64 KiB of one larger than the size limit; ``size`` is its size
    as received and ``digest`` identifies the message (topic and whole payload).
    """

    topic: str
    payload: bytes
    digest: bytes
    received_at: datetime
    station_id: str | None
    readings: list[Reading]
    rejections: list[Rejection]
    size: int = -1

    @classmethod
    def of(
        cls,
        topic: str,
        payload: bytes,
        received_at: datetime,
        station_id: str | None,
        readings: list[Reading],
        rejections: list[Rejection],
        max_payload_bytes: int | None = None,
    ) -> ReceivedMessage:
        digest = hashlib.sha256(topic.encode("utf-8", "surrogatepass") + b"\0" + payload).digest()
        # Kept for every message: a conflicting value is only found when storing.
        too_large = max_payload_bytes is not None and len(payload) > max_payload_bytes
        kept = payload[:STORED_PAYLOAD_LIMIT] if too_large else payload
        return cls(topic, kept, digest, received_at, station_id, readings, rejections, len(payload))

    def failed(self, why: str) -> ReceivedMessage:
        """The same message with every item rejected as ``store_failed``."""
        # one reject per item, so the counts still reconcile
        rejections = [Rejection(Reason.STORE_FAILED, why, i) for i in range(self.items)]
        return replace(self, readings=[], rejections=rejections)

    @property
    def items(self) -> int:
        return len(self.readings) + len(self.rejections)


def text(value: str | None, limit: int | None = None) -> str | None:
    """``value`` as text PostgreSQL can store, cut to ``limit`` characters.

    PostgreSQL text holds neither NUL nor lone UTF-16 surrogates (a JSON key
    ``"\\ud800"`` decodes to one); both become visible escapes (``\\x00``, ``\\ud800``).
    """
    if value is None:
        return None
    value = str(value)
    if limit is not None and len(value) > limit:
        value = value[:limit] + "…"
    if value.isascii():
        return value.replace("\x00", "\\x00")
    safe = value.encode("utf-8", "backslashreplace").decode("utf-8")
    return safe.replace("\x00", "\\x00")


# Binary COPY: timestamps and floats go as they are, without text formatting and parsing.
READING_TYPES = (
    "int4",
    "text",
    "text",
    "timestamptz",
    "float8",
    "float8",
    "text",
    "text",
    "text",
    "timestamptz",
)
REJECT_TYPES = ("timestamptz", "text", "text", "text", "text", "int4", "bytea")
PAYLOAD_TYPES = ("bytea", "bytea", "int4")


@dataclass(frozen=True, slots=True)
class WriteResult:
    stored: int
    duplicates: int
    rejected: int
    """Reject rows newly stored."""
    rejected_duplicates: int
    """Reject rows already stored (a redelivered message)."""
    conflicts: int = 0
    """Readings not stored because their key holds another value (rejected, not duplicates)."""
    rejected_items: Counter[str] = field(default_factory=Counter)
    """Rejected items (readings, or whole messages) by reason code, conflicts included."""

    def __add__(self, other: WriteResult) -> WriteResult:
        return WriteResult(
            self.stored + other.stored,
            self.duplicates + other.duplicates,
            self.rejected + other.rejected,
            self.rejected_duplicates + other.rejected_duplicates,
            self.conflicts + other.conflicts,
            self.rejected_items + other.rejected_items,
        )


async def prepare(conn: psycopg.AsyncConnection[tuple[object, ...]]) -> None:
    """Create the per-connection staging tables (once per connection)."""
    async with conn.transaction():
        await conn.execute(STAGING_DDL)


# -- encoding: Python values PostgreSQL will accept, or a reject -----------------------


def utc(ts: datetime) -> datetime:
    """``ts`` in UTC: SQL never parses an offset (``+23:59`` is not one PostgreSQL reads)."""
    if ts.tzinfo is UTC:
        return ts
    if ts.tzinfo is None or ts.utcoffset() is None:
        raise ValueError(f"time {ts.isoformat()} has no UTC offset")
    return ts.astimezone(UTC)


# Station ids, parameters, units and statuses repeat in every batch: check each once.
_STORABLE: set[str] = set()
_STORABLE_MAX = 10_000
_FORMATS = {f: f.value for f in SourceFormat}


def _exact_text(value: object, what: str) -> str:
    """Stored reading fields are stored exactly or not at all."""
    if value in _STORABLE:
        return value
    if not isinstance(value, str) or text(value) != value:
        raise ValueError(f"{what} {value!r} is not storable text")
    if len(_STORABLE) >= _STORABLE_MAX:
        _STORABLE.clear()
    _STORABLE.add(value)
    return value


def _finite(value: object, what: str) -> float:
    number = float(value)  # type: ignore[arg-type]
    if not math.isfinite(number):
        raise ValueError(f"{what} {number} is not a finite number")
    return number


def _reading_row(r: Reading, received_at: datetime) -> tuple[object, ...]:
    """Everything of a reading after the batch position, as the COPY sends it."""
    return (
        _exact_text(r.station_id, "station"),
        _exact_text(r.parameter, "parameter"),
        utc(r.ts),
        _finite(r.value, "value"),
        _finite(r.original_value, "original value"),
        _exact_text(r.original_unit, "unit"),
        _exact_text(r.status, "status"),
        _FORMATS[r.source_format],
        received_at,
    )


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


@dataclass(slots=True)
class _Encoded:
    """One message ready to COPY: its readings' rows and everything rejected so far."""

    message: ReceivedMessage
    received_at: datetime
    topic: str
    station_id: str | None
    readings: list[Reading]
    rows: list[tuple[object, ...]]
    rejections: list[Rejection]


def _encode(m: ReceivedMessage) -> _Encoded:
    """Encode one message; a reading that cannot be encoded is rejected alone."""
    try:
        received_at = utc(m.received_at)
    except Exception:  # a received_at is ingest's own clock; never lose the message for it
        received_at = datetime.now(UTC)
    topic = text(m.topic) or ""
    station = text(m.station_id)
    readings: list[Reading] = []
    rows: list[tuple[object, ...]] = []
    rejections = list(m.rejections)
    for r in m.readings:
        try:
            rows.append(_reading_row(r, received_at))
            readings.append(r)
        except Exception as exc:
            index = r.index if isinstance(r.index, int) else -1
            why = f"reading could not be stored: {_describe(exc)}"
            rejections.append(Rejection(Reason.STORE_FAILED, why, index))
    return _Encoded(m, received_at, topic, station, readings, rows, rejections)


def _reject_rows(e: _Encoded, conflicts: list[Rejection]) -> list[tuple[object, ...]]:
    """The reject rows of one message: at most MAX_REJECT_ROWS_PER_MESSAGE + 1."""
    rejects = sorted(e.rejections + conflicts, key=_reject_order)
    listed, rest = rejects[:MAX_REJECT_ROWS_PER_MESSAGE], rejects[MAX_REJECT_ROWS_PER_MESSAGE:]
    if rest:
        counts = Counter(j.code.value for j in rest)
        why = (
            f"{len(rest):,} more rejected items of this message are not listed one by one"
            f" ({', '.join(f'{code} {n:,}' for code, n in sorted(counts.items()))});"
            f" the first is item {_index(rest[0])}; the payload is kept whole"
        )
        listed.append(Rejection(Reason.MORE_REJECTS, why, _index(rest[0])))
    return [_reject_row(e, j) for j in listed]


def _reject_order(j: Rejection) -> tuple[int, str]:
    return (_index(j), str(j.code))


def _index(j: Rejection) -> int:
    index = j.index
    return index if isinstance(index, int) and INT4[0] <= index <= INT4[1] else -1


def _reject_row(e: _Encoded, j: Rejection) -> tuple[object, ...]:
    try:
        code = Reason(j.code).value
        why = text(j.message, MAX_REASON_CHARS) or code
    except Exception as exc:
        code, why = Reason.STORE_FAILED.value, f"reject could not be encoded: {_describe(exc)}"
    return (e.received_at, e.topic, e.station_id, code, why, _index(j), e.message.digest)


def _payload_row(m: ReceivedMessage) -> tuple[object, ...]:
    size = m.size if m.size >= 0 else len(m.payload)
    return (m.digest, bytes(m.payload), min(size, INT4[1]))


# -- writing -------------------------------------------------------------------------


async def write_batch(
    conn: psycopg.AsyncConnection[tuple[object, ...]], messages: list[ReceivedMessage]
) -> WriteResult:
    """Store a batch of messages in one transaction; returns what happened to each item.

    Raises only what the database raised (it is away, or refused the batch's content):
    the caller retries, or isolates the messages at fault (``write_isolating_failures``).
    """
    async with conn.transaction():
        return await _write(conn, messages)


async def write_isolating_failures(
    conn: psycopg.AsyncConnection[tuple[object, ...]], messages: list[ReceivedMessage]
) -> WriteResult:
    """Store a batch the database refused, keeping every message it accepts.

    One transaction; the batch is split in halves, each written in a savepoint, until
    each message the database still refuses stands alone. Such a message costs its
    savepoints and becomes ``store_failed`` rejects (one per item, with its payload and
    the error named); every other message is stored. One bad message in a batch of n
    costs about 2·log2(n) savepoints, not n. Raises when the connection breaks, or when
    even those rejects cannot be stored.
    """
    async with conn.transaction():
        result, failed = await _isolate(conn, messages)
        if failed:
            async with conn.transaction():
                result = result + await _write(conn, failed)
                await conn.execute(EMPTY_STAGING)
    return result


async def _isolate(
    conn: psycopg.AsyncConnection[tuple[object, ...]], messages: list[ReceivedMessage]
) -> tuple[WriteResult, list[ReceivedMessage]]:
    """Write ``messages`` in a savepoint, or their halves apart; what was refused."""
    try:
        async with conn.transaction():
            result = await _write(conn, messages)
            await conn.execute(EMPTY_STAGING)  # the next savepoint stages from empty
        return result, []
    except Exception as exc:
        if conn.broken or conn.closed:
            raise
        if len(messages) == 1:
            message = messages[0]
            log.error(
                "the database refused a message on %s (%s); storing it as store_failed",
                text(message.topic),
                _describe(exc).strip().splitlines()[0],
            )
            return WriteResult(0, 0, 0, 0), [
                message.failed(f"database refused the message: {_describe(exc)}")
            ]
    half = len(messages) // 2
    first, failed_first = await _isolate(conn, messages[:half])
    second, failed_second = await _isolate(conn, messages[half:])
    return first + second, failed_first + failed_second


async def _write(
    conn: psycopg.AsyncConnection[tuple[object, ...]], messages: list[ReceivedMessage]
) -> WriteResult:
    encoded = [_encode(m) for m in messages]
    n_readings = sum(len(e.rows) for e in encoded)
    stored = rejected = 0
    conflicts: dict[int, list[Rejection]] = {}
    async with conn.cursor() as cur:
        if n_readings:
            async with cur.copy(
                "COPY staging_readings (item, station_id, parameter, ts, value, original_value,"
                " original_unit, status, source_format, received_at)"
                " FROM STDIN (FORMAT BINARY)"
            ) as copy:
                copy.set_types(READING_TYPES)
                item = 0
                for e in encoded:
                    for row in e.rows:
                        await copy.write_row((item, *row))
                        item += 1
            await cur.execute(MERGE_READINGS)
            counted = await cur.fetchone()
            stored = int(counted[0]) if counted else 0  # type: ignore[call-overload]
            if stored < n_readings:
                conflicts = await _conflicts(cur, encoded)
        rejecting = [e for i, e in enumerate(encoded) if e.rejections or conflicts.get(i)]
        n_rows = 0
        if rejecting:
            async with cur.copy(
                "COPY staging_payloads (payload_digest, payload, payload_bytes)"
                " FROM STDIN (FORMAT BINARY)"
            ) as copy:
                copy.set_types(PAYLOAD_TYPES)
                for e in rejecting:
                    await copy.write_row(_payload_row(e.message))
            await cur.execute(MERGE_PAYLOADS)
            async with cur.copy(
                "COPY staging_rejected (received_at, topic, station_id, reason_code, reason,"
                " reading_index, payload_digest) FROM STDIN (FORMAT BINARY)"
            ) as copy:
                copy.set_types(REJECT_TYPES)
                for i, e in enumerate(encoded):
                    if e.rejections or conflicts.get(i):
                        for reject in _reject_rows(e, conflicts.get(i, [])):
                            await copy.write_row(reject)
                            n_rows += 1
            await cur.execute(MERGE_REJECTED)
            counted = await cur.fetchone()
            rejected = int(counted[0]) if counted else 0  # type: ignore[call-overload]
    n_conflicts = sum(len(c) for c in conflicts.values())
    items: Counter[str] = Counter()
    for i, e in enumerate(encoded):
        items.update(j.code.value for j in e.rejections)
        items.update(j.code.value for j in conflicts.get(i, []))
    return WriteResult(
        stored, n_readings - stored - n_conflicts, rejected, n_rows - rejected, n_conflicts, items
    )


def _differs(a: Reading, b: Reading) -> bool:
    """Another value or status, as ``ingest_conflicting_readings`` judges it."""
    return a.status != b.status or abs(a.value - b.value) > 1e-9 * max(abs(b.value), 1.0)


async def _conflicts(
    cur: psycopg.AsyncCursor[tuple[object, ...]], encoded: list[_Encoded]
) -> dict[int, list[Rejection]]:
    """The readings not stored because their key holds another value, by message.

    The function compares one reading per key and call (it refuses more). Round one asks
    about the first reading of each key in the batch; a reading equal to one the database
    found equal to what is stored is a duplicate, one equal to a reading found to differ
    is a conflict, and each further round asks about the first reading of each key still
    undecided (a corrected value and the original, both in one batch). Readings still
    undecided after ``CONFLICT_ROUNDS`` are kept as conflicts: nothing is lost either way.
    """
    items = [(i, e.rows[k], r) for i, e in enumerate(encoded) for k, r in enumerate(e.readings)]
    pending: dict[tuple[object, ...], list[int]] = {}
    for position, (_, row, _r) in enumerate(items):
        pending.setdefault((row[0], row[1], row[2]), []).append(position)
    conflicting: set[int] = set()
    for _ in range(CONFLICT_ROUNDS):
        ask = [positions[0] for positions in pending.values()]
        if not ask:
            break
        differs = await _ask(cur, [items[p][1] for p in ask])
        for asked, differ in zip(ask, differs, strict=True):
            key = (items[asked][1][0], items[asked][1][1], items[asked][1][2])
            probe = items[asked][2]
            same = [p for p in pending[key] if not _differs(items[p][2], probe)]
            rest = [p for p in pending[key] if p not in same]
            if differ:
                conflicting.update(same)  # the asked one and every reading equal to it
                pending[key] = rest
            else:
                conflicting.update(rest)  # the key holds the asked value: the rest differ
                pending[key] = []
            if not pending[key]:
                del pending[key]
    for positions in pending.values():
        conflicting.update(positions)
    conflicts: dict[int, list[Rejection]] = {}
    for position in sorted(conflicting):
        i, row, r = items[position]
        ts = row[2]
        assert isinstance(ts, datetime)
        why = (
            f"{r.parameter} at {ts.isoformat()}: {r.value:g} (status {r.status}) differs"
            " from the value or status already stored, which is kept"
        )
        conflicts.setdefault(i, []).append(Rejection(Reason.CONFLICTING_VALUE, why, r.index))
    return conflicts


async def _ask(
    cur: psycopg.AsyncCursor[tuple[object, ...]], rows: list[tuple[object, ...]]
) -> list[bool]:
    """For each row (one per key), whether its key holds another value or status."""
    differs = [False] * len(rows)
    for start in range(0, len(rows), CONFLICT_CANDIDATES_PER_CALL):
        chunk = rows[start : start + CONFLICT_CANDIDATES_PER_CALL]
        await cur.execute(
            CONFLICTING_READINGS,
            (
                [row[0] for row in chunk],
                [row[1] for row in chunk],
                [row[2] for row in chunk],  # UTC, from the encoding
                [row[3] for row in chunk],
                [row[6] for row in chunk],
            ),
        )
        for (ordinal,) in await cur.fetchall():
            assert isinstance(ordinal, int)
            differs[start + ordinal - 1] = True
    return differs


# -- the writer: one connection, retries, and a stop that is heard --------------------

MAX_DB_BACKOFF_S = 10.0
# A batch the database keeps refusing while the connection stays usable is written apart
# (``write_isolating_failures``) after this many attempts: a message that always fails
# is then the likeliest cause, and it must not hold every other station's data back.
ATTEMPTS_BEFORE_ISOLATING = 4
# After ``stop``, a write already under way may finish within this time (the last batch
# of an orderly shutdown); a write still hanging then is abandoned, its messages unacked.
STOP_GRACE_S = 10.0


def database_trouble(
    conn: psycopg.AsyncConnection[tuple[object, ...]] | None, exc: Exception
) -> bool:
    """True when ``exc`` says the database is away or unwell, not that a message is bad.

    Content errors are those a message can cause: data exceptions (22…), integrity
    violations (23…), program limits (54…), PostgreSQL's internal errors and anything
    raised in Python. Everything else — a lost connection, a full disk, a cancelled
    statement, a missing privilege — is retried with the whole batch held unacked.
    """
    if conn is None or conn.broken or conn.closed:
        return True
    if isinstance(exc, OSError | psycopg.InterfaceError):
        return True
    content = (
        psycopg.DataError,
        psycopg.IntegrityError,
        psycopg.InternalError,
        psycopg.errors.ProgramLimitExceeded,
    )
    return isinstance(exc, psycopg.Error) and not isinstance(exc, content)


def first_line(exc: BaseException) -> str:
    line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {line}" if line else type(exc).__name__


async def stopped_within(stop: asyncio.Event, seconds: float) -> bool:
    """Wait ``seconds`` unless ``stop`` is set first; True when it was."""
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        return False
    return True


class WriterStopped(Exception):  # noqa: N818 - a signal within the writer, never escapes it
    """``stop`` was set while the database was away or a write hung."""


class Writer:
    """Commits batches of messages to the database, retrying until it can or is stopped.

    Nothing a message holds can stop a commit: a batch the database refuses for its
    content is written apart in savepoints (``write_isolating_failures``), without a
    reconnect, and a message it still refuses becomes ``store_failed`` rejects. Only the
    database being away or unwell holds the batch for a retry with backoff; ``stop``
    ends the waiting, and also a connect or write that hangs (after ``STOP_GRACE_S``).
    """

    def __init__(self, database_url: str, metrics: IngestMetrics | None = None) -> None:
        self.database_url = database_url
        self.metrics = metrics or IngestMetrics()
        self._conn: psycopg.AsyncConnection[tuple[object, ...]] | None = None

    async def connect(self) -> psycopg.AsyncConnection[tuple[object, ...]]:
        """The open connection, made (with its staging tables) when there is none."""
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = await psycopg.AsyncConnection.connect(
                self.database_url,
                autocommit=True,
                application_name="aqm-ingest",
                connect_timeout=5,
            )
            await prepare(self._conn)
            self.metrics.db_connected.set(1)
            log.info("connected to the database")
        return self._conn

    async def close(self) -> None:
        self.metrics.db_connected.set(0)
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(psycopg.Error, OSError):
                await conn.close()

    async def connect_until_stopped(self, stop: asyncio.Event) -> bool:
        """Connect, retrying with backoff; False when ``stop`` came first."""
        backoff = 0.5
        while not stop.is_set():
            try:
                await self._unless_stopped(self.connect(), stop, grace=0.0)
                return True
            except WriterStopped:
                return False
            except (psycopg.Error, OSError) as exc:
                log.warning("database not reachable (%s); retrying in %.1f s", exc, backoff)
                await self.close()
                if await stopped_within(stop, backoff):
                    return False
                backoff = min(backoff * 2, MAX_DB_BACKOFF_S)
        return False

    async def commit(
        self, messages: list[ReceivedMessage], stop: asyncio.Event
    ) -> WriteResult | None:
        """Commit ``messages``; None when ``stop`` was set before the database took them."""
        backoff = 0.5
        attempts = 0
        while True:
            attempts += 1
            try:
                return await self._unless_stopped(
                    self._attempt(messages, attempts), stop, STOP_GRACE_S
                )
            except WriterStopped:
                return None
            except Exception as exc:
                self.metrics.db_errors.inc()
                log.warning(
                    "database write failed (%s); holding %d messages unacked, retry in %.1f s",
                    first_line(exc),
                    len(messages),
                    backoff,
                )
                if self._conn is None or self._conn.broken or self._conn.closed:
                    await self.close()
                if await stopped_within(stop, backoff):
                    return None
                backoff = min(backoff * 2, MAX_DB_BACKOFF_S)

    async def _attempt(self, messages: list[ReceivedMessage], attempts: int) -> WriteResult:
        conn = await self.connect()
        try:
            return await write_batch(conn, messages)
        except Exception as exc:
            if database_trouble(conn, exc) and attempts < ATTEMPTS_BEFORE_ISOLATING:
                raise
            self.metrics.db_errors.inc()
            log.error(
                "the database refused a batch of %d messages (%s); isolating the messages at fault",
                len(messages),
                first_line(exc),
            )
            return await write_isolating_failures(conn, messages)

    async def _unless_stopped(self, work: Awaitable[T], stop: asyncio.Event, grace: float) -> T:
        """``work``'s result; WriterStopped when it is still running ``grace`` s after stop."""
        task = asyncio.ensure_future(work)
        stopper = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
            if not task.done():
                await asyncio.wait({task}, timeout=grace)
        finally:
            stopper.cancel()
        if not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
            await self.close()  # whatever the cancelled statement left behind
            raise WriterStopped
        return task.result()
