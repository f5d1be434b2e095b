"""Stations whose timestamps are consistently hours off: a wrong clock or time zone.

A Circular 10/2021 datalogger writes local time without a zone; one whose clock is set
to UTC, read in UTC+7, has every reading stored 7 hours early, and nothing in a single
message can tell. Across messages it shows: live data arrive seconds to minutes after
their measurement time, so ``received_at − ts`` stays near +7 h for such a station, and
near −7 h (readings then refused as ``ts_in_future``) for the opposite mistake.

A reading's lag is ``offset + delay`` with ``delay ≥ 0``, so the smallest lag seen in a
stretch of arrivals is the best estimate of the clock's offset. Late data do not look
like an offset: a backlog drained after an outage has large lags, but the live readings
around it bring each window's smallest lag back to minutes. The estimate is therefore
the median, over a station's recent ten-minute windows of arrivals, of the smallest lag
in each window: one glitching timestamp moves one window, not the median, and a backlog
moves only the windows it fills.

The station is flagged when that median stays beyond ``threshold_s`` (30 min: real zones
differ by at least that much) over at least ``min_windows`` windows (an hour of
arrivals for a station sending every few minutes). :class:`ClockWatch` is pure;
:func:`watch` is the service's one call, which also sets the per-station gauge and logs
a warning when a station becomes suspect (and a note when it recovers).
"""

from __future__ import annotations

import logging
import math
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from prometheus_client import Gauge

from ingest.model import RawReading

log = logging.getLogger("aqm.ingest.clock")

WINDOW_S = 600
KEEP_WINDOWS = 12
MIN_WINDOWS = 6
MAX_AGE_S = 86_400
THRESHOLD_S = 1_800


@dataclass(frozen=True)
class ClockState:
    """A station's clock as its recent arrivals show it."""

    station: str
    offset_s: float  # median of the windows' smallest received_at − ts; + is behind
    windows: int  # windows of arrivals the estimate rests on
    suspect: bool  # consistently beyond the threshold
    changed: bool  # ``suspect`` differs from the previous observation's

    def describe(self, zone: str) -> str:
        """A sentence an operator can act on."""
        hours = abs(self.offset_s) / 3600
        seen = f"over its last {self.windows} ten-minute windows of arrivals"
        if not self.suspect:
            return (
                f"station {self.station}: readings arrive on time again"
                f" (smallest delay {self.offset_s:.0f} s)"
            )
        if self.offset_s > 0:
            what = (
                f"readings arrive {hours:.1f} h after their own timestamps {seen}, so they"
                f" are stored {hours:.1f} h early"
            )
        else:
            what = (
                f"readings carry timestamps {hours:.1f} h ahead of their arrival {seen}"
                " (refused as ts_in_future)"
            )
        return (
            f"station {self.station}: {what}; its datalogger clock or its catalogue"
            f" timezone ({zone}) is probably wrong (a clock on UTC read in UTC+7 is 7 h"
            " behind): set the clock, or the station's timezone in the catalogue"
        )


@dataclass
class ClockWatch:
    """Per station, the smallest lag of each recent window of arrivals."""

    window_s: float = WINDOW_S
    keep_windows: int = KEEP_WINDOWS
    min_windows: int = MIN_WINDOWS
    max_age_s: float = MAX_AGE_S
    threshold_s: float = THRESHOLD_S
    _smallest: dict[str, dict[int, float]] = field(default_factory=dict)
    _suspect: dict[str, bool] = field(default_factory=dict)

    def observe(
        self, station: str, received_at: datetime, stamps: Iterable[datetime]
    ) -> ClockState | None:
        """Take one message's measurement times; the station's state, or None if none."""
        lags = [(received_at - ts).total_seconds() for ts in stamps]
        if not lags:
            return None
        now = received_at.timestamp()
        window = math.floor(now / self.window_s)
        smallest = self._smallest.setdefault(station, {})
        smallest[window] = min(smallest.get(window, math.inf), *lags)
        oldest = math.floor((now - self.max_age_s) / self.window_s)
        for old in sorted(smallest)[: max(0, len(smallest) - self.keep_windows)]:
            del smallest[old]
        for old in [w for w in smallest if w < oldest]:
            del smallest[old]
        offset = statistics.median(smallest.values())
        suspect = len(smallest) >= self.min_windows and abs(offset) >= self.threshold_s
        changed = suspect != self._suspect.get(station, False)
        self._suspect[station] = suspect
        return ClockState(station, offset, len(smallest), suspect, changed)

    def observe_message(
        self,
        station: str | None,
        received_at: datetime,
        stamps: Iterable[tuple[str | None, datetime]],
        registered: Mapping[str, object],
    ) -> ClockState | None:
        """``observe`` for a registered station's message: (named station, time) pairs of
        its decoded readings; readings naming another station are not its clock's."""
        if station is None or station not in registered:
            return None
        return self.observe(
            station, received_at, (ts for named, ts in stamps if named in (None, station))
        )


def watch(
    clock: ClockWatch,
    gauge: Gauge,
    station: str | None,
    received_at: datetime,
    readings: Iterable[RawReading],
    registered: Mapping[str, object],
    zone: str,
) -> ClockState | None:
    """Observe one message's decoded readings; set ``gauge{station}``, log a change."""
    state = clock.observe_message(
        station, received_at, ((r.station_id, r.ts) for r in readings), registered
    )
    if state is None:
        return None
    gauge.labels(station=state.station).set(state.offset_s)
    if state.changed:
        (log.warning if state.suspect else log.info)("%s", state.describe(zone))
    return state
