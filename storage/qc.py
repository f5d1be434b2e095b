"""QA/QC tables: the officers' actions (append-only) and what the worker reads of them.

``qc_actions`` (migration 0014) holds every ``aqm qc invalidate|restore|verify`` as one
row; the database stamps who and when and records the actions it overlaps
(``state_before``), queues the period's station-hours for the AQI worker, and refuses
UPDATE, DELETE and TRUNCATE for every role. ``qc_flags`` holds the automatic flags the
worker computes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import psycopg

from worker.screening import Period

Connection = psycopg.Connection[tuple[object, ...]]

REASONS = ("calibration", "maintenance", "instrument_fault", "power_outage",
           "exceptional_event", "other")  # fmt: skip
"""Reason codes of an invalidation (EEA validity −99 covers the first two; US EPA AQS
null-data codes name the others)."""

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _us(moment: dt.datetime) -> int:
    return (moment - _EPOCH) // dt.timedelta(microseconds=1)


def parameter_names(conn: Connection) -> list[str]:
    """Every parameter of the registry, in a fixed order."""
    return [str(r[0]) for r in conn.execute("SELECT parameter FROM parameters ORDER BY 1")]


def expected_per_hour(conn: Connection, stations: Sequence[str]) -> npt.NDArray[np.int64]:
    """Readings expected per hour of each station (3600 // report_interval_s, ≥ 1)."""
    rows = {
        str(station): int(str(n))
        for station, n in conn.execute(
            "SELECT station_id, greatest(3600 / report_interval_s, 1) FROM stations"
            " WHERE station_id = ANY(%s::text[])", (list(stations),),
        )
    }  # fmt: skip
    return np.array([rows.get(s, 12) for s in stations], np.int64)


def periods(
    conn: Connection, stations: Sequence[str], parameters: Sequence[str]
) -> tuple[list[Period], list[Period]]:
    """Manual invalidations/restorations (in the order taken) and verified periods."""
    code = {s: i for i, s in enumerate(stations)}
    parameter_code = {p: i for i, p in enumerate(parameters)}
    manual: list[Period] = []
    verified: list[Period] = []
    rows = conn.execute(
        "SELECT action, station_id, parameter, period_start, period_end FROM qc_actions"
        " WHERE station_id = ANY(%s::text[]) ORDER BY id", (list(stations),),
    ).fetchall()  # fmt: skip
    for action, station, parameter, start, end in rows:
        assert isinstance(start, dt.datetime) and isinstance(end, dt.datetime)
        if parameter is not None and parameter not in parameter_code:
            continue
        period = Period(
            station=code[str(station)],
            parameter=-1 if parameter is None else parameter_code[str(parameter)],
            start_us=_us(start), end_us=_us(end), invalid=action == "invalidate",
        )  # fmt: skip
        (verified if action == "verify" else manual).append(period)
    return manual, verified


@dataclass(frozen=True)
class Action:
    """One manual action as the officer gives it."""

    action: str  # invalidate, restore, verify
    station_id: str
    parameter: str | None
    start: dt.datetime
    end: dt.datetime  # exclusive
    reason: str | None
    note: str | None
    performed_by: str


def record_action(conn: Connection, action: Action) -> tuple[int, object]:
    """Append ``action`` (the database queues its station-hours); returns id and state before."""
    row = conn.execute(
        "INSERT INTO qc_actions (action, station_id, parameter, period_start, period_end,"
        " reason, note, performed_by, db_user, performed_at, state_before)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, '', now(), '[]')"
        " RETURNING id, state_before",
        (action.action, action.station_id, action.parameter, action.start, action.end,
         action.reason, action.note, action.performed_by),
    ).fetchone()  # fmt: skip
    assert row is not None
    return int(row[0]), row[1]  # type: ignore[call-overload]


FLAGS_QUERY = """
SELECT 'automatic' AS source, f.station_id, f.parameter, f.ts AS time_from,
       f.ts AS time_to, r.value, r.status, array_to_string(n.codes, ';') AS code,
       f.rules_version AS version, NULL::bigint AS action_id, NULL::text AS note,
       NULL::text AS performed_by
FROM qc_flags AS f
JOIN readings AS r USING (station_id, parameter, ts)
JOIN qc_flags_named AS n USING (station_id, parameter, ts)
WHERE f.station_id = %(station)s AND f.ts >= %(t_from)s AND f.ts < %(t_to)s
UNION ALL
SELECT a.action, a.station_id, coalesce(a.parameter, '*'), greatest(a.period_start, %(t_from)s),
       least(a.period_end, %(t_to)s), NULL, NULL, coalesce(a.reason, ''), NULL, a.id, a.note,
       a.performed_by
FROM qc_actions AS a
WHERE a.station_id = %(station)s AND a.period_start < %(t_to)s AND a.period_end > %(t_from)s
ORDER BY 4, 1, 3
"""

FLAGS_COLUMNS = (
    "source", "station_id", "parameter", "time_from", "time_to", "value", "status", "code",
    "rules_version", "action_id", "note", "performed_by",
)  # fmt: skip

HISTORY_QUERY = """
SELECT id, performed_at, performed_by, db_user, action, station_id,
       coalesce(parameter, '*'), period_start, period_end, coalesce(reason, ''),
       coalesce(note, ''), state_before::text
FROM qc_actions
WHERE %(station)s::text IS NULL OR station_id = %(station)s
ORDER BY id
"""

HISTORY_COLUMNS = (
    "id", "performed_at", "performed_by", "db_user", "action", "station_id", "parameter",
    "period_from", "period_to", "reason", "note", "state_before",
)  # fmt: skip
