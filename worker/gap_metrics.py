"""Missing samples per station and parameter over the last day, for Prometheus.

The AQI worker serves them on ``/metrics`` when ``AQM_WORKER_METRICS_PORT`` is set
(``aqm worker``; docker-compose scrapes it): a thread recomputes the gap report of
every station (:mod:`worker.gap_report`) for the last :data:`WINDOW` every
:data:`REFRESH_S` seconds, and scrapes read the last result, so a scrape never waits on
the database. The window ends :data:`DELAY` ago: a datalogger sends each sample a little
after it is taken, and a sample not yet due is not missing.

Gauges (labels ``station``, ``parameter``):

* ``aqm_gaps_missing_samples`` — expected samples with no stored reading in the window;
* ``aqm_gaps_expected_samples`` — samples the catalogue expects in the window;

and ``aqm_gaps_refreshed_timestamp_seconds``, the end of the last successful refresh
(alert when it lags: the numbers are stale).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from worker.gap_report import NOT_YET_DUE, gap_report

log = logging.getLogger(__name__)

WINDOW = dt.timedelta(hours=24)
DELAY = NOT_YET_DUE
REFRESH_S = 300.0
MAX_RETRY_PAUSE_S = 60.0


@dataclass(frozen=True)
class StationParameterCount:
    station: str
    parameter: str
    missing: int
    expected: int


def missing_samples(
    conn: psycopg.Connection[Any], now: dt.datetime, zone: dt.tzinfo
) -> list[StationParameterCount]:
    """Missing and expected samples of every station and parameter in the window
    ``[now - DELAY - WINDOW, now - DELAY)``."""
    end = now - DELAY
    counts = []
    for found in gap_report(conn, end - WINDOW, end, zone):
        for parameter, missing in zip(
            found.parameters, found.gaps.missing_by_parameter.tolist(), strict=True
        ):
            counts.append(StationParameterCount(
                found.station.station_id, parameter, int(missing), found.gaps.expected
            ))  # fmt: skip
    return counts


class GapCollector(Collector):
    """Serves the last snapshot; :meth:`update` replaces it whole, so stations that left
    the catalogue disappear and a scrape never sees half a refresh."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: list[StationParameterCount] = []
        self._refreshed: float | None = None

    def update(self, counts: list[StationParameterCount], refreshed: dt.datetime) -> None:
        with self._lock:
            self._counts = counts
            self._refreshed = refreshed.timestamp()

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            counts, refreshed = self._counts, self._refreshed
        missing = GaugeMetricFamily(
            "aqm_gaps_missing_samples",
            f"Expected samples without a stored reading in the last {WINDOW} (ending {DELAY} ago)",
            labels=["station", "parameter"],
        )
        expected = GaugeMetricFamily(
            "aqm_gaps_expected_samples",
            f"Samples the catalogue expects in the last {WINDOW} (ending {DELAY} ago)",
            labels=["station", "parameter"],
        )
        for c in counts:
            missing.add_metric([c.station, c.parameter], c.missing)
            expected.add_metric([c.station, c.parameter], c.expected)
        yield missing
        yield expected
        if refreshed is not None:
            yield GaugeMetricFamily(
                "aqm_gaps_refreshed_timestamp_seconds",
                "When the missing-sample gauges were last computed (unix time)",
                value=refreshed,
            )


Clock = Callable[[], dt.datetime]


def refresh_forever(
    url: str,
    timezone: str,
    collector: GapCollector,
    stop: threading.Event,
    *,
    every_s: float = REFRESH_S,
    clock: Clock | None = None,
) -> None:
    """Recompute the snapshot every ``every_s`` seconds until ``stop`` is set; a lost
    database is retried with a growing pause and the last snapshot kept meanwhile."""
    zone = ZoneInfo(timezone)
    pause = every_s
    while not stop.is_set():
        now = clock() if clock else dt.datetime.now(dt.UTC)
        try:
            with psycopg.connect(url, autocommit=True) as conn:
                counts = missing_samples(conn, now, zone)
        except psycopg.Error as exc:
            pause = min(max(pause * 2, 1.0), MAX_RETRY_PAUSE_S)
            log.warning("missing-sample gauges not refreshed (%s); retrying in %.0f s",
                        exc, pause)  # fmt: skip
            stop.wait(pause)
            continue
        collector.update(counts, clock() if clock else dt.datetime.now(dt.UTC))
        pause = every_s
        stop.wait(every_s)


def start_gap_exporter(
    url: str, timezone: str, host: str, port: int, stop: threading.Event,
    *, every_s: float = REFRESH_S, clock: Clock | None = None,
) -> tuple[int, threading.Thread]:  # fmt: skip
    """Serve ``/metrics`` on ``host:port`` (0: a free port) and refresh it in a daemon
    thread until ``stop`` is set; returns the bound port and the refresh thread."""
    registry = CollectorRegistry()
    collector = GapCollector()
    registry.register(collector)
    server, _ = start_http_server(port, addr=host, registry=registry)
    thread = threading.Thread(
        target=refresh_forever, args=(url, timezone, collector, stop),
        kwargs={"every_s": every_s, "clock": clock}, name="gap-metrics", daemon=True,
    )  # fmt: skip
    thread.start()

    def shutdown() -> None:
        stop.wait()
        server.shutdown()

    threading.Thread(target=shutdown, name="gap-metrics-http", daemon=True).start()
    return int(server.server_address[1]), thread
