"""The one place files meet ``ingest.writer``: a file becomes a ``ReceivedMessage``, a
batch of them is written with ``write_batch`` and recorded in ``ftp_files`` in the same
transaction. Only the writer's public functions are used.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import datetime, tzinfo
from typing import Any

import psycopg

from ingest.decode import decode
from ingest.files.inbox import InboxFile
from ingest.files.naming import measured_at_from_name
from ingest.model import Decoded, Reason, Rejection
from ingest.validate import StationInfo, ValidationPolicy, judge
from ingest.writer import STORED_PAYLOAD_LIMIT, ReceivedMessage, WriteResult, write_batch

RECORD_FILE = """
INSERT INTO ftp_files (station_id, file_name, digest, size, measured_at, received_at,
                       readings, rejected, payload)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (station_id, file_name, digest) DO NOTHING
"""


@dataclass(frozen=True, slots=True)
class JudgedFile:
    file: InboxFile
    message: ReceivedMessage
    content: bytes  # the whole file (its first bytes only when too large)
    size: int
    measured_at: datetime | None


def judge_file(
    file: InboxFile,
    content: bytes,
    size: int,
    registry: dict[str, StationInfo],
    policy: ValidationPolicy,
    local_tz: tzinfo,
    max_bytes: int,
    now: datetime,
    digest: bytes | None = None,
) -> JudgedFile:
    """Decode and validate one file as its station's: the station is the folder's.

    A file of more than ``max_bytes`` (``content`` its first bytes, ``size`` what was
    received, ``digest`` its identity, see ``processor._read``) is never decoded: it is
    one ``payload_too_large`` reject.
    """
    if size > max_bytes:
        decoded = Decoded(None, [], [Rejection(
            Reason.PAYLOAD_TOO_LARGE,
            f"{size} bytes received, more than the limit of {max_bytes} bytes"
            " (AQM_FTP_MAX_FILE_BYTES); not read",
        )])  # fmt: skip
    else:
        try:
            decoded = decode(content, local_tz, now, max_bytes)
        except Exception as exc:  # a decoder bug must not stop the other files
            decoded = Decoded(None, [], [Rejection(
                Reason.DECODER_ERROR, f"{file.name}: decoder failed: {type(exc).__name__}: {exc}"
            )])  # fmt: skip
    judgement = judge(decoded, file.station, registry, policy, now)
    rejections = [
        Rejection(r.code, f"{file.name}: {r.message}", r.index) for r in judgement.rejections
    ]
    message = ReceivedMessage.of(
        file.topic, content, file.received_at, file.station, judgement.readings, rejections
    )
    if size > max_bytes:  # the first bytes kept, the size as received, its own identity
        message = replace(
            message,
            payload=content[:STORED_PAYLOAD_LIMIT],
            digest=digest or message.digest,
            size=size,
        )
    measured = min((r.ts for r in judgement.readings), default=None) or measured_at_from_name(
        file.name, local_tz
    )
    return JudgedFile(file, message, content, size, measured)


async def store_files(conn: psycopg.AsyncConnection[Any], files: list[JudgedFile]) -> WriteResult:
    """Readings, rejects and the file records of ``files``, in one transaction."""
    async with conn.transaction():
        result = await write_batch(conn, [f.message for f in files])
        async with conn.cursor() as cur:
            await cur.executemany(RECORD_FILE, [_record(f) for f in files])
    return result


def failed(judged: JudgedFile, why: str) -> JudgedFile:
    """The same file with every item rejected as ``store_failed``."""
    return JudgedFile(
        judged.file, judged.message.failed(why), judged.content, judged.size, judged.measured_at
    )


def _record(f: JudgedFile) -> tuple[object, ...]:
    return (
        f.file.station,
        f.file.name,
        hashlib.sha256(f.content).digest(),
        f.size,
        f.measured_at,
        f.file.received_at,
        len(f.message.readings),
        len(f.message.rejections),
        f.content if f.size <= len(f.content) else f.content[:STORED_PAYLOAD_LIMIT],
    )
