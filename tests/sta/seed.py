"""A small network with known values for the SensorThings tests, and the values each
Datastream must serve, worked out here from the seeded rows (not by the service)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

import psycopg

UTC = dt.UTC
START = dt.datetime(2024, 12, 31, 17, tzinfo=UTC)  # local 2025-01-01 00:00 (UTC+7)
HOUR = dt.timedelta(hours=1)


@dataclass(frozen=True)
class Station:
    station_id: str
    name: str
    ward: str
    district: str
    latitude: float
    longitude: float
    elevation_m: float | None
    station_type: str
    public_aqi: bool
    parameters: tuple[str, ...]
    classes: tuple[dict[str, object], ...] = ()


STATIONS = (
    Station("BN01", "Trạm Suối Hoa", "Suối Hoa", "TP Bắc Ninh", 21.186, 106.076, 12.0,
            "fixed_automatic", True, ("pm25", "pm10", "o3", "no2")),
    Station("BN02", "Cảm biến Đình Bảng", "Đình Bảng", "TP Từ Sơn", 21.118, 105.958, None,
            "low_cost_sensor", False, ("pm25", "humidity")),
    # Publishes AQI only from its upgrade on 2025-01-03 (the first entry applies before it)
    Station("BN03", "Trạm Quế Võ", "Phố Mới", "Quế Võ", 21.152, 106.152, None,
            "fixed_automatic", True, ("pm25", "o3", "co"),
            ({"from": "2025-01-01", "station_type": "low_cost_sensor", "public_aqi": False},
             {"from": "2025-01-03", "station_type": "fixed_automatic", "public_aqi": True})),
)  # fmt: skip

AQI_STATIONS = ("BN01", "BN03")
FIRST_PUBLISHABLE_DAY = {"BN01": dt.date(2025, 1, 1), "BN03": dt.date(2025, 1, 3)}

HOURLY_HOURS = 72


def hourly_mean(i: int) -> float:
    return round(5 + (i * 7 % 23) * 1.25, 2)


def hourly_valid(i: int) -> bool:
    return i % 10 != 9


def aqi_value(i: int) -> int | None:
    return None if i == 5 else 20 + (i * 3 % 90)


def category(aqi: int) -> int:
    for level, upper in enumerate((50, 100, 150, 200, 300), start=1):
        if aqi <= upper:
            return level
    return 6


AQI_HOURS = 96
AQI_DAYS = 4
BAND_VI = {1: "Tốt", 2: "Trung bình"}

READING_TIMES = [dt.datetime(2025, 1, 1, 0, 5 * k, tzinfo=UTC) for k in range(12)] + [
    dt.datetime(2025, 1, 1, 20, 0, tzinfo=UTC),
    dt.datetime(2025, 1, 1, 20, 5, tzinfo=UTC),
]
VERIFIED_UNTIL = dt.datetime(2025, 1, 1, 17, tzinfo=UTC)  # local day 2025-01-01 verified
SPIKE_INDEX = 7
CALIBRATING_INDEX = 3


def iso(value: dt.datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def seed(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "TRUNCATE readings, hourly, aqi_hourly, aqi_daily, qc_flags, aqi_dirty_hours,"
            " stations CASCADE"
        )
        conn.execute("SET session_replication_role = replica")
        conn.execute("TRUNCATE qc_actions")
        conn.execute("RESET session_replication_role")
        for s in STATIONS:
            conn.execute(
                "INSERT INTO stations (station_id, name, ward, district, latitude, longitude,"
                " elevation_m, station_type, public_aqi, parameters, classes)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (s.station_id, s.name, s.ward, s.district, s.latitude, s.longitude,
                 s.elevation_m, s.station_type, s.public_aqi, list(s.parameters),
                 json.dumps(list(s.classes))),
            )  # fmt: skip
        with conn.cursor() as cur:
            hourly = []
            for i in range(HOURLY_HOURS):
                valid = hourly_valid(i)
                level = "verified" if i < 24 else "provisional"
                hourly.append(("BN01", "pm25", START + i * HOUR, hourly_mean(i), valid, level))
            for i in range(24):
                hourly.append(("BN01", "pm10", START + i * HOUR, 30.0 + i, True, "provisional"))
                hourly.append(("BN02", "pm25", START + i * HOUR, 40.0 + i, True, "provisional"))
            cur.executemany(
                "INSERT INTO hourly (station_id, parameter, hour, mean, n_valid, n_flagged,"
                " n_expected, completeness, valid, min_completeness, data_level)"
                " VALUES (%s, %s, %s, %s, 12, 0, 12, CASE WHEN %s THEN 1.0 ELSE 0.5 END,"
                " %s, 0.75, %s)",
                [(s, p, h, m, v, v, lvl) for s, p, h, m, v, lvl in hourly],
            )
            aqi_rows = []
            for station in (*AQI_STATIONS, "BN02"):
                for i in range(AQI_HOURS):
                    aqi = aqi_value(i)
                    aqi_rows.append((station, "vn_1459_2019", START + i * HOUR, aqi,
                                     None if aqi is None else category(aqi)))  # fmt: skip
                    aqi_rows.append((station, "us_epa_2024", START + i * HOUR, 99, 2))
            cur.executemany(
                "INSERT INTO aqi_hourly (station_id, standard, hour, aqi, category, dominant,"
                " method_version) VALUES (%s, %s, %s, %s, %s, 'pm25', 'test')",
                aqi_rows,
            )
            daily = [
                (station, dt.date(2025, 1, 1) + dt.timedelta(days=d), 40 + 10 * d)
                for station in (*AQI_STATIONS, "BN02")
                for d in range(AQI_DAYS)
            ]
            cur.executemany(
                "INSERT INTO aqi_daily (station_id, standard, day, aqi, category, dominant,"
                " method_version) VALUES (%s, 'vn_1459_2019', %s, %s, 1, 'pm25', 'test')",
                daily,
            )
            cur.executemany(
                "INSERT INTO readings (station_id, parameter, ts, value, original_value,"
                " original_unit, status, source_format, received_at)"
                " VALUES ('BN01', 'pm25', %s, %s, %s, 'ug/m3', %s, 'aqm_json', %s)",
                [(t, 10.0 + k, 10.0 + k, "01" if k == CALIBRATING_INDEX else "00", t)
                 for k, t in enumerate(READING_TIMES)],
            )  # fmt: skip
        conn.execute(
            "INSERT INTO qc_flags (station_id, parameter, ts, flags, rules_version)"
            " VALUES ('BN01', 'pm25', %s, 64, 'test')",
            (READING_TIMES[SPIKE_INDEX],),
        )
        conn.execute(
            "INSERT INTO qc_actions (action, station_id, period_start, period_end, performed_by)"
            " VALUES ('verify', 'BN01', %s, %s, 'Nguyễn Văn A')",
            (START, VERIFIED_UNTIL),
        )


def expected_hourly_pm25() -> list[tuple[str, float]]:
    """(phenomenon start, mean) of BN01's valid hourly PM2.5 means, oldest first."""
    return [(iso(START + i * HOUR), hourly_mean(i)) for i in range(HOURLY_HOURS) if hourly_valid(i)]


def local_day(hour: dt.datetime) -> dt.date:
    return (hour + dt.timedelta(hours=7)).date()


def expected_hourly_aqi(station: str) -> list[tuple[str, int]]:
    first = FIRST_PUBLISHABLE_DAY[station]
    rows = []
    for i in range(AQI_HOURS):
        hour = START + i * HOUR
        aqi = aqi_value(i)
        if aqi is not None and local_day(hour) >= first:
            rows.append((iso(hour), aqi))
    return rows


def expected_daily_aqi(station: str) -> list[tuple[str, int]]:
    first = FIRST_PUBLISHABLE_DAY[station]
    rows = []
    for d in range(AQI_DAYS):
        day = dt.date(2025, 1, 1) + dt.timedelta(days=d)
        if day >= first:
            start = dt.datetime(day.year, day.month, day.day, tzinfo=UTC) - dt.timedelta(hours=7)
            rows.append((iso(start), 40 + 10 * d))
    return rows
