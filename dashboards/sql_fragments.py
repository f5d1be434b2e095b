"""SQL pieces shared by panels and alert rules: local days, station silence, QCVN limits.

Local days are the 24 hours from 00:00 in ``AQM_TIMEZONE`` (default Asia/Ho_Chi_Minh) as
set when the dashboards are generated. Grafana's ``$__timeGroup`` with
TimescaleDB emits UTC-aligned ``time_bucket`` (a "1d" bucket would start at 07:00 ICT), so
daily SQL here always names the zone explicitly and never depends on the session's
TimeZone setting.
"""

from __future__ import annotations

import datetime as dt

from aqi.averaging import DAY_MIN_VALID_HOURS, EIGHT_HOUR_MIN_VALID_HOURS
from aqi.limits import QCVN_LIMITS
from aqm_core.settings import load_settings

LOCAL_TZ: str = load_settings().timezone
"""The zone of local days: the ``AQM_TIMEZONE`` setting of ``aqm grafana generate``."""

SILENT_AFTER = dt.timedelta(minutes=30)
"""The shortest silence that counts: a station is "silent" (alert and highlight) when its
last reading is older than the longer of this and ``SILENT_REPORT_INTERVALS`` report intervals."""
SILENT_REPORT_INTERVALS = 2
"""Missed reports (``stations.report_interval_s``) before a slow-reporting station is silent."""
SILENT_MINUTES = SILENT_AFTER.total_seconds() / 60
SILENCE_RULE_VI = (
    f"không có số đo mới quá {SILENT_MINUTES:g} phút và quá {SILENT_REPORT_INTERVALS} "
    "chu kỳ gửi số liệu của trạm"
)
"""The silence rule in words, for titles and descriptions."""
SILENCE_LOOKBACK = dt.timedelta(days=30)
"""How far back the last reading is searched; older means "not seen for 30 days"."""
CURRENT_AQI_MAX_AGE = dt.timedelta(hours=3)
"""An hourly AQI older than this is not shown as "current" (the map shows no data)."""

# The same completeness rules as the AQI engine's daily and 8-hour means.
DAILY_MIN_VALID_HOURS: int = DAY_MIN_VALID_HOURS
EIGHT_HOUR_MIN_VALID: int = EIGHT_HOUR_MIN_VALID_HOURS

TIME_FROM = "$__timeFrom()::timestamptz"
TIME_TO = "$__timeTo()::timestamptz"


def interval_sql(delta: dt.timedelta) -> str:
    """``interval '… seconds'`` literal for a duration."""
    return f"interval '{int(delta.total_seconds())} seconds'"


def local_date(timestamptz_expr: str) -> str:
    """The local calendar date of a timestamptz expression."""
    return f"(({timestamptz_expr}) AT TIME ZONE '{LOCAL_TZ}')::date"


def local_day_start(date_expr: str) -> str:
    """The instant (timestamptz) a local date begins."""
    return f"(({date_expr})::timestamp AT TIME ZONE '{LOCAL_TZ}')"


def local_days_in_range(date_column: str) -> str:
    """Filter a local-date column to the days the dashboard's time range touches."""
    return f"{date_column} BETWEEN {local_date(TIME_FROM)} AND {local_date(TIME_TO)}"


def silent_after_sql(report_interval_s: str) -> str:
    """A station's silence threshold (an interval): ``greatest(30 min, 2 × report interval)``.

    A station that reports every hour is not silent 31 minutes after its last reading,
    and one that reports every 5 minutes is not silent after only 10.
    """
    return (
        f"greatest({interval_sql(SILENT_AFTER)}, "
        f"{SILENT_REPORT_INTERVALS} * ({report_interval_s}) * interval '1 second')"
    )


RAW_READINGS_WINDOW = dt.timedelta(hours=1)
"""The most raw readings a panel or alert query may scan: the last hour of its range.

Anything longer reads the aggregates (``hourly``, ``aqi_hourly``, ``aqi_daily``) or looks
up single rows through the primary key (:func:`last_seen_cte`). A test runs every query
under EXPLAIN ANALYZE and holds it to this bound.
"""


def last_hour_of_range(ts_column: str) -> str:
    """Filter a raw-readings time column to the last hour of the range (at most)."""
    return (
        f"{ts_column} > greatest({TIME_FROM}, {TIME_TO} - {interval_sql(RAW_READINGS_WINDOW)})"
        f" AND {ts_column} <= {TIME_TO}"
    )


def last_seen_cte() -> str:
    """CTE ``last_seen`` of every active station; the one definition of "silent".

    Columns: ``station_id, name, last_ts, last_received``, ``silent_after`` (the station's
    threshold, :func:`silent_after_sql`), ``silent_after_min`` (the same in minutes) and
    ``silent`` (no reading within ``silent_after`` before the end of the range, or none in
    the lookback at all).

    Silence is measured from the newest *measurement* stored (``readings.ts``) as of the
    end of the time range, never from AQI values: a station measuring clean air is not
    silent, and a silent station is not clean.

    Cost: the readings of the last hour before the end of the range answer for every
    station that reported in it. Only for the others is the newest reading looked up, per
    parameter the station declares (every parameter when it declares none), with
    ``LIMIT 1`` on the primary key (station_id, parameter, ts): a few index probes per
    quiet station instead of aggregating the lookback's raw readings. The row comparisons
    bound each probe to one station and parameter in a way only the primary key serves
    (with plain equalities the planner may walk the ``ts`` index and filter, reading the
    whole lookback); the plain ``ts`` bounds keep TimescaleDB's chunk exclusion.
    """
    silent_after = silent_after_sql("s.report_interval_s")
    since = f"{TIME_TO} - {interval_sql(SILENCE_LOOKBACK)}"
    recent_since = f"{TIME_TO} - {interval_sql(RAW_READINGS_WINDOW)}"
    last_ts = "coalesce(recent.last_ts, seen.last_ts)"
    return f"""last_seen AS (
    SELECT s.station_id, s.name, {last_ts} AS last_ts,
           coalesce(recent.last_received, seen.last_received) AS last_received,
           {silent_after} AS silent_after,
           round((extract(epoch from {silent_after}) / 60)::numeric, 1) AS silent_after_min,
           ({last_ts} IS NULL OR {last_ts} < {TIME_TO} - {silent_after}) AS silent
    FROM stations s
    LEFT JOIN (
      SELECT r.station_id, max(r.ts) AS last_ts, max(r.received_at) AS last_received
      FROM readings r
      WHERE r.ts > {recent_since} AND r.ts <= {TIME_TO}
      GROUP BY r.station_id
    ) recent ON recent.station_id = s.station_id
    LEFT JOIN LATERAL (
      SELECT max(newest.ts) AS last_ts, max(newest.received_at) AS last_received
      FROM unnest(CASE WHEN cardinality(s.parameters) > 0 THEN s.parameters
                       ELSE ARRAY(SELECT p.parameter FROM parameters p) END) sp(parameter)
      CROSS JOIN LATERAL (
        SELECT r.ts, r.received_at
        FROM readings r
        WHERE r.station_id = s.station_id AND r.parameter = sp.parameter
          AND (r.station_id, r.parameter, r.ts) > (s.station_id, sp.parameter, {since})
          AND (r.station_id, r.parameter, r.ts) <= (s.station_id, sp.parameter, {TIME_TO})
          AND r.ts > {since} AND r.ts <= {TIME_TO}
        ORDER BY r.ts DESC
        LIMIT 1
      ) newest
      WHERE recent.station_id IS NULL
    ) seen ON true
    WHERE s.status = 'active'
  )"""


def silent_minutes(last_ts: str) -> str:
    """Minutes between a last reading and the end of the range (NULL: never in the lookback)."""
    return f"round((extract(epoch from ({TIME_TO} - {last_ts})) / 60)::numeric, 1)"


def limit_sql(pollutant: str, averaging: str, date_expr: str) -> str | None:
    """The QCVN limit in force on a local date, as a SQL CASE built from ``aqi.limits``.

    None when the pollutant has no limit for that averaging period.
    """
    periods = [
        lim for lim in QCVN_LIMITS if lim.pollutant == pollutant and lim.averaging == averaging
    ]
    if not periods:
        return None
    branches = []
    for lim in periods:
        conds = []
        if lim.valid_from is not None:
            conds.append(f"{date_expr} >= DATE '{lim.valid_from.isoformat()}'")
        if lim.valid_until is not None:
            conds.append(f"{date_expr} <= DATE '{lim.valid_until.isoformat()}'")
        branches.append(f"WHEN {' AND '.join(conds) or 'true'} THEN {lim.value:g}")
    return "CASE " + " ".join(branches) + " END"
