"""Store complete files: decode → validate → write (one transaction per batch of files),
then archive each file. Files come from the FTP server (as each upload completes), from
the spool watcher, and from a scan of ``incoming`` at start and every
``RESCAN_S`` seconds (what a crash or a database outage left behind).

A file moves to the archive only after its transaction committed: a crash before
reprocesses it (readings merge, rejects are deduplicated, the file record is unique),
so nothing is lost and nothing stored twice. A batch the database refuses for its
content is written file by file, and a file still refused is kept as ``store_failed``
rejects: one station's bad file never stops another's. A file that cannot be read from
disk is left in place and tried again at the next scan.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg

from aqm_core.settings import Settings
from ingest.files.inbox import Inbox, InboxFile
from ingest.files.metrics import FtpMetrics
from ingest.files.store import JudgedFile, failed, judge_file, store_files
from ingest.registry import load_registry
from ingest.validate import StationInfo, ValidationPolicy
from ingest.writer import STORED_PAYLOAD_LIMIT, WriteResult, prepare

log = logging.getLogger("aqm.ftp")

BATCH_FILES = 500
BATCH_WAIT_S = 0.05
RESCAN_S = 30.0
REGISTRY_REFRESH_S = 30.0
MAX_DB_BACKOFF_S = 10.0
PURGE_EVERY_S = 3600.0
PRUNE_ROWS = 10_000


class FileProcessor:
    def __init__(
        self,
        settings: Settings,
        inbox: Inbox,
        metrics: FtpMetrics | None = None,
        scanners: tuple[Callable[[], list[InboxFile]], ...] = (),
    ) -> None:
        self.settings = settings
        self.inbox = inbox
        self.metrics = metrics or FtpMetrics()
        self.scanners = (inbox.pending, *scanners)
        self.local_tz = ZoneInfo(settings.timezone)
        self.policy = ValidationPolicy(
            future_tolerance=timedelta(seconds=settings.future_tolerance_s),
            past_horizon=timedelta(days=settings.past_horizon_days),
        )
        self.registry: dict[str, StationInfo] = {}
        self._registry_at = 0.0
        self._queue: asyncio.Queue[InboxFile] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queued: set[Path] = set()
        self._conn: psycopg.AsyncConnection[tuple[object, ...]] | None = None
        self.totals = WriteResult(0, 0, 0, 0)
        self.files_done = 0

    # -- feeding ---------------------------------------------------------------

    def submit_threadsafe(self, file: InboxFile) -> None:
        """Hand over a complete file from another thread (the FTP server's)."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._submit, file)

    def _submit(self, file: InboxFile) -> None:
        if self._queue is None or file.path in self._queued:
            return
        self._queued.add(file.path)
        self.metrics.files_received.inc()
        self._queue.put_nowait(file)
        self.metrics.pending_files.set(len(self._queued))

    def _scan(self) -> None:
        for scanner in self.scanners:
            try:
                found = scanner()
            except OSError as exc:
                log.error("cannot scan for files: %s", exc)
                continue
            for file in found:
                self._submit(file)

    # -- the loop --------------------------------------------------------------

    async def run(
        self, stop: asyncio.Event, scan_every_s: float = RESCAN_S, poll_s: float = 1.0
    ) -> None:
        """Store files until ``stop`` is set; then finish the batch in flight."""
        self._loop = asyncio.get_running_loop()
        self._queue = asyncio.Queue()
        try:
            await self._db()  # connect now, so the log and the metrics tell the truth
        except (psycopg.Error, OSError) as exc:
            log.warning("database not reachable yet (%s); files wait in incoming", exc)
            await self._drop_db()
        self._scan()  # what a crash or an outage left behind, first
        last_full_scan = last_poll = time.monotonic()
        last_purge = last_full_scan - PURGE_EVERY_S  # prune once at start, then hourly
        try:
            while not stop.is_set():
                batch = await self._next_batch(stop, poll_s)
                now = time.monotonic()
                if now - last_full_scan >= scan_every_s:
                    last_full_scan = now
                    self._scan()
                elif self.scanners[1:] and now - last_poll >= poll_s:
                    last_poll = now
                    for scanner in self.scanners[1:]:
                        for file in scanner():
                            self._submit(file)
                if now - last_purge >= PURGE_EVERY_S:
                    last_purge = now
                    removed = await asyncio.to_thread(self.inbox.purge_archive)
                    if removed:
                        log.info(
                            "archive: %d files older than %d days removed",
                            removed,
                            self.inbox.archive_days,
                        )
                    await self._prune_payloads()
                if batch:
                    await self._process(batch, stop)
        finally:
            if self._conn is not None:
                with contextlib.suppress(psycopg.Error):
                    await self._conn.close()

    async def _next_batch(self, stop: asyncio.Event, poll_s: float) -> list[InboxFile]:
        assert self._queue is not None
        batch: list[InboxFile] = []
        try:
            batch.append(await asyncio.wait_for(self._queue.get(), poll_s))
        except TimeoutError:
            return batch
        deadline = time.monotonic() + BATCH_WAIT_S
        while len(batch) < BATCH_FILES and not stop.is_set():
            try:
                batch.append(self._queue.get_nowait())
            except asyncio.QueueEmpty:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                try:
                    batch.append(await asyncio.wait_for(self._queue.get(), left))
                except TimeoutError:
                    break
        return batch

    async def _process(self, batch: list[InboxFile], stop: asyncio.Event) -> None:
        await self._refresh_registry()
        now = datetime.now(UTC)
        judged: list[JudgedFile] = []
        for file in batch:
            read = _read(file, self.settings.ftp_max_file_bytes)
            if read is None:  # gone or unreadable: the next scan tries again
                self._queued.discard(file.path)
                continue
            content, size, digest = read
            judged.append(
                judge_file(
                    file,
                    content,
                    size,
                    self.registry,
                    self.policy,
                    self.local_tz,
                    self.settings.ftp_max_file_bytes,
                    now,
                    digest,
                )
            )
        if not judged:
            return
        result = await self._write_with_retry(judged, stop)
        if result is None:  # stopping while the database is away: the files stay
            for f in judged:
                self._queued.discard(f.file.path)
            return
        committed = time.time()
        for f in judged:
            self.metrics.receive_to_commit_seconds.observe(
                max(0.0, committed - f.file.received_at.timestamp())
            )
            try:
                self.inbox.done(f.file)
            except OSError as exc:
                log.error(
                    "%s: stored, but cannot archive (%s); it will be stored again, harmlessly",
                    f.file.path,
                    exc,
                )
            self._queued.discard(f.file.path)
        self.metrics.pending_files.set(len(self._queued))
        self.metrics.files_stored.inc(len(judged))
        self.metrics.readings_stored.inc(result.stored)
        self.metrics.readings_duplicate.inc(result.duplicates)
        self.metrics.items_rejected.inc(result.rejected + result.conflicts)
        self.totals = self.totals + result
        self.files_done += len(judged)
        log.info(
            "%d files stored: %d readings new, %d already stored, %d rejected",
            len(judged),
            result.stored,
            result.duplicates,
            result.rejected,
        )

    async def _prune_payloads(self) -> None:
        """Empty the payloads of ``ftp_files`` (and of delivered ``forward_deliveries``)
        older than the archive's retention, except those forwarding still needs
        (migration 0018, ``ftp_prune_payloads``). A database away: tried next time."""
        days = max(self.inbox.archive_days, 0)
        files = deliveries = 0
        held = 0
        try:
            conn = await self._db()
            while True:
                cur = await conn.execute(
                    "SELECT * FROM ftp_prune_payloads(make_interval(days => %s), %s)",
                    (days, PRUNE_ROWS),
                )
                row = await cur.fetchone()
                assert row is not None
                f, d, h = (int(v) for v in row)  # type: ignore[call-overload]
                files, deliveries, held = files + f, deliveries + d, h
                if f < PRUNE_ROWS and d < PRUNE_ROWS:
                    break
        except (psycopg.Error, OSError) as exc:
            log.warning("cannot prune stored file payloads (%s); tried again later", exc)
            await self._drop_db()
            return
        if files or deliveries:
            log.info(
                "payloads older than %d days emptied: %d received files, %d deliveries",
                days,
                files,
                deliveries,
            )
        if held:
            log.warning(
                "%d received files older than %d days keep their payload: forwarding still "
                "needs them (a delivery pending, or a destination's planner behind)",
                held,
                days,
            )

    async def _refresh_registry(self) -> None:
        if time.monotonic() - self._registry_at < REGISTRY_REFRESH_S and self.registry:
            return
        try:
            self.registry = await load_registry(self.settings.database_url)
            self._registry_at = time.monotonic()
        except (psycopg.Error, OSError) as exc:
            log.warning("cannot read the station registry (%s); using the last one", exc)

    async def _db(self) -> psycopg.AsyncConnection[tuple[object, ...]]:
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = await psycopg.AsyncConnection.connect(
                self.settings.database_url, autocommit=True, application_name="aqm-ftp",
                connect_timeout=5,
            )  # fmt: skip
            await prepare(self._conn)
            self.metrics.db_connected.set(1)
            log.info("connected to the database")
        return self._conn

    async def _drop_db(self) -> None:
        self.metrics.db_connected.set(0)
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                await self._conn.close()
        self._conn = None

    async def _write_with_retry(
        self, judged: list[JudgedFile], stop: asyncio.Event
    ) -> WriteResult | None:
        backoff = 0.5
        while True:
            try:
                return await store_files(await self._db(), judged)
            except (psycopg.OperationalError, psycopg.InterfaceError, OSError) as exc:
                self.metrics.db_errors.inc()
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                log.warning(
                    "database write failed (%s); %d files wait in incoming, retry in %.1f s",
                    first,
                    len(judged),
                    backoff,
                )
                await self._drop_db()
                if stop.is_set():
                    return None
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), backoff)
                backoff = min(backoff * 2, MAX_DB_BACKOFF_S)
            except psycopg.Error as exc:
                self.metrics.db_errors.inc()
                log.error(
                    "batch of %d files refused by the database (%s); storing them one by one",
                    len(judged),
                    exc,
                )
                await self._drop_db()
                return await self._one_by_one(judged)

    async def _one_by_one(self, judged: list[JudgedFile]) -> WriteResult:
        total = WriteResult(0, 0, 0, 0)
        for f in judged:
            try:
                result = await store_files(await self._db(), [f])
            except psycopg.Error as exc:
                await self._drop_db()
                log.error(
                    "%s: refused by the database (%s); kept as store_failed rejects",
                    f.file.topic,
                    exc,
                )
                result = await store_files(
                    await self._db(), [failed(f, f"database refused the file: {exc}"[:500])]
                )
            total = total + result
        return total


def _read(file: InboxFile, max_bytes: int) -> tuple[bytes, int, bytes | None] | None:
    """The file's content, its size, and for a file larger than ``max_bytes`` the digest
    that identifies it.

    A file larger than ``max_bytes`` is never read as data: its first bytes are kept
    (at most 64 KiB, never beyond the limit and one byte) and it is identified by the
    topic and its first ``max_bytes + 1`` bytes. An upload cut off for its size ends a
    little after the limit, wherever a network read ended, so the same file sent again
    is recognised as the same reject however much more of it arrived.
    """
    try:
        with open(file.path, "rb") as handle:
            size = handle.seek(0, 2)
            handle.seek(0)
            if size <= max_bytes:
                return handle.read(size), size, None
            digest = hashlib.sha256(file.topic.encode("utf-8", "surrogatepass") + b"\0")
            content = b""
            left = max_bytes + 1
            while left > 0:
                chunk = handle.read(min(left, 1 << 20))
                if not chunk:
                    break
                if len(content) < STORED_PAYLOAD_LIMIT:
                    content += chunk[: STORED_PAYLOAD_LIMIT - len(content)]
                digest.update(chunk)
                left -= len(chunk)
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.error("%s: cannot read (%s); tried again at the next scan", file.path, exc)
        return None
    return content, size, digest.digest()
