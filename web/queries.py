"""The SQL of the public documents, read as ``aqm_reader`` through an async pool.

Every query is bounded: the current document reads the last 48 hours of each active
station, the series a bounded number of hours or days; nothing from a request reaches the
SQL text (parameters only).
"""

from __future__ import annotations

from typing import Any, Final

from psycopg import AsyncConnection

from web.documents import STANDARD, DayPoint, HourPoint, StationRow

LOOKBACK: Final = "48 hours"

CURRENT_SQL: Final = f"""
SELECT s.station_id, s.name, s.ward, s.district, s.latitude, s.longitude, s.station_type,
       aqi_publishable(s.station_id, (now() AT TIME ZONE %(tz)s)::date) AS eligible_today,
       a.hour, a.aqi, a.category, a.dominant,
       a.sub_pm25, a.sub_pm10, a.sub_o3, a.sub_no2, a.sub_so2, a.sub_co, a.data_level,
       a.hour IS NOT NULL AND aqi_publishable(s.station_id, (a.hour AT TIME ZONE %(tz)s)::date),
       last.hour, conc.hour, conc.values
FROM stations s
LEFT JOIN LATERAL (
    SELECT hour, aqi, category, dominant, sub_pm25, sub_pm10, sub_o3, sub_no2, sub_so2, sub_co,
           data_level
    FROM aqi_hourly
    WHERE station_id = s.station_id AND standard = '{STANDARD}' AND aqi IS NOT NULL
      AND hour > now() - interval '{LOOKBACK}'
    ORDER BY hour DESC LIMIT 1
) a ON true
LEFT JOIN LATERAL (
    SELECT max(hour) AS hour FROM hourly
    WHERE station_id = s.station_id AND hour > now() - interval '{LOOKBACK}' AND n_valid > 0
) last ON true
LEFT JOIN LATERAL (
    SELECT h.hour, json_agg(json_build_array(h.parameter, h.mean, p.unit)) AS values
    FROM hourly h JOIN parameters p ON p.parameter = h.parameter AND p.is_pollutant
    WHERE h.station_id = s.station_id AND h.valid AND h.mean IS NOT NULL
      AND h.hour = (SELECT max(hour) FROM hourly
                    WHERE station_id = s.station_id AND valid AND mean IS NOT NULL
                      AND hour > now() - interval '{LOOKBACK}')
    GROUP BY h.hour
) conc ON true
WHERE s.status = 'active'
"""

STATION_SQL: Final = """
SELECT aqi_publishable(station_id, (now() AT TIME ZONE %(tz)s)::date)
FROM stations WHERE station_id = %(sid)s AND status = 'active'
"""

HOURLY_SQL: Final = f"""
SELECT g.hour, a.aqi, a.category, a.data_level,
       aqi_publishable(%(sid)s, (g.hour AT TIME ZONE %(tz)s)::date), pm.mean
FROM generate_series(date_trunc('hour', now()) - %(n)s * interval '1 hour',
                     date_trunc('hour', now()) - interval '1 hour', interval '1 hour') AS g(hour)
LEFT JOIN aqi_hourly a ON a.station_id = %(sid)s AND a.standard = '{STANDARD}'
                      AND a.hour = g.hour
LEFT JOIN hourly pm ON pm.station_id = %(sid)s AND pm.parameter = 'pm25' AND pm.hour = g.hour
                   AND pm.valid
ORDER BY g.hour
"""

DAILY_SQL: Final = f"""
SELECT g.day::date, a.aqi, a.category, a.data_level,
       aqi_publishable(%(sid)s, g.day::date), a.pm25_mean
FROM generate_series((now() AT TIME ZONE %(tz)s)::date - %(n)s,
                     (now() AT TIME ZONE %(tz)s)::date - 1, interval '1 day') AS g(day)
LEFT JOIN aqi_daily a ON a.station_id = %(sid)s AND a.standard = '{STANDARD}'
                     AND a.day = g.day::date
ORDER BY g.day
"""

_SUB_POLLUTANTS: Final = ("pm25", "pm10", "o3", "no2", "so2", "co")


async def current_rows(conn: AsyncConnection[Any], tz: str) -> list[StationRow]:
    cur = await conn.execute(CURRENT_SQL, {"tz": tz})
    rows = []
    for r in await cur.fetchall():
        rows.append(
            StationRow(
                station_id=r[0], name=r[1], ward=r[2], district=r[3],
                latitude=float(r[4]), longitude=float(r[5]), station_type=r[6],
                eligible_today=bool(r[7]), aqi_hour=r[8], aqi=r[9], category=r[10],
                dominant=r[11], sub_indices=dict(zip(_SUB_POLLUTANTS, r[12:18], strict=True)),
                data_level=r[18], aqi_publishable=bool(r[19]), last_data_hour=r[20],
                concentration_hour=r[21],
                concentrations=[(str(p), float(v), str(u)) for p, v, u in (r[22] or [])],
            )
        )  # fmt: skip
    return rows


async def station_eligible(conn: AsyncConnection[Any], station_id: str, tz: str) -> bool | None:
    """Whether an active station may publish AQI today; None for no such station."""
    cur = await conn.execute(STATION_SQL, {"sid": station_id, "tz": tz})
    row = await cur.fetchone()
    return None if row is None else bool(row[0])


async def hour_points(
    conn: AsyncConnection[Any], station_id: str, hours: int, tz: str
) -> list[HourPoint]:
    cur = await conn.execute(HOURLY_SQL, {"sid": station_id, "n": hours, "tz": tz})
    return [
        HourPoint(hour=r[0], aqi=r[1], category=r[2], data_level=r[3], publishable=bool(r[4]),
                  pm25=r[5])
        for r in await cur.fetchall()
    ]  # fmt: skip


async def day_points(
    conn: AsyncConnection[Any], station_id: str, days: int, tz: str
) -> list[DayPoint]:
    cur = await conn.execute(DAILY_SQL, {"sid": station_id, "n": days, "tz": tz})
    return [
        DayPoint(day=r[0], aqi=r[1], category=r[2], data_level=r[3], publishable=bool(r[4]),
                 pm25=r[5])
        for r in await cur.fetchall()
    ]  # fmt: skip
