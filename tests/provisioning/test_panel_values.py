"""Panel SQL returns the values expected from known rows (expanded like Grafana, run as aqm_reader)."""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest

from dashboards import daily_aqi, data_quality, overview, station
from dashboards.macros import TimeRange
from tests.provisioning.seed import (
    END,
    ICT,
    LAST_24H,
    MARCH,
    UTC,
    H,
    Runner,
    insert_hourly,
    insert_reading,
    insert_stations,
    station_variables,
)

pytestmark = pytest.mark.services


def test_map_colours_each_active_station_by_its_current_vn_band(
    seeded_db: str, run_sql: Runner
) -> None:
    rows = run_sql(overview.MAP_SQL).as_dicts()
    got = {r["Mã trạm"]: (r["AQI"], r["Mức AQI"]) for r in rows}
    # BN03's last AQI is 5 h old: shown as no data (-1, grey), never as a clean band.
    assert got == {"BN01": (160, 3), "BN02": (42, 0), "BN03": (None, -1), "BN05": (25, 0)}
    bn01 = next(r for r in rows if r["Mã trạm"] == "BN01")
    assert (bn01["latitude"], bn01["longitude"]) == (21.186, 106.076)
    assert bn01["Giờ AQI"] == END - dt.timedelta(hours=1)


def test_latest_table_puts_silent_stations_first(seeded_db: str, run_sql: Runner) -> None:
    rows = run_sql(overview.LATEST_TABLE_SQL).as_dicts()
    assert [r["Mã trạm"] for r in rows] == ["BN02", "BN03", "BN01", "BN05"]
    by_id = {r["Mã trạm"]: r for r in rows}
    assert (by_id["BN01"]["AQI"], by_id["BN01"]["Mức"]) == (160, "Xấu")
    assert by_id["BN01"]["Chất ô nhiễm chính"] == "Bụi PM2.5"
    assert by_id["BN01"]["Số liệu cuối"] == END - dt.timedelta(minutes=5)
    assert float(by_id["BN01"]["Im lặng (phút)"]) == 5.0
    assert float(by_id["BN02"]["Im lặng (phút)"]) == 45.0
    assert (by_id["BN02"]["AQI"], by_id["BN02"]["Mức"]) == (42, "Tốt")
    assert by_id["BN03"]["Im lặng (phút)"] is None
    assert by_id["BN03"]["Mức"] == "Không có dữ liệu"


def test_latest_table_follows_the_standard_variable(seeded_db: str, run_sql: Runner) -> None:
    rows = run_sql(overview.LATEST_TABLE_SQL, variables=station_variables(standard="us_epa_2024"))
    by_id = {r["Mã trạm"]: r for r in rows.as_dicts()}
    assert (by_id["BN01"]["AQI"], by_id["BN01"]["Mức"]) == (170, "Không tốt cho sức khỏe")
    assert by_id["BN05"]["Mức"] == "Không có dữ liệu"


def test_silent_station_count(seeded_db: str, run_sql: Runner) -> None:
    assert run_sql(overview.SILENT_COUNT_SQL).rows == [(2,)]
    # 20 minutes earlier BN02 had been quiet for 25 minutes only: BN03 alone was silent.
    earlier = TimeRange(END - dt.timedelta(hours=24, minutes=20), END - dt.timedelta(minutes=20))
    assert run_sql(overview.SILENT_COUNT_SQL, earlier).rows == [(1,)]


def test_days_per_band_counts_local_days(seeded_db: str, run_sql: Runner) -> None:
    got = dict(run_sql(daily_aqi.DAYS_PER_BAND_SQL, MARCH).rows)
    # 28 Feb (UTC date of the range start, 1 March 00:00 ICT) must not count as Tốt.
    assert got == {
        "Tốt": 0,
        "Trung bình": 1,
        "Kém": 0,
        "Xấu": 1,
        "Rất xấu": 3,
        "Nguy hại": 0,
        "Không có dữ liệu": 1,
    }
    one = dict(run_sql(daily_aqi.DAYS_PER_BAND_SQL, MARCH, station_variables(("BN01",))).rows)
    assert one["Rất xấu"] == 1 and sum(one.values()) == 1
    us = dict(
        run_sql(daily_aqi.DAYS_PER_BAND_SQL, MARCH, station_variables(standard="us_epa_2024")).rows
    )
    assert us["Rất không tốt cho sức khỏe"] == 1 and sum(us.values()) == 1


def test_days_per_station_table(seeded_db: str, run_sql: Runner) -> None:
    rows = run_sql(daily_aqi.DAYS_PER_STATION_SQL, MARCH).rows
    assert rows == [
        ("Trạm Bắc Ninh", "Rất xấu", 1),
        ("Trạm Từ Sơn", "Xấu", 1),
        ("Trạm Từ Sơn", "Rất xấu", 1),
        ("Trạm Yên Phong", "Trung bình", 1),
        ("Trạm Yên Phong", "Rất xấu", 1),
        ("Trạm Yên Phong", "Không có dữ liệu", 1),
    ]


def test_calendar_cells_start_at_local_midnight(seeded_db: str, run_sql: Runner) -> None:
    rows = run_sql(daily_aqi.CALENDAR_SQL, MARCH, station_variables(("BN01", "BN05"))).rows
    assert rows == [
        (dt.datetime(2025, 3, 5, 17, tzinfo=UTC), "Trạm Yên Phong", None),
        (dt.datetime(2025, 3, 7, 17, tzinfo=UTC), "Trạm Yên Phong", 250),
        (dt.datetime(2025, 3, 8, 17, tzinfo=UTC), "Trạm Bắc Ninh", 210),
        (dt.datetime(2025, 3, 8, 17, tzinfo=UTC), "Trạm Yên Phong", 90),
    ]


def _hours(start: dt.datetime, count: int) -> list[dt.datetime]:
    return [start + dt.timedelta(hours=i) for i in range(count)]


@pytest.fixture
def pollutant_db(clean_db: str) -> str:
    """BN01 hourly means around the PM2.5 24-h limit change of 1 January 2026."""
    with psycopg.connect(clean_db, autocommit=True) as conn:
        insert_stations(conn)
        day1 = _hours(dt.datetime(2025, 12, 31, tzinfo=ICT), 24)  # last day with limit 50
        for i, hour in enumerate(day1):
            invalid = i in (0, 1, 2, 3)
            insert_hourly(conn, "BN01", "pm25", hour, 500.0 if invalid else 48.0, valid=not invalid)
        day2 = _hours(dt.datetime(2026, 1, 1, tzinfo=ICT), 18)  # first day with limit 45
        for i, hour in enumerate(day2):
            insert_hourly(conn, "BN01", "pm25", hour, 46.0 if i % 2 else 48.0)
        for hour in _hours(dt.datetime(2026, 1, 2, tzinfo=ICT), 10):  # too few hours
            insert_hourly(conn, "BN01", "pm25", hour, 30.0)
        insert_hourly(conn, "BN01", "no2", dt.datetime(2025, 12, 31, 2, tzinfo=UTC), 210.0)
        insert_hourly(
            conn, "BN01", "no2", dt.datetime(2025, 12, 31, 3, tzinfo=UTC), 999.0, valid=False
        )
        for i, hour in enumerate(_hours(dt.datetime(2025, 12, 31, 0, tzinfo=UTC), 8)):
            invalid = i == 3
            insert_hourly(
                conn, "BN01", "o3", hour, 999.0 if invalid else 100.0 + 10 * i, valid=not invalid
            )
    return clean_db


BN01 = station_variables(("BN01",), multi=False)


def test_daily_means_use_local_days_and_the_limit_in_force(
    pollutant_db: str, run_sql: Runner
) -> None:
    window = TimeRange(
        dt.datetime(2025, 12, 31, tzinfo=ICT), dt.datetime(2026, 1, 2, 23, tzinfo=ICT)
    )
    sql = station.daily_sql("pm25")
    assert sql is not None
    rows = run_sql(sql, window, BN01).rows
    # Each local day is drawn from its midnight to one second before the next one.
    # 31/12: 20 valid hours at 48 (the 4 invalid hours at 500 are left out), limit 50;
    # 01/01: 18 valid hours alternating 48/46, limit 45 from that day;
    # 02/01: 10 valid hours only, under 18: no mean, but the limit line goes on.
    assert rows == [
        (dt.datetime(2025, 12, 31, 0, tzinfo=ICT), pytest.approx(48.0), 50),
        (dt.datetime(2025, 12, 31, 23, 59, 59, tzinfo=ICT), pytest.approx(48.0), 50),
        (dt.datetime(2026, 1, 1, 0, tzinfo=ICT), pytest.approx(47.0), 45),
        (dt.datetime(2026, 1, 1, 23, 59, 59, tzinfo=ICT), pytest.approx(47.0), 45),
        (dt.datetime(2026, 1, 2, 0, tzinfo=ICT), None, 45),
        (dt.datetime(2026, 1, 2, 23, 59, 59, tzinfo=ICT), None, 45),
    ]


def test_daily_means_leave_missing_days_blank_and_draw_the_newest_day(
    clean_db: str, run_sql: Runner
) -> None:
    with psycopg.connect(clean_db, autocommit=True) as conn:
        insert_stations(conn)
        for hour in _hours(dt.datetime(2025, 3, 5, tzinfo=ICT), 24):
            insert_hourly(conn, "BN01", "pm10", hour, 80.0)
        # nothing at all on 6 March
        for i, hour in enumerate(_hours(dt.datetime(2025, 3, 7, tzinfo=ICT), 20)):
            invalid = i in (3, 4)
            insert_hourly(conn, "BN01", "pm10", hour, 999.0 if invalid else 60.0, valid=not invalid)
    sql = station.daily_sql("pm10")
    assert sql is not None
    window = TimeRange(
        dt.datetime(2025, 3, 5, 6, tzinfo=ICT), dt.datetime(2025, 3, 7, 20, tzinfo=ICT)
    )
    day_5, day_6, day_7 = (dt.datetime(2025, 3, d, tzinfo=ICT) for d in (5, 6, 7))
    last_second = dt.timedelta(days=1, seconds=-1)
    expected = [
        (day_5, 80.0, 100),
        (day_5 + last_second, 80.0, 100),
        # 6 March is a gap, not 5 March's 80 carried forward
        (day_6, None, 100),
        (day_6 + last_second, None, 100),
        # 7 March (18 valid hours of 20 → mean 60) is the newest day and spans all of it
        (day_7, 60.0, 100),
        (day_7 + last_second, 60.0, 100),
    ]
    assert run_sql(sql, window, BN01).rows == expected
    # A day's mean does not depend on where the range ends: at 10:00 on 7 March only 9 of
    # its valid hours lie in the range, the day still has its 18.
    morning = TimeRange(window.start, dt.datetime(2025, 3, 7, 10, tzinfo=ICT))
    assert run_sql(sql, morning, BN01).rows == expected


def test_hourly_means_hide_invalid_hours_next_to_the_1h_limit(
    pollutant_db: str, run_sql: Runner
) -> None:
    window = TimeRange(
        dt.datetime(2025, 12, 31, tzinfo=UTC), dt.datetime(2025, 12, 31, 6, tzinfo=UTC)
    )
    rows = run_sql(station.hourly_sql("no2"), window, BN01).rows
    assert rows == [
        (dt.datetime(2025, 12, 31, 2, tzinfo=UTC), 210.0, 200),
        (dt.datetime(2025, 12, 31, 3, tzinfo=UTC), None, 200),
    ]
    pm = run_sql(station.hourly_sql("pm25"), window, BN01)
    assert pm.columns == ["time", "TB 1 giờ"]  # PM has no 1-h limit


def test_eight_hour_means_reach_before_the_range(pollutant_db: str, run_sql: Runner) -> None:
    window = TimeRange(
        dt.datetime(2025, 12, 31, 4, tzinfo=UTC), dt.datetime(2025, 12, 31, 7, tzinfo=UTC)
    )
    sql = station.eight_hour_sql("o3")
    assert sql is not None
    rows = run_sql(sql, window, BN01).rows
    # hour 03:00 is invalid; 06:00 has 6 valid hours (needs the 7 h before the range)
    assert [(t.astimezone(UTC).hour, v, lim) for t, v, lim in rows] == [
        (4, None, 120),
        (5, None, 120),
        (6, pytest.approx((100 + 110 + 120 + 140 + 150 + 160) / 6), 120),
        (7, pytest.approx((100 + 110 + 120 + 140 + 150 + 160 + 170) / 7), 120),
    ]


def test_status_counts_follow_the_panel_interval(clean_db: str, run_sql: Runner) -> None:
    with psycopg.connect(clean_db, autocommit=True) as conn:
        insert_stations(conn)
        base = dt.datetime(2025, 3, 10, 3, 0, tzinfo=UTC)
        for minute, status in ((0, "00"), (1, "00"), (2, "01"), (7, "02"), (61, "00")):
            insert_reading(
                conn, "BN01", "pm25", base + dt.timedelta(minutes=minute), 10.0, status=status
            )
    window = TimeRange(base, base + dt.timedelta(hours=2))
    five = run_sql(station.STATUS_SQL, window, BN01, dt.timedelta(minutes=5)).rows
    assert sorted(five) == [
        (base, "00 đo bình thường", 2),
        (base, "01 hiệu chuẩn", 1),
        (base + dt.timedelta(minutes=5), "02 lỗi thiết bị", 1),
        (base + dt.timedelta(minutes=60), "00 đo bình thường", 1),
    ]
    hourly = run_sql(station.STATUS_SQL, window, BN01, dt.timedelta(hours=1)).rows
    assert sorted(hourly) == [
        (base, "00 đo bình thường", 2),
        (base, "01 hiệu chuẩn", 1),
        (base, "02 lỗi thiết bị", 1),
        (base + dt.timedelta(hours=1), "00 đo bình thường", 1),
    ]


def test_completeness_per_station_and_parameter(seeded_db: str, run_sql: Runner) -> None:
    rows = run_sql(data_quality.COMPLETENESS_SQL, LAST_24H, station_variables(("BN01",))).as_dicts()
    assert len(rows) == 1
    row = rows[0]
    assert (row["Trạm"], row["Thông số"], row["Giờ hợp lệ"]) == ("Trạm Bắc Ninh", "Bụi PM2.5", 23)
    # $__timeFilter is inclusive at both ends: 25 hour starts lie in [END-24h, END].
    assert float(row["Giờ hợp lệ (%)"]) == round(100 * 23 / 25, 1)
    assert float(row["Mẫu hợp lệ (%)"]) == round(100 * (23 * 12 + 6) / (24 * 12), 1)


def test_rejects_by_reason(seeded_db: str, run_sql: Runner) -> None:
    rows = run_sql(data_quality.REJECTS_BY_REASON_SQL).as_dicts()
    assert [(r["Mã lý do"], r["Số lần"], r["Cả thông điệp"], r["Số trạm"]) for r in rows] == [
        ("out_of_range", 2, 0, 1),
        ("unknown_station", 1, 1, 0),
    ]
    over_time = run_sql(data_quality.REJECTS_OVER_TIME_SQL).rows
    assert over_time == [
        (END - dt.timedelta(hours=3), "out_of_range", 2),
        (END - dt.timedelta(hours=2), "unknown_station", 1),
    ]


def test_arrival_lag_by_station(seeded_db: str, run_sql: Runner) -> None:
    rows = run_sql(data_quality.LAG_BY_STATION_SQL).as_dicts()
    got = {
        r["Trạm"]: (r["Số đo"], float(r["Trung vị (s)"]), float(r["Lớn nhất (s)"])) for r in rows
    }
    assert got == {
        "Trạm Bắc Ninh": (3, 20.0, 20.0),
        "Trạm Từ Sơn": (3, 40.0, 40.0),
        "Trạm Yên Phong": (3, 30.0, 30.0),
    }


def test_station_completeness_shows_dead_hours_and_sensors_as_zero(
    clean_db: str, run_sql: Runner
) -> None:
    h0 = dt.datetime(2025, 3, 10, 1, tzinfo=UTC)
    with psycopg.connect(clean_db, autocommit=True) as conn:
        insert_stations(conn)
        conn.execute("UPDATE stations SET parameters = '{pm25,no2}' WHERE station_id = 'BN01'")
        # pm25: 12/12, 9/12, nothing at h0+2h, 6/12; no2 declared but never received;
        # so2 not declared but received once
        for offset, n_valid in ((0, 12), (1, 9), (3, 6)):
            insert_hourly(
                conn, "BN01", "pm25", h0 + offset * H, 40.0, valid=n_valid >= 9, n_valid=n_valid
            )
        insert_hourly(conn, "BN01", "so2", h0 + H, 20.0)
    # hour starts h0 … h0+4h; the last one begins at the end of the range and is not over
    window = TimeRange(h0, h0 + 4 * H)
    rows = run_sql(station.COMPLETENESS_SQL, window, BN01).rows
    got = [(t, metric, None if v is None else float(v)) for t, metric, v in rows]
    expected_pm25 = [100.0, 75.0, 0.0, 50.0, None]
    expected_no2 = [0.0, 0.0, 0.0, 0.0, None]
    expected_so2 = [0.0, 100.0, 0.0, 0.0, None]
    assert got == [
        row
        for i in range(5)
        for row in (
            (h0 + i * H, "Bụi PM2.5", expected_pm25[i]),
            (h0 + i * H, "NO2", expected_no2[i]),
            (h0 + i * H, "SO2", expected_so2[i]),
        )
    ]


def test_completeness_lists_declared_parameters_without_data(
    seeded_db: str, run_sql: Runner
) -> None:
    with psycopg.connect(seeded_db, autocommit=True) as conn:
        conn.execute("UPDATE stations SET parameters = '{pm25,no2}' WHERE station_id = 'BN01'")
        conn.execute("UPDATE stations SET parameters = '{pm10}' WHERE station_id = 'BN02'")
        conn.execute("UPDATE stations SET parameters = '{pm25}' WHERE station_id = 'BN04'")
    rows = run_sql(data_quality.COMPLETENESS_SQL, LAST_24H, station_variables()).rows
    got = [
        (name, param, valid_hours, float(pct), None if samples is None else float(samples), flagged)
        for name, param, valid_hours, pct, samples, flagged in rows
    ]
    assert got == [
        # declared, nothing received: a row at 0 % instead of no row (ordered by parameter id)
        ("Trạm Bắc Ninh", "NO2", 0, 0.0, None, 0),
        # 23 valid hours of the 25 hour starts; samples (23 × 12 + 6) / (24 × 12)
        ("Trạm Bắc Ninh", "Bụi PM2.5", 23, 92.0, 97.9, 0),
        ("Trạm Từ Sơn", "Bụi PM10", 0, 0.0, None, 0),
        # BN03 and BN05 declare nothing and sent no hourly data; retired BN04 is not listed
    ]


def _set_report_intervals(url: str, intervals: dict[str, int]) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for station_id, seconds in intervals.items():
            conn.execute(
                "UPDATE stations SET report_interval_s = %s WHERE station_id = %s",
                (seconds, station_id),
            )


def test_silence_follows_each_station_report_interval(seeded_db: str, run_sql: Runner) -> None:
    # BN02 reports hourly: 45 min without a reading is not silence (threshold 2 × 60 min).
    # BN05 reports every 20 min: threshold 40 min. BN01 every 10 min: still 30 min (the floor).
    _set_report_intervals(seeded_db, {"BN01": 600, "BN02": 3600, "BN05": 1200})
    assert run_sql(overview.SILENT_COUNT_SQL).rows == [(1,)]  # BN03 only
    rows = run_sql(overview.LATEST_TABLE_SQL).as_dicts()
    assert [r["Mã trạm"] for r in rows] == ["BN03", "BN01", "BN02", "BN05"]
    got = {r["Mã trạm"]: (r["Tín hiệu"], float(r["Ngưỡng im lặng (phút)"])) for r in rows}
    assert got == {"BN01": (0, 30.0), "BN02": (0, 120.0), "BN03": (1, 30.0), "BN05": (0, 40.0)}
    # 35 min later: BN01 (40 min) is silent, BN05 (37 min < 40) and BN02 (80 min) are not
    later = TimeRange(END + dt.timedelta(minutes=35 - 24 * 60), END + dt.timedelta(minutes=35))
    assert run_sql(overview.SILENT_COUNT_SQL, later).rows == [(2,)]
    signal = {
        r["Mã trạm"]: r["Tín hiệu"] for r in run_sql(overview.LATEST_TABLE_SQL, later).as_dicts()
    }
    assert signal == {"BN01": 1, "BN02": 0, "BN03": 1, "BN05": 0}
    bn02 = station_variables(("BN02",), multi=False)
    assert run_sql(station.SILENCE_SQL, LAST_24H, bn02).as_dicts() == [
        {
            "Tín hiệu": 0,
            "Im lặng (phút)": pytest.approx(45.0),
            "Ngưỡng im lặng (phút)": pytest.approx(120.0),
            "Số liệu cuối": END - dt.timedelta(minutes=45),
        }
    ]
