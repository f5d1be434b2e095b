"""The ``aqm worker`` loop: claim dirty station-hours, recompute, commit, repeat.

Several workers may run against one database: claims skip rows another worker holds
(``FOR UPDATE SKIP LOCKED``) and overlapping stations take turns (see
:mod:`storage.dirty_queue`). A stop request is honoured between claims, so the claim in
flight is always committed. Lost connections are retried with a growing pause; a
deadlock or serialization failure only rolls the claim back into the queue.

The worker is synchronous (psycopg, one connection, one transaction at a time): each
claim is one transaction whose work is mostly inside PostgreSQL and numpy, so there is
nothing to overlap, and a thread with a :class:`threading.Event` is all ``make run`` needs
to run it next to other services.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable

import psycopg

from aqm_core.settings import Settings, load_settings
from storage.dirty_queue import mark_new_hours
from worker.recompute import BatchReport, prepare, process_dirty_batch, rules_of
from worker.timeline import LocalCalendar

log = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]
MAX_RECONNECT_PAUSE_S = 30.0
CATCH_UP = dt.timedelta(hours=48)
"""Hours queued again at start for stations that were reporting: a stop of up to two days
loses no hour; longer ones need `aqm aqi backfill` (recomputing is idempotent)."""


def drain_once(
    database_url: str | None = None,
    settings: Settings | None = None,
    *,
    batch_hours: int | None = None,
    stop: threading.Event | None = None,
    clock: Clock | None = None,
) -> BatchReport:
    """Process the dirty queue until it is empty (or ``stop`` is set); returns the totals."""
    settings = settings or load_settings()
    url = database_url or settings.database_url
    calendar = LocalCalendar.for_timezone(settings.timezone)
    total = BatchReport()
    with psycopg.connect(url, autocommit=True) as conn:
        prepare(conn)
        while stop is None or not stop.is_set():
            report = _one_claim(conn, settings, calendar, batch_hours, clock)
            if report is None:
                break
            total.add(report)
    return total


def run_worker(
    settings: Settings,
    stop: threading.Event,
    *,
    database_url: str | None = None,
    batch_hours: int | None = None,
    clock: Clock | None = None,
) -> BatchReport:
    """Keep the AQI tables current until ``stop`` is set; returns the totals.

    Polls the queue every ``settings.worker_poll_s`` seconds when it is empty.
    """
    url = database_url or settings.database_url
    calendar = LocalCalendar.for_timezone(settings.timezone)
    total = BatchReport()
    pause = 1.0
    ticked_hour: dt.datetime | None = None
    log.info(
        "AQI worker started (claims of up to %d station-hours)",
        batch_hours or settings.worker_batch_hours,
    )
    while not stop.is_set():
        try:
            with psycopg.connect(url, autocommit=True) as conn:
                prepare(conn)
                pause = 1.0
                while not stop.is_set():
                    ticked_hour = _tick_new_hour(conn, ticked_hour, clock)
                    report = _one_claim(conn, settings, calendar, batch_hours, clock)
                    if report is None:
                        stop.wait(settings.worker_poll_s)
                    else:
                        total.add(report)
        except psycopg.OperationalError as exc:
            log.warning("database unavailable (%s); retrying in %.0f s", exc, pause)
            stop.wait(pause)
            pause = min(pause * 2, MAX_RECONNECT_PAUSE_S)
    log.info("AQI worker stopped: %s", total.describe())
    return total


def _tick_new_hour(
    conn: psycopg.Connection[tuple[object, ...]], ticked: dt.datetime | None, clock: Clock | None
) -> dt.datetime:
    """At each new hour, queue the hours begun since the last tick for the stations that
    were reporting (see mark_new_hours); at start, the last :data:`CATCH_UP` as well:
    hours that began while the worker was stopped would otherwise never be computed for
    stations that fell silent meanwhile."""
    now = clock() if clock else dt.datetime.now(dt.UTC)
    hour = now.replace(minute=0, second=0, microsecond=0)
    if ticked is None or hour > ticked:
        first = hour - CATCH_UP if ticked is None else ticked + dt.timedelta(hours=1)
        n = mark_new_hours(conn, first, hour)
        if n:
            log.info("new hour %s: queued %d station-hours of stations that were reporting",
                     hour.isoformat(), n)
    return hour


def _one_claim(
    conn: psycopg.Connection[tuple[object, ...]],
    settings: Settings,
    calendar: LocalCalendar,
    batch_hours: int | None,
    clock: Clock | None,
) -> BatchReport | None:
    """One claim; an empty report (not None) after a rolled-back attempt."""
    try:
        report = process_dirty_batch(
            conn,
            limit=batch_hours or settings.worker_batch_hours,
            min_completeness=settings.hourly_min_completeness,
            rules=rules_of(settings),
            calendar=calendar,
            now=clock() if clock else None,
        )
    except psycopg.errors.TransactionRollback as exc:
        # Deadlock or serialization failure: the claim went back to the queue; retry.
        log.warning("claim rolled back (%s); retrying", exc.sqlstate)
        return BatchReport()
    if report is not None:
        log.info("%s", report.describe())
    return report
