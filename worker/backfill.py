"""Recompute history (``aqm aqi backfill``): station groups in parallel, chunks of days, resumable.

The stations are dealt into groups (by default one per CPU), each backfilled on its own
connection and thread. A group recomputes one chunk of days per transaction, which
also moves its stations' cursors in ``aqi_backfill_progress``, so an interrupted
backfill (Ctrl-C, SIGTERM, a crash) resumes every station at the first chunk not
committed when the same command runs again — with any number of groups. A job that
finished starts over when asked again (the user wants the range recomputed);
``restart`` forces a fresh start of an unfinished one.

A chunk recomputes ``hourly`` from the readings of its stations and days, then the AQI
exactly as the worker does for late data, so a backfill and the live worker agree row
for row, and a parallel backfill agrees with a serial one. Groups never share a
station, and the station locks (:mod:`storage.dirty_queue`) make a group and a running
worker take turns on a station.

Threads suffice for parallelism: a group's time is spent waiting for PostgreSQL, which
does the work in its own process per connection, and psycopg releases the GIL while
waiting.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import psycopg

from aqm_core.errors import AqmError
from aqm_core.settings import Settings
from storage import dirty_queue
from storage.dirty_queue import BackfillJob
from worker.recompute import BatchReport, prepare, recompute_days, rules_of
from worker.timeline import LocalCalendar

log = logging.getLogger(__name__)

DEFAULT_CHUNK_DAYS = 31
"""Days per transaction. Each chunk also recomputes the hours and day its NowCasts and
days reach past its end, which the next chunk recomputes again: 14-day chunks took
15–20 % longer than 31-day ones on a year of 100 stations; 62 and 92 gained nothing more."""
MAX_CHUNK_ATTEMPTS = 3
"""A chunk rolled back by a deadlock or serialization failure is tried again this often."""


class UnknownStationError(AqmError, ValueError):
    """The station given to a backfill is not in the registry."""


@dataclass(frozen=True)
class ChunkDone:
    """One committed chunk of one station group."""

    first_day: dt.date
    last_day: dt.date
    stations: tuple[str, ...]
    report: BatchReport

    @property
    def station_days(self) -> int:
        return ((self.last_day - self.first_day).days + 1) * len(self.stations)


ChunkCallback = Callable[[ChunkDone], None]


@dataclass
class BackfillSummary:
    job: BackfillJob
    resumed_from: dt.date | None  # the earliest day an unfinished job resumed at
    days_done: int  # days the job's cursor (its earliest station) moved in this run
    finished: bool  # False when stopped early
    report: BatchReport
    groups: int  # station groups run in parallel


@dataclass(frozen=True)
class _Run:
    """What every group of one run shares."""

    database_url: str
    settings: Settings
    calendar: LocalCalendar
    job: BackfillJob
    chunk_days: int
    now: dt.datetime | None
    should_stop: Callable[[], bool]
    chunk_done: ChunkCallback
    indices_only: bool = False


def run_backfill(
    database_url: str,
    settings: Settings,
    from_day: dt.date,
    to_day: dt.date,
    *,
    station_id: str | None = None,
    chunk_days: int = DEFAULT_CHUNK_DAYS,
    parallelism: int | None = None,
    restart: bool = False,
    stop: threading.Event | None = None,
    on_start: Callable[[BackfillJob], None] | None = None,
    on_chunk: ChunkCallback | None = None,
    now: dt.datetime | None = None,
    indices_only: bool = False,
) -> BackfillSummary:
    """Recompute ``hourly``, ``aqi_hourly`` and ``aqi_daily`` for local days ``from…to``.

    Parameters
    ----------
    database_url : str
        Connection as ``aqm_worker`` (or any role with its privileges).
    from_day, to_day : date
        Local days (``settings.timezone``), inclusive.
    station_id : str, optional
        One station instead of all registered stations.
    chunk_days : int
        Days per transaction.
    parallelism : int, optional
        Station groups backfilled at once, each on its own connection (default: the
        number of CPUs; never more than the stations left).
    restart : bool
        Start an unfinished job over instead of resuming it.
    stop : threading.Event, optional
        Checked between chunks: the chunks in flight are committed, then the run stops.
    on_start, on_chunk : callables, optional
        Progress hooks: the job when it opens; each committed chunk (called from one
        group at a time).
    indices_only : bool
        Keep the stored hourly means and recompute only the AQI tables (a separate job,
        resumable on its own).
    """
    if from_day > to_day:
        raise ValueError(f"--from {from_day} is after --to {to_day}")
    if chunk_days < 1:
        raise ValueError(f"chunk_days must be >= 1, got {chunk_days}")
    if parallelism is not None and parallelism < 1:
        raise ValueError(f"parallelism must be >= 1, got {parallelism}")
    calendar = LocalCalendar.for_timezone(settings.timezone)
    with psycopg.connect(database_url, autocommit=True) as conn:
        stations = dirty_queue.known_stations(conn, station_id)
        if station_id is not None and not stations:
            raise UnknownStationError(f"station {station_id!r} is not in the stations table")
        job = dirty_queue.open_backfill_job(
            conn, from_day, to_day, station_id, stations, restart=restart,
            indices_only=indices_only,
        )  # fmt: skip
    resumed = max(job.cursors.values(), default=from_day) > from_day
    if resumed:
        log.info("resuming backfill %s at %s", job.job_key, job.next_day)
    if on_start:
        on_start(job)

    groups = station_groups(job.cursors, to_day, parallelism or os.cpu_count() or 1)
    total = BatchReport()
    callback_lock = threading.Lock()
    failed = threading.Event()

    def chunk_done(chunk: ChunkDone) -> None:
        with callback_lock:  # one callback at a time: progress bars, lists in tests
            total.add(chunk.report)
            if on_chunk:
                on_chunk(chunk)

    run = _Run(
        database_url, settings, calendar, job, chunk_days, now,
        should_stop=lambda: failed.is_set() or (stop is not None and stop.is_set()),
        chunk_done=chunk_done, indices_only=indices_only,
    )  # fmt: skip
    _run_groups(run, groups, failed)

    with psycopg.connect(database_url, autocommit=True) as conn:
        next_day, finished = dirty_queue.finish_backfill_job(conn, job.job_key)
    total.stations = len(stations)
    days_done = (next_day - job.next_day).days
    return BackfillSummary(
        job, job.next_day if resumed else None, days_done, finished, total, len(groups)
    )


def station_groups(
    cursors: Mapping[str, dt.date], to_day: dt.date, parallelism: int
) -> list[list[str]]:
    """Deal the stations with days left into at most ``parallelism`` groups.

    Stations are dealt in order of their cursor, so each group holds about as many
    stations, with cursors as close as possible (a group's chunk starts at its earliest
    cursor).
    """
    pending = sorted((day, station) for station, day in cursors.items() if day <= to_day)
    n_groups = min(parallelism, len(pending))
    groups: list[list[str]] = [[] for _ in range(n_groups)]
    for i, (_day, station) in enumerate(pending):
        groups[i % n_groups].append(station)
    return groups


def _run_groups(run: _Run, groups: Sequence[list[str]], failed: threading.Event) -> None:
    """Backfill each group on its own thread; the first error stops the others."""
    if len(groups) <= 1:
        for group in groups:
            _backfill_group(run, group)
        return
    with ThreadPoolExecutor(len(groups), thread_name_prefix="backfill") as pool:
        futures = [pool.submit(_backfill_group, run, group) for group in groups]
        for future in futures:
            if future.exception() is not None:
                failed.set()  # the others commit their chunk in flight, then stop
        for future in futures:
            future.result()  # re-raises the first group's error


def _backfill_group(run: _Run, stations: list[str]) -> None:
    """Chunk after chunk of days for one station group, on one connection."""
    job = run.job
    cursors = {station: job.cursors[station] for station in stations}
    day = min(cursors.values())
    with psycopg.connect(run.database_url, autocommit=True) as conn:
        prepare(conn)
        while day <= job.to_day and not run.should_stop():
            last = min(day + dt.timedelta(days=run.chunk_days - 1), job.to_day)
            # A station whose cursor lies further on (an earlier run with other groups)
            # waits until the chunk reaches it; redoing a day it did is harmless.
            members = tuple(s for s in stations if cursors[s] <= last)
            report = _commit_chunk(conn, run, members, day, last)
            log.info("backfill %s … %s, %d stations: %s", day, last, len(members),
                     report.describe())  # fmt: skip
            following = last + dt.timedelta(days=1)
            cursors.update(dict.fromkeys(members, following))
            run.chunk_done(ChunkDone(day, last, members, report))
            day = following


def _commit_chunk(
    conn: psycopg.Connection[tuple[object, ...]],
    run: _Run,
    stations: tuple[str, ...],
    first: dt.date,
    last: dt.date,
) -> BatchReport:
    """Recompute one chunk and move its stations' cursors in one transaction."""
    for attempt in range(1, MAX_CHUNK_ATTEMPTS + 1):
        try:
            with conn.transaction():
                report = recompute_days(
                    conn, stations, first, last,
                    min_completeness=run.settings.hourly_min_completeness,
                    rules=rules_of(run.settings),
                    calendar=run.calendar, now=run.now, indices_only=run.indices_only,
                )  # fmt: skip
                dirty_queue.advance_backfill_cursors(
                    conn, run.job.job_key, stations, last + dt.timedelta(days=1)
                )
            return report
        except psycopg.errors.TransactionRollback as exc:
            if attempt == MAX_CHUNK_ATTEMPTS:
                raise
            log.warning("backfill %s … %s rolled back (%s); retrying", first, last, exc.sqlstate)
    raise AssertionError("unreachable")
