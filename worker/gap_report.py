"""Gap reports of stored stations: the catalogue's schedule, the stored measurement
times (:mod:`storage.gaps`) and the pure finder (:mod:`worker.gaps`) put together.

Used by ``aqm gaps`` and by the missing-samples gauge (:mod:`worker.gap_metrics`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import psycopg

from aqm_core.errors import AqmError
from storage.gaps import (
    CatalogueStation,
    catalogue_stations,
    measurement_times,
    observed_parameters,
)
from worker.gaps import Gaps, Schedule, find_gaps

NOT_YET_DUE = dt.timedelta(minutes=15)
"""Samples taken this recently are not missing yet: a datalogger sends each a little
after it is taken, and ingest batches. ``aqm gaps``, the gauges and the dashboard cap
their ranges here."""

ANY_PARAMETER = "*"
"""Stands for every parameter of a station that lists none and stored nothing."""


class UnknownStationError(AqmError, LookupError):
    """The station asked for is not in the ``stations`` table."""


@dataclass(frozen=True)
class StationGaps:
    """One station's gap periods over ``[start, end)``, the part of the asked range in
    which the catalogue expects it to report (``start == end``: not expected at all)."""

    station: CatalogueStation
    parameters: tuple[str, ...]  # the bit order of gaps.parameters
    start: dt.datetime
    end: dt.datetime
    gaps: Gaps

    @property
    def missing_samples(self) -> int:
        """Missing (slot, parameter) samples in the whole range."""
        return int(self.gaps.missing_by_parameter.sum())

    @property
    def expected_samples(self) -> int:
        return self.gaps.expected * len(self.parameters)


def operating_period(
    station: CatalogueStation, start: dt.datetime, end: dt.datetime, zone: dt.tzinfo
) -> tuple[dt.datetime, dt.datetime]:
    """``[start, end)`` cut to the days the station runs: from ``installed_on`` 00:00
    local, until ``retired_on`` 00:00 local (the day it stopped is not expected). A
    retired station without a date is expected nowhere. Empty: ``start == end``."""
    if station.installed_on is not None:
        start = max(start, dt.datetime.combine(station.installed_on, dt.time(), zone))
    if station.retired_on is not None:
        end = min(end, dt.datetime.combine(station.retired_on, dt.time(), zone))
    elif station.status == "retired":
        end = start
    return start, max(start, end)


def schedule_for(station: CatalogueStation, first: dt.datetime, last: dt.datetime) -> Schedule:
    """The station's :class:`Schedule` over ``[first, last)``: a period per report
    interval in force (``interval_changes``; the catalogue's interval when it has none).
    Before the oldest recorded change, the oldest interval applies."""
    changes = [(t, iv) for t, iv in station.interval_changes]
    if not changes:
        return Schedule.single(_us(first), _us(last), station.report_interval_s)
    in_force = changes[0][1]
    starts, intervals = [first], []
    for since, interval in changes:
        if since is None or since <= first:
            in_force = interval
        elif since < last:
            intervals.append(in_force)
            starts.append(since)
            in_force = interval
    intervals.append(in_force)
    ends = [*starts[1:], last]
    return Schedule(
        np.array([_us(t) for t in starts], dtype="datetime64[us]"),
        np.array([_us(max(t, a)) for a, t in zip(starts, ends, strict=True)],
                 dtype="datetime64[us]"),
        np.array(intervals, dtype=np.int64),
    )  # fmt: skip


def _us(moment: dt.datetime) -> np.datetime64:
    return np.datetime64(moment.astimezone(dt.UTC).replace(tzinfo=None), "us")


def station_gaps(
    conn: psycopg.Connection[Any],
    station: CatalogueStation,
    start: dt.datetime,
    end: dt.datetime,
    zone: dt.tzinfo,
    parameters: Sequence[str] | None = None,
) -> StationGaps:
    """Gap periods of one station in ``[start, end)``; ``parameters`` narrows the
    catalogue's list (a parameter the station does not list is simply not expected)."""
    first, last = operating_period(station, start, end, zone)
    names = station.parameters or observed_parameters(conn, station.station_id, first, last)
    if parameters is not None:
        names = tuple(p for p in names if p in parameters)
    elif not names:
        names = (ANY_PARAMETER,)
    schedule = schedule_for(station, first, last)
    interval = dt.timedelta(seconds=int(np.max(schedule.intervals_s)))
    if first < last and names != (ANY_PARAMETER,):
        # half an interval either side: a jittered sample of an edge slot
        times, index = measurement_times(
            conn, station.station_id, names, first - interval, last + interval
        )
    else:
        times, index = np.empty(0, "datetime64[us]"), np.empty(0, np.int64)
    return StationGaps(station, names, first, last, find_gaps(schedule, times, index, len(names)))


def gap_report(
    conn: psycopg.Connection[Any],
    start: dt.datetime,
    end: dt.datetime,
    zone: dt.tzinfo,
    *,
    station_id: str | None = None,
    parameters: Sequence[str] | None = None,
    on_station: Callable[[CatalogueStation], None] | None = None,
    stations: Sequence[CatalogueStation] | None = None,
) -> list[StationGaps]:
    """Gaps of one station, or of every station the catalogue expects to report in some
    part of ``[start, end)`` (active ones, and retired ones before their retirement).
    ``on_station`` is called after each station (progress)."""
    if stations is None:
        stations = catalogue_stations(conn, station_id)
    if station_id is not None and not stations:
        raise UnknownStationError(f"no station {station_id!r} in the stations table")
    report = []
    for station in stations:
        first, last = operating_period(station, start, end, zone)
        if first < last or station_id is not None:
            report.append(station_gaps(conn, station, start, end, zone, parameters))
        if on_station is not None:
            on_station(station)
    return report
