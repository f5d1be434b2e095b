"""Which station-years' open data files are out of date (table ``opendata_pending``).

The AQI worker and ``aqm aqi backfill`` call :func:`mark_changed` inside the
transaction that rewrites hourly means and indices, so the mark commits with the data.
:func:`read_pending` and :func:`clear` let the writer (:mod:`opendata.regenerate`)
delete a mark only at the version it read before exporting: a change committed
meanwhile raised the version and keeps the mark.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import psycopg

from worker.plan import DAY_REACH_BACK, NOWCAST_REACH
from worker.timeline import LocalCalendar

Connection = psycopg.Connection[Any]


@dataclass(frozen=True)
class Pending:
    station_id: str
    year: int
    version: int


def changed_years(
    station_index: npt.ArrayLike, hours: npt.ArrayLike, calendar: LocalCalendar
) -> list[tuple[int, int]]:
    """(station index, local year) of every file a change of ``hours`` can reach.

    A changed hourly mean at hour *h* changes the hourly AQI up to *h* + NOWCAST_REACH
    and the daily AQI of the local days containing *h* − DAY_REACH_BACK … *h* +
    NOWCAST_REACH (docs/worker.md), so the years of both ends count.
    """
    st = np.asarray(station_index, np.int64)
    hr = np.asarray(hours, np.int64)
    if st.size == 0:
        return []
    days = np.concatenate([calendar.day_of_hour(hr - DAY_REACH_BACK),
                           calendar.day_of_hour(hr + NOWCAST_REACH)])  # fmt: skip
    years = days.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970
    pairs = np.unique(np.stack([np.concatenate([st, st]), years], axis=1), axis=0)
    return [(int(s), int(y)) for s, y in pairs]


def mark_changed(
    conn: Connection,
    stations: list[str],
    station_index: npt.ArrayLike,
    hours: npt.ArrayLike,
    calendar: LocalCalendar,
) -> int:
    """Mark the station-years that a change of (station, hour) reaches; returns how many."""
    pairs = changed_years(station_index, hours, calendar)
    if not pairs:
        return 0
    conn.execute(
        "INSERT INTO opendata_pending (station_id, year)"
        " SELECT * FROM unnest(%s::text[], %s::int[]) ORDER BY 1, 2"
        " ON CONFLICT (station_id, year) DO UPDATE"
        " SET version = opendata_pending.version + 1, marked_at = now()",
        ([stations[s] for s, _ in pairs], [y for _, y in pairs]),
    )
    return len(pairs)


def read_pending(conn: Connection) -> list[Pending]:
    rows = conn.execute(
        "SELECT station_id, year, version FROM opendata_pending ORDER BY year, station_id"
    ).fetchall()
    return [Pending(str(s), int(y), int(v)) for s, y, v in rows]


def clear(conn: Connection, done: Iterable[Pending]) -> None:
    """Delete the marks still at the version read (a newer mark stays)."""
    done = list(done)
    if not done:
        return
    conn.execute(
        "DELETE FROM opendata_pending AS p USING unnest(%s::text[], %s::int[], %s::bigint[])"
        " AS d(station_id, year, version)"
        " WHERE p.station_id = d.station_id AND p.year = d.year AND p.version = d.version",
        ([d.station_id for d in done], [d.year for d in done], [d.version for d in done]),
    )
