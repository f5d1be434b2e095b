"""Stored sample slots per station, parameter and hour (migration 0023): the recount.

The "Mẫu thiếu" panels read ``reading_slots`` for the hours that have ended. The table is
recounted from ``readings`` (never incremented) by the AQI worker, for the station-hours
it claims, and by ``aqm aqi backfill`` for its range, in the transaction that writes
the hourly means: whatever is stored is what is counted, so redelivered readings (not
stored twice), late readings (their hour is queued again) and repeated recounts leave
exact counts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

import psycopg

Connection = psycopg.Connection[tuple[object, ...]]

HOUR = dt.timedelta(hours=1)

RECOUNT = "SELECT recount_reading_slots(%(stations)s::text[], %(hours)s::timestamptz[])"

RECOUNT_RANGE = (
    "SELECT recount_reading_slots_between(%(stations)s::text[], %(first)s::timestamptz,"
    " %(last)s::timestamptz)"
)


def slot_hours(changed: Iterable[tuple[str, dt.datetime]]) -> list[tuple[str, dt.datetime]]:
    """The slot-hours a change of readings in each (station, hour) can touch: that hour
    and the next (a reading up to half an interval before a slot fills it), sorted."""
    return sorted({(station, h) for station, hour in changed for h in (hour, hour + HOUR)})


def recount(conn: Connection, changed: Iterable[tuple[str, dt.datetime]]) -> int:
    """Recount the slots of the hours readings changed in (and of the hours after them);
    returns the rows written."""
    pairs = slot_hours(changed)
    if not pairs:
        return 0
    row = conn.execute(
        RECOUNT, {"stations": [s for s, _ in pairs], "hours": [h for _, h in pairs]}
    ).fetchone()
    return int(row[0]) if row and row[0] is not None else 0  # type: ignore[call-overload]


def recount_range(
    conn: Connection, stations: Sequence[str], first: dt.datetime, last: dt.datetime
) -> int:
    """Recount every slot-hour from the hour of ``first`` to ``last`` (both included) of
    ``stations``; returns the rows written."""
    if not stations:
        return 0
    row = conn.execute(
        RECOUNT_RANGE, {"stations": list(stations), "first": first, "last": last}
    ).fetchone()
    return int(row[0]) if row and row[0] is not None else 0  # type: ignore[call-overload]
