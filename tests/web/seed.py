"""Stations and values for the public page's tests, written through the real tables.

Times are relative to the hour the seed runs in (``base``: the start of the current UTC
hour), so the page's "now" sees them as fresh, stale or missing as each case needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg

from tests.conftest import DATA_TABLES

LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")
H = timedelta(hours=1)

# Decision 1459/QĐ-TCMT Table 1: band names and RGB colours.
KEM = ("Kém", (255, 126, 0))
TOT = ("Tốt", (0, 228, 0))

FRESH_AQI = 135  # PM2.5 dominant, band Kém (101-150)
FRESH_MISSING_HOUR = 5  # hours before base without a value at the fresh station
VERIFIED_AQI = 45  # band Tốt, O3 dominant
STALE_AQI = 42  # 5 hours old: the station is silent
INDICATIVE_PM25 = 35.4
INDICATIVE_PM10 = 50.2
INDICATIVE_STORED_AQI = 99  # an AQI row exists for the sensor; it must never be shown


@dataclass(frozen=True)
class Seeded:
    base: datetime  # start of the current UTC hour at seeding time


STATIONS = (
    # id, name, lat, lon, type, public_aqi, parameters
    ("BN-FRESH", "Trạm Kinh Bắc", 21.1861, 106.0763, "fixed_automatic", True,
     ["pm25", "pm10", "o3", "no2"]),
    ("BN-VERIFIED", "Trạm Bắc Giang", 21.2731, 106.1946, "fixed_automatic", True,
     ["pm25", "pm10", "o3", "co"]),
    ("BN-SILENT", "Trạm Từ Sơn", 21.1190, 105.9600, "fixed_automatic", True,
     ["pm25", "o3", "so2"]),
    ("BN-EMPTY", "Trạm Lục Ngạn", 21.38, 106.62, "fixed_automatic", True,
     ["pm25", "o3", "no2"]),
    ("BN-LCS", "Cảm biến bụi Quế Võ", 21.15, 106.15, "low_cost_sensor", False,
     ["pm25", "pm10", "humidity"]),
)  # fmt: skip

AQI_INSERT = """
INSERT INTO aqi_hourly (station_id, standard, hour, aqi, category, dominant, sub_pm25, sub_o3,
                        data_level, method_version)
VALUES (%s, 'vn_1459_2019', %s, %s, %s, %s, %s, %s, %s, 'test')
"""
HOURLY_INSERT = """
INSERT INTO hourly (station_id, parameter, hour, mean, n_valid, n_flagged, n_expected,
                    completeness, valid, min_completeness)
VALUES (%s, %s, %s, %s, 12, 0, 12, 1.0, true, 0.75)
"""
DAILY_INSERT = """
INSERT INTO aqi_daily (station_id, standard, day, aqi, category, dominant, pm25_mean,
                       data_level, method_version)
VALUES (%s, 'vn_1459_2019', %s, %s, %s, 'pm25', %s, %s, 'test')
"""


def level(aqi: int) -> int:
    """Band level 1…6 of an integer AQI (Decision 1459 Table 1), written out here."""
    for number, upper in enumerate((50, 100, 150, 200, 300), start=1):
        if aqi <= upper:
            return number
    return 6


def seed(database_url: str) -> Seeded:
    base = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    today = base.astimezone(LOCAL).date()
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("TRUNCATE " + ", ".join(DATA_TABLES) + " CASCADE")
        for sid, name, lat, lon, kind, public, params in STATIONS:
            conn.execute(
                "INSERT INTO stations (station_id, name, ward, latitude, longitude,"
                " station_type, public_aqi, parameters) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    sid,
                    name,
                    "Phường " + name.removeprefix("Trạm ").removeprefix("Cảm biến bụi "),
                    lat,
                    lon,
                    kind,
                    public,
                    params,
                ),
            )
        with conn.cursor() as cur:
            # the fresh station: 24 hours up to the last complete one, one hour missing
            for back in range(1, 25):
                if back == FRESH_MISSING_HOUR:
                    continue
                hour = base - back * H
                value = FRESH_AQI if back == 1 else 60 + back
                cur.execute(AQI_INSERT, ("BN-FRESH", hour, value, level(value), "pm25", value,
                                         40, "provisional"))  # fmt: skip
                cur.execute(HOURLY_INSERT, ("BN-FRESH", "pm25", hour, 50.0))
            cur.execute(AQI_INSERT, ("BN-VERIFIED", base - H, VERIFIED_AQI, level(VERIFIED_AQI),
                                     "o3", 30, VERIFIED_AQI, "verified"))  # fmt: skip
            cur.execute(HOURLY_INSERT, ("BN-VERIFIED", "o3", base - H, 90.0))
            silent_hour = base - 5 * H
            cur.execute(AQI_INSERT, ("BN-SILENT", silent_hour, STALE_AQI, 1, "pm25", STALE_AQI,
                                     20, "provisional"))  # fmt: skip
            cur.execute(HOURLY_INSERT, ("BN-SILENT", "pm25", silent_hour, 20.0))
            cur.execute(HOURLY_INSERT, ("BN-LCS", "pm25", base - H, INDICATIVE_PM25))
            cur.execute(HOURLY_INSERT, ("BN-LCS", "pm10", base - H, INDICATIVE_PM10))
            cur.execute(AQI_INSERT, ("BN-LCS", base - H, INDICATIVE_STORED_AQI, 2, "pm25",
                                     INDICATIVE_STORED_AQI, None, "provisional"))  # fmt: skip
            # daily values of the fresh station: the last 30 complete local days but two
            for back in range(1, 31):
                if back in (3, 10):
                    continue
                day: date = today - timedelta(days=back)
                value = 80 + back
                cur.execute(DAILY_INSERT, ("BN-FRESH", day, value, level(value), 40.0,
                                           "provisional"))  # fmt: skip
    return Seeded(base=base)
