"""Recompute history (``aqm aqi backfill``): chunks of local days, resumable.

Each chunk of days is recomputed in one transaction that also moves the job's cursor
in ``aqi_backfill_jobs``, so an interrupted backfill (Ctrl-C, SIGTERM, a crash) resumes
at the first chunk not committed when the same command runs again. A job that finished
starts over when asked again (the user wants the range recomputed); ``restart`` forces
a fresh start of an unfinished one.

A chunk recomputes ``hourly`` from the readings of its days, then the AQI exactly as
the worker does for late data, so a backfill and the live worker agree row for row.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

import psycopg

from aqm.settings import Settings
from storage import dirty_queue
from storage.dirty_queue import BackfillJob
from worker.recompute import BatchReport, prepare, recompute_days
from worker.timeline import LocalCalendar

log = logging.getLogger(__name__)

DEFAULT_CHUNK_DAYS = 14

ChunkCallback = Callable[[dt.date, dt.date, BatchReport], None]


class UnknownStationError(ValueError):
    """The station given to a backfill is not in the registry."""


@dataclass
class BackfillSummary:
    job: BackfillJob
    resumed_from: dt.date | None  # the day an unfinished job resumed at
    days_done: int  # days recomputed by this run
    finished: bool  # False when stopped early
    report: BatchReport


def run_backfill(
    database_url: str,
    settings: Settings,
    from_day: dt.date,
    to_day: dt.date,
    *,
    station_id: str | None = None,
    chunk_days: int = DEFAULT_CHUNK_DAYS,
    restart: bool = False,
    stop: threading.Event | None = None,
    on_start: Callable[[BackfillJob], None] | None = None,
    on_chunk: ChunkCallback | None = None,
    now: dt.datetime | None = None,
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
    restart : bool
        Start an unfinished job over instead of resuming it.
    stop : threading.Event, optional
        Checked between chunks: the chunk in flight is committed, then the run stops.
    on_start, on_chunk : callables, optional
        Progress hooks: the job when it opens; each chunk's first and last day and report.
    """
    if from_day > to_day:
        raise ValueError(f"--from {from_day} is after --to {to_day}")
    if chunk_days < 1:
        raise ValueError(f"chunk_days must be >= 1, got {chunk_days}")
    calendar = LocalCalendar.for_timezone(settings.timezone)
    total = BatchReport()
    with psycopg.connect(database_url, autocommit=True) as conn:
        prepare(conn)
        stations = dirty_queue.known_stations(conn, station_id)
        if station_id is not None and not stations:
            raise UnknownStationError(f"station {station_id!r} is not in the stations table")
        job = dirty_queue.open_backfill_job(conn, from_day, to_day, station_id, restart=restart)
        resumed = job.next_day if job.next_day != from_day else None
        if resumed:
            log.info("resuming backfill %s at %s", job.job_key, resumed)
        if on_start:
            on_start(job)
        day = job.next_day
        days_done = 0
        while day <= to_day and (stop is None or not stop.is_set()):
            last = min(day + dt.timedelta(days=chunk_days - 1), to_day)
            with conn.transaction():
                report = recompute_days(
                    conn,
                    stations,
                    day,
                    last,
                    min_completeness=settings.hourly_min_completeness,
                    calendar=calendar,
                    station_id=station_id,
                    now=now,
                )
                following = last + dt.timedelta(days=1)
                dirty_queue.advance_backfill_job(conn, job.job_key, following, last == to_day)
            log.info("backfill %s … %s: %s", day, last, report.describe())
            total.add(report)
            days_done += (last - day).days + 1
            if on_chunk:
                on_chunk(day, last, report)
            day = following
    return BackfillSummary(job, resumed, days_done, day > to_day, total)
