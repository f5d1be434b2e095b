"""Write one batch in one transaction: COPY into staging tables, then set-based merges.

Readings go through ``INSERT … SELECT … ON CONFLICT (station_id, parameter, ts) DO
NOTHING``: the first stored value of a reading wins and a redelivered message is
harmless. A reading that is not stored because its key already holds *another* value or
status (a corrected re-upload, one parameter twice in a message) is not a harmless
duplicate: it goes to ``rejected_messages`` as ``conflicting_value`` with its payload, so
nothing received is lost. Only batches with unstored readings pay for that check.

The station-hours of the rows actually inserted are queued for the AQI
worker in the same statement, and rejects are stored in the same transaction, so a
batch is either wholly committed or not at all — and only then acknowledged.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

import psycopg

from ingest.model import Reading, Reason, Rejection

STAGING_DDL = """
CREATE TEMP TABLE IF NOT EXISTS staging_readings (
    station_id text, parameter text, ts timestamptz, value double precision,
    original_value double precision, original_unit text, status text,
    source_format text, received_at timestamptz
) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS staging_rejected (
    received_at timestamptz, topic text, station_id text, reason_code text, reason text,
    reading_index integer, payload bytea, payload_digest bytea
) ON COMMIT DELETE ROWS;
"""

MERGE_READINGS = """
WITH inserted AS (
    INSERT INTO readings (station_id, parameter, ts, value, original_value, original_unit,
                          status, source_format, received_at)
    SELECT DISTINCT ON (station_id, parameter, ts)
           station_id, parameter, ts, value, original_value, original_unit,
           status, source_format, received_at
    FROM staging_readings
    ORDER BY station_id, parameter, ts, received_at
    ON CONFLICT (station_id, parameter, ts) DO NOTHING
    RETURNING station_id, ts
), dirty AS (
    INSERT INTO aqi_dirty_hours (station_id, hour)
    SELECT DISTINCT station_id, time_bucket(INTERVAL '1 hour', ts) FROM inserted
)
SELECT count(*) FROM inserted
"""

# Positions (1-based, in batch order) of readings whose key now holds another value or
# status than theirs: stored by an earlier batch, or by this one from another reading.
# A function of migration 0008: ingest may not read stored values itself.
CONFLICTING_READINGS = "SELECT item FROM ingest_conflicting_readings(%s, %s, %s, %s, %s)"

MERGE_REJECTED = """
WITH inserted AS (
    INSERT INTO rejected_messages (received_at, topic, station_id, reason_code, reason,
                                   reading_index, payload, payload_digest)
    SELECT DISTINCT ON (payload_digest, reading_index, reason_code) *
    FROM staging_rejected
    ON CONFLICT (payload_digest, reading_index, reason_code) DO NOTHING
    RETURNING 1
)
SELECT count(*) FROM inserted
"""


# Rejected payloads are stored as received, except oversized ones: their first 64 KiB
# and the digest of the whole are enough to identify them, and storing hundreds of MB
# of garbage would let a hostile client fill the database.
STORED_PAYLOAD_LIMIT = 64 * 1024


@dataclass(frozen=True, slots=True)
class ReceivedMessage:
    """One MQTT message as ingest received it, with what validation made of it.

    ``payload`` is kept only when something of the message is rejected (it is stored
    with the reject); ``digest`` identifies the message as received.
    """

    topic: str
    payload: bytes
    digest: bytes
    received_at: datetime
    station_id: str | None
    readings: list[Reading]
    rejections: list[Rejection]

    @classmethod
    def of(
        cls,
        topic: str,
        payload: bytes,
        received_at: datetime,
        station_id: str | None,
        readings: list[Reading],
        rejections: list[Rejection],
    ) -> ReceivedMessage:
        digest = hashlib.sha256(topic.encode() + b"\0" + payload).digest()
        # Kept for every message: a conflicting value is only found when storing. A slice
        # of a payload within the limit is the payload itself (no copy).
        kept = payload[:STORED_PAYLOAD_LIMIT]
        return cls(topic, kept, digest, received_at, station_id, readings, rejections)

    def failed(self, why: str) -> ReceivedMessage:
        """The same message with every item rejected as ``store_failed``."""
        # one reject per item, so the counts still reconcile
        rejections = [Rejection(Reason.STORE_FAILED, why, i) for i in range(self.items)]
        return ReceivedMessage(
            self.topic, self.payload, self.digest, self.received_at, self.station_id, [], rejections
        )

    @property
    def items(self) -> int:
        return len(self.readings) + len(self.rejections)


def text(value: str | None) -> str | None:
    """PostgreSQL text cannot hold NUL; keep everything else as received."""
    return value.replace("\x00", "\ufffd") if value is not None else None


# Binary COPY: timestamps and floats go as they are, without text formatting and parsing.
READING_TYPES = (
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


@dataclass(frozen=True, slots=True)
class WriteResult:
    stored: int
    duplicates: int
    rejected: int
    rejected_duplicates: int
    conflicts: int = 0
    """Readings not stored because their key holds another value (rejected, not duplicates)."""

    def __add__(self, other: WriteResult) -> WriteResult:
        return WriteResult(
            self.stored + other.stored,
            self.duplicates + other.duplicates,
            self.rejected + other.rejected,
            self.rejected_duplicates + other.rejected_duplicates,
            self.conflicts + other.conflicts,
        )


async def prepare(conn: psycopg.AsyncConnection[tuple[object, ...]]) -> None:
    """Create the per-connection staging tables (once per connection)."""
    async with conn.transaction():
        await conn.execute(STAGING_DDL)


async def write_batch(
    conn: psycopg.AsyncConnection[tuple[object, ...]], messages: list[ReceivedMessage]
) -> WriteResult:
    """Store a batch of messages in one transaction; returns what happened to each item."""
    n_readings = sum(len(m.readings) for m in messages)
    stored = rejected = 0
    conflicts: list[tuple[ReceivedMessage, Rejection]] = []
    async with conn.transaction(), conn.cursor() as cur:
        if n_readings:
            async with cur.copy(
                "COPY staging_readings (station_id, parameter, ts, value, original_value,"
                " original_unit, status, source_format, received_at) FROM STDIN (FORMAT BINARY)"
            ) as copy:
                copy.set_types(READING_TYPES)
                for m in messages:
                    for r in m.readings:
                        await copy.write_row(
                            (
                                r.station_id,
                                r.parameter,
                                r.ts,
                                r.value,
                                r.original_value,
                                r.original_unit,
                                r.status,
                                r.source_format.value,
                                m.received_at,
                            )
                        )
            await cur.execute(MERGE_READINGS)
            row = await cur.fetchone()
            stored = int(row[0]) if row else 0  # type: ignore[call-overload]
            if stored < n_readings:
                conflicts = await _conflicts(cur, messages)
        rejects = [(m, j) for m in messages for j in m.rejections] + conflicts
        if rejects:
            async with cur.copy(
                "COPY staging_rejected (received_at, topic, station_id, reason_code, reason,"
                " reading_index, payload, payload_digest) FROM STDIN"
            ) as copy:
                for m, j in rejects:
                    await copy.write_row(
                        (
                            m.received_at,
                            text(m.topic),
                            text(m.station_id),
                            j.code.value,
                            text(j.message),
                            j.index,
                            m.payload,
                            m.digest,
                        )
                    )
            await cur.execute(MERGE_REJECTED)
            row = await cur.fetchone()
            rejected = int(row[0]) if row else 0  # type: ignore[call-overload]
    return WriteResult(
        stored,
        n_readings - stored - len(conflicts),
        rejected,
        len(rejects) - rejected,
        len(conflicts),
    )


async def _conflicts(
    cur: psycopg.AsyncCursor[tuple[object, ...]], messages: list[ReceivedMessage]
) -> list[tuple[ReceivedMessage, Rejection]]:
    """The readings of ``messages`` not stored because their key holds another value."""
    items = [(m, r) for m in messages for r in m.readings]
    columns = (
        [r.station_id for _, r in items],
        [r.parameter for _, r in items],
        [r.ts for _, r in items],
        [r.value for _, r in items],
        [r.status for _, r in items],
    )
    await cur.execute(CONFLICTING_READINGS, columns)
    conflicts = []
    for (position,) in await cur.fetchall():
        assert isinstance(position, int)
        message, r = items[position - 1]
        why = (
            f"{r.parameter} at {r.ts.isoformat()}: {r.value:g} (status {r.status}) differs"
            " from the value or status already stored, which is kept"
        )
        conflicts.append((message, Rejection(Reason.CONFLICTING_VALUE, why, r.index)))
    return conflicts
