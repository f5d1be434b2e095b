"""Known rows for the provisioning tests, seeded as superuser into the fixture database.

Reference instant: END = 2025-03-10 05:00 UTC (12:00 in Bắc Ninh). Stations:

- BN01 reporting (last reading 5 min before END); VN_AQI 120 then 160 in the last two hours;
- BN02 silent for 45 min; its last AQI was clean (42): silence, not clean air;
- BN03 not seen for 40 days; its last AQI (80) is 5 h old, too old to be "current";
- BN05 reporting (2 min before END); AQI 180 two hours ago, 25 in the last hour;
- BN04 retired on 31 January 2025: selectable for its history, counted nowhere after it;
- BN06 a low-cost sensor (``public_aqi`` false): its AQI rows (hourly 350, daily 450 and
  260) exist but may not be published; province views show its PM2.5 (85 µg/m³) only.

BN01-BN05 are fixed automatic stations measuring PM2.5, O3 and NO2 with ``public_aqi``:
their AQI may be published (Circular 10/2021/TT-BTNMT Art. 29-30, ``aqi_publishable``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg

from tests.provisioning.macros import TimeRange, VariableValue

UTC = dt.UTC
ICT = dt.timezone(dt.timedelta(hours=7))
END = dt.datetime(2025, 3, 10, 5, 0, tzinfo=UTC)
LAST_24H = TimeRange(END - dt.timedelta(hours=24), END)
# A month in local days: from 00:00 ICT on 1 March (still 28 February in UTC).
MARCH = TimeRange(dt.datetime(2025, 3, 1, tzinfo=ICT), END)
# Neither UTC nor ICT: proves no query relies on the session's time zone.
SESSION_TIMEZONE = "America/Sao_Paulo"

STATIONS = [
    # station_id, name, lat, lon, status
    ("BN01", "Trạm Bắc Ninh", 21.186, 106.076, "active"),
    ("BN02", "Trạm Từ Sơn", 21.117, 105.958, "active"),
    ("BN03", "Trạm Quế Võ", 21.148, 106.154, "active"),
    ("BN04", "Trạm cũ", 21.05, 106.05, "retired"),
    ("BN05", "Trạm Yên Phong", 21.207, 105.994, "active"),
]
# Seeded by seed_common only (insert_stations leaves it out): an indicative station.
INDICATIVE_STATIONS = [("BN06", "Trạm cảm biến Đông Ngàn", 21.135, 105.975, "active")]
PUBLISHABLE_PARAMETERS = ["pm25", "o3", "no2"]
ALL_STATIONS = tuple(s[0] for s in [*STATIONS, *INDICATIVE_STATIONS] if s[4] == "active")
PUBLISHABLE = frozenset(s[0] for s in STATIONS)
"""Stations whose AQI may be published on every seeded day (BN06 may not)."""
# The $station variable lists active stations first, then retired ones.
STATION_OPTIONS = (*ALL_STATIONS, *(s[0] for s in STATIONS if s[4] == "retired"))
RETIRED_ON = {"BN04": dt.date(2025, 1, 31)}

H = dt.timedelta(hours=1)
# (station, standard, hour, aqi, dominant, nowcast_pm25)
AQI_HOURLY = [
    ("BN01", "vn_1459_2019", END - 2 * H, 120, "pm25", 45.0),
    ("BN01", "vn_1459_2019", END - H, 160, "pm25", 70.0),
    ("BN01", "us_epa_2024", END - H, 170, "pm25", 70.0),
    ("BN02", "vn_1459_2019", END - 2 * H, 42, "pm10", 10.0),
    ("BN03", "vn_1459_2019", END - 5 * H, 80, "pm25", 30.0),
    ("BN04", "vn_1459_2019", END - H, 300, "pm25", 200.0),
    ("BN05", "vn_1459_2019", END - 2 * H, 180, "o3", 90.0),
    ("BN05", "vn_1459_2019", END - H, 25, "pm25", 8.0),
    ("BN06", "vn_1459_2019", END - H, 350, "pm25", 250.0),
]

D = dt.date
# (station, standard, local day, aqi or None)
AQI_DAILY = [
    ("BN01", "vn_1459_2019", D(2025, 2, 28), 40),  # the UTC date of MARCH.start: outside
    ("BN01", "vn_1459_2019", D(2025, 3, 9), 210),
    ("BN01", "us_epa_2024", D(2025, 3, 9), 220),
    ("BN02", "vn_1459_2019", D(2025, 3, 7), 300),
    ("BN02", "vn_1459_2019", D(2025, 3, 9), 190),
    ("BN04", "vn_1459_2019", D(2025, 3, 9), 400),
    ("BN05", "vn_1459_2019", D(2025, 3, 6), None),
    ("BN05", "vn_1459_2019", D(2025, 3, 8), 250),
    ("BN05", "vn_1459_2019", D(2025, 3, 9), 90),
    ("BN06", "vn_1459_2019", D(2025, 3, 8), 450),
    ("BN06", "vn_1459_2019", D(2025, 3, 9), 260),
]
# BN06's valid hourly PM2.5 of the last hour: what the map and table show instead of AQI.
BN06_PM25 = 85.0

# (station_id, last measurement time, arrival lag)
LAST_READINGS = [
    ("BN01", END - dt.timedelta(minutes=5), dt.timedelta(seconds=20)),
    ("BN02", END - dt.timedelta(minutes=45), dt.timedelta(seconds=40)),
    ("BN03", END - dt.timedelta(days=40), dt.timedelta(seconds=10)),
    ("BN04", END - dt.timedelta(minutes=1), dt.timedelta(seconds=5)),
    ("BN05", END - dt.timedelta(minutes=2), dt.timedelta(seconds=30)),
    ("BN06", END - dt.timedelta(minutes=1), dt.timedelta(seconds=15)),
]

REJECTS = [
    # received_at, station_id, reason_code, reading_index
    (END - 3 * H, "BN01", "out_of_range", 0),
    (END - 3 * H + dt.timedelta(minutes=5), "BN01", "out_of_range", 1),
    (END - 2 * H, None, "unknown_station", -1),
    (END - 30 * H, "BN02", "out_of_range", 0),  # outside the last 24 h
]


def insert_stations(conn: psycopg.Connection[Any]) -> None:
    conn.cursor().executemany(
        "INSERT INTO stations (station_id, name, latitude, longitude, station_type, status,"
        " retired_on) VALUES (%s, %s, %s, %s, 'fixed_automatic', %s, %s)",
        [(*s, RETIRED_ON.get(s[0])) for s in STATIONS],
    )


def insert_reading(
    conn: psycopg.Connection[Any],
    station: str,
    parameter: str,
    ts: dt.datetime,
    value: float,
    *,
    lag: dt.timedelta = dt.timedelta(seconds=30),
    status: str = "00",
) -> None:
    conn.execute(
        "INSERT INTO readings (station_id, parameter, ts, value, original_value, original_unit,"
        " status, source_format, received_at) VALUES (%s, %s, %s, %s, %s, 'µg/m³', %s,"
        " 'aqm_json', %s)",
        (station, parameter, ts, value, value, status, ts + lag),
    )


def insert_hourly(
    conn: psycopg.Connection[Any],
    station: str,
    parameter: str,
    hour: dt.datetime,
    mean: float | None,
    *,
    valid: bool = True,
    n_valid: int = 12,
    n_expected: int = 12,
    n_flagged: int = 0,
) -> None:
    conn.execute(
        "INSERT INTO hourly (station_id, parameter, hour, mean, n_valid, n_flagged, n_expected,"
        " completeness, valid, min_completeness) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, 0.75)",
        (
            station,
            parameter,
            hour,
            mean,
            n_valid,
            n_flagged,
            n_expected,
            min(1.0, n_valid / n_expected),
            valid,
        ),
    )


def seed_common(url: str) -> None:
    """Stations, latest readings, AQI tables and rejects described in the module docstring."""
    with psycopg.connect(url, autocommit=True) as conn:
        insert_stations(conn)
        conn.execute(
            "UPDATE stations SET public_aqi = true, parameters = %s", (PUBLISHABLE_PARAMETERS,)
        )
        conn.cursor().executemany(
            "INSERT INTO stations (station_id, name, latitude, longitude, station_type, status,"
            " public_aqi, parameters) VALUES (%s, %s, %s, %s, 'low_cost_sensor', %s, false, %s)",
            [(*s, PUBLISHABLE_PARAMETERS) for s in INDICATIVE_STATIONS],
        )
        for station, last, lag in LAST_READINGS:
            for minutes_before in (0, 10, 20):
                ts = last - dt.timedelta(minutes=minutes_before)
                insert_reading(conn, station, "pm25", ts, 30.0, lag=lag)
        for station, standard, hour, aqi, dominant, nowcast in AQI_HOURLY:
            conn.execute(
                "INSERT INTO aqi_hourly (station_id, standard, hour, aqi, dominant, nowcast_pm25,"
                " method_version) VALUES (%s, %s, %s, %s, %s, %s, 'test')",
                (station, standard, hour, aqi, dominant, nowcast),
            )
        for station, standard, day, daily_aqi in AQI_DAILY:
            conn.execute(
                "INSERT INTO aqi_daily (station_id, standard, day, aqi, missing_reason,"
                " method_version) VALUES (%s, %s, %s, %s, %s, 'test')",
                (
                    station,
                    standard,
                    day,
                    daily_aqi,
                    None if daily_aqi is not None else "insufficient_hours",
                ),
            )
        for received, reject_station, code, index in REJECTS:
            conn.execute(
                "INSERT INTO rejected_messages (received_at, topic, station_id, reason_code,"
                " reason, reading_index, payload, payload_digest) VALUES (%s, %s, %s, %s, %s,"
                " %s, %s, %s)",
                (
                    received,
                    f"aqm/v1/stations/{reject_station or 'XX99'}/readings",
                    reject_station,
                    code,
                    f"{code} (test)",
                    index,
                    b"{}",
                    f"{received}{index}".encode(),
                ),
            )
        for hour_back in range(1, 25):
            hour = END - hour_back * H
            insert_hourly(
                conn,
                "BN01",
                "pm25",
                hour,
                40.0,
                valid=hour_back != 3,
                n_valid=12 if hour_back != 3 else 6,
            )
        insert_hourly(conn, "BN06", "pm25", END - H, BN06_PM25)


@dataclass(frozen=True)
class Result:
    columns: list[str]
    rows: list[tuple[Any, ...]]

    def as_dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


Runner = Callable[..., Result]


def station_variables(
    selected: tuple[str, ...] = ("$__all",), standard: str = "vn_1459_2019", multi: bool = True
) -> dict[str, VariableValue]:
    return {
        "station": VariableValue(selected, multi=multi, include_all=multi, options=STATION_OPTIONS),
        "standard": VariableValue.single(standard),
    }
