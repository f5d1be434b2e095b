"""Rewrite the open data files whose data changed, from ``aqm worker``.

A thread beside the worker's loop, on its own connection: each round reads the marks of
:mod:`opendata.pending`, rewrites the station-years whose files are older than
``AQM_OPENDATA_INTERVAL_S`` (or have none), clears those marks at the version read,
then rebuilds the province files of years whose station files are newer than them,
again at most once per interval. A station-year changed within the interval waits for
its turn with its mark kept, so a restart loses nothing. Live data mark every
reporting station's current year each hour; the interval bounds how often its files
(and the province's, which are the largest) are rewritten.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg

from aqm_core.settings import Settings
from opendata import pending
from opendata.export import (
    Publication,
    export_station_year,
    prepare_session,
    rebuild_province_year,
    stale_province_years,
)
from opendata.files import FileEntry, parse_stamp, read_manifest

log = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]
MAX_POLL_S = 60.0
MAX_RECONNECT_PAUSE_S = 30.0


@dataclass
class RoundReport:
    station_years: int = 0
    province_years: int = 0
    waiting: int = 0  # marked station-years inside their interval

    def __bool__(self) -> bool:
        return bool(self.station_years or self.province_years)


def _last_written(entries: dict[str, FileEntry], station_id: str | None,
                  year: int) -> dt.datetime | None:  # fmt: skip
    stamps = [parse_stamp(e.last_modified) for e in entries.values()
              if e.station_id == station_id and e.year == year]  # fmt: skip
    return max(stamps, default=None)


def regenerate_once(
    conn: psycopg.Connection[Any], pub: Publication, interval: dt.timedelta, now: dt.datetime
) -> RoundReport:
    """One round: due station-years, then due province years."""
    report = RoundReport()
    prepare_session(conn, pub.timezone)
    entries = read_manifest(pub.root)
    for mark in pending.read_pending(conn):
        last = _last_written(entries, mark.station_id, mark.year)
        if last is not None and now - last < interval:
            report.waiting += 1
            continue
        export_station_year(conn, pub, mark.station_id, mark.year)
        pending.clear(conn, [mark])
        report.station_years += 1
    entries = read_manifest(pub.root)
    for year in sorted(stale_province_years(pub)):
        last = _last_written(entries, None, year)
        if last is not None and now - last < interval:
            continue
        rebuild_province_year(pub, year)
        report.province_years += 1
    return report


def run_regenerator(
    settings: Settings,
    stop: threading.Event,
    *,
    database_url: str | None = None,
    clock: Clock | None = None,
) -> None:
    """Rounds until ``stop`` is set; a lost database connection is retried."""
    url = database_url or settings.database_url
    pub = Publication.from_settings(settings)
    interval = dt.timedelta(seconds=settings.opendata_interval_s)
    poll_s = max(min(settings.opendata_interval_s, MAX_POLL_S), settings.worker_poll_s)
    pause = 1.0
    log.info("open data: rewriting changed files in %s at most every %s", pub.root, interval)
    while not stop.is_set():
        try:
            with psycopg.connect(url, autocommit=True) as conn:
                pause = 1.0
                while not stop.is_set():
                    now = clock() if clock else dt.datetime.now(dt.UTC)
                    report = regenerate_once(conn, pub, interval, now)
                    if report:
                        log.info("open data: rewrote %d station-years, %d province years "
                                 "(%d waiting)", report.station_years, report.province_years,
                                 report.waiting)  # fmt: skip
                    stop.wait(poll_s)
        except psycopg.OperationalError as exc:
            log.warning("open data: database unavailable (%s); retrying in %.0f s", exc, pause)
            stop.wait(pause)
            pause = min(pause * 2, MAX_RECONNECT_PAUSE_S)
        except Exception:
            # A full disk or an unwritable folder must not end the rewriting for good
            # while the worker goes on; the marks wait in the database meanwhile.
            log.exception("open data: round failed; retrying in %.0f s", MAX_RECONNECT_PAUSE_S)
            stop.wait(MAX_RECONNECT_PAUSE_S)


def start_regenerator(
    settings: Settings, stop: threading.Event, *, database_url: str | None = None
) -> threading.Thread:
    """:func:`run_regenerator` in a daemon thread (the worker's process exits without it)."""
    thread = threading.Thread(
        target=run_regenerator, args=(settings, stop),
        kwargs={"database_url": database_url}, name="opendata", daemon=True,
    )  # fmt: skip
    thread.start()
    return thread
