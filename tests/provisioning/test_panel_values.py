"""Panel SQL returns the values expected from known rows (expanded like Grafana, run as aqm_reader)."""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest

from aqi.categories import categories
from dashboards import aqi_style, daily_aqi, data_quality, overview, station
from tests.provisioning.macros import TimeRange
from tests.provisioning.seed import (
    ALL_STATIONS,
    AQI_DAILY,
    AQI_HOURLY,
    BN06_PM25,
    END,
    ICT,
    LAST_24H,
    MARCH,
    PUBLISHABLE,
    STATIONS,
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
    # BN06 is a low-cost sensor: its AQI 350 exists but is never shown, nor its band (-2).
    assert got == {
        "BN01": (160, 3),
        "BN02": (42, 0),
        "BN03": (None, -1),
        "BN05": (25, 0),
        "BN06": (None, -2),
    }
    bn01 = next(r for r in rows if r["Mã trạm"] == "BN01")
    assert (bn01["latitude"], bn01["longitude"]) == (21.186, 106.076)
    assert bn01["Giờ AQI"] == END - dt.timedelta(hours=1)
    assert (bn01["Trạm"], bn01["Nhãn"]) == ("Trạm Bắc Ninh", "160")
    bn06 = next(r for r in rows if r["Mã trạm"] == "BN06")
    assert bn06["Trạm"] == "Trạm cảm biến Đông Ngàn (chỉ thị — không công bố AQI)"
    assert (bn06["Giờ AQI"], bn06["Nhãn"]) == (None, f"{BN06_PM25:.0f} µg/m³")
    assert float(bn06["PM2.5 1 giờ (µg/m³)"]) == BN06_PM25
    # the band index -2 maps to the indicative label in a colour no VN_AQI band has
    mapping = aqi_style.band_index_mappings()[0]["options"]["-2"]
    assert mapping["text"] == "Chỉ thị — không công bố AQI"
    assert mapping["color"] not in {c.hex for c in categories("vn_1459_2019")}


def test_latest_table_puts_silent_stations_first(seeded_db: str, run_sql: Runner) -> None:
    rows = run_sql(overview.LATEST_TABLE_SQL).as_dicts()
    assert [r["Mã trạm"] for r in rows] == ["BN02", "BN03", "BN01", "BN05", "BN06"]
    by_id = {r["Mã trạm"]: r for r in rows}
    assert (by_id["BN01"]["AQI"], by_id["BN01"]["Mức"]) == (160, "Xấu")
    assert by_id["BN01"]["Chất ô nhiễm chính"] == "Bụi PM2.5"
    assert by_id["BN01"]["Số liệu cuối"] == END - dt.timedelta(minutes=5)
    assert float(by_id["BN01"]["Im lặng (phút)"]) == 5.0
    assert float(by_id["BN02"]["Im lặng (phút)"]) == 45.0
    assert (by_id["BN02"]["AQI"], by_id["BN02"]["Mức"]) == (42, "Tốt")
    assert by_id["BN03"]["Im lặng (phút)"] is None
    assert by_id["BN03"]["Mức"] == "Không có dữ liệu"
    # the indicative station: labelled, its PM2.5, no AQI, band or pollutant
    bn06 = by_id["BN06"]
    assert bn06["Trạm"].endswith("(chỉ thị — không công bố AQI)")
    assert (bn06["AQI"], bn06["Mức"], bn06["Chất ô nhiễm chính"]) == (
        None,
        "Chỉ thị — không công bố AQI",
        None,
    )
    assert float(bn06["PM2.5 1 giờ (µg/m³)"]) == BN06_PM25
    assert bn06["Tín hiệu"] == 0


def test_hourly_aqi_per_station_leaves_out_indicative_stations(
    seeded_db: str, run_sql: Runner
) -> None:
    rows = run_sql(overview.HOURLY_AQI_SQL).rows
    names = {s[0]: s[1] for s in STATIONS}
    expected = sorted(
        (hour, names[station], aqi)
        for station, standard, hour, aqi, *_ in AQI_HOURLY
        if standard == "vn_1459_2019" and station in PUBLISHABLE and station != "BN04"
    )
    assert sorted(rows) == expected
    assert all(value != 350 for *_, value in rows)


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


VN_BANDS = [
    (50, "Tốt"),
    (100, "Trung bình"),
    (150, "Kém"),
    (200, "Xấu"),
    (300, "Rất xấu"),
    (500, "Nguy hại"),
]
"""Decision 1459 Table 1: the top AQI of each band and its name."""
NO_DATA = "Không có dữ liệu"
INDICATIVE = "Ngày chỉ thị (không công bố AQI)"


def _vn_band(aqi: int | None) -> str:
    if aqi is None:
        return NO_DATA
    return next(name for top, name in VN_BANDS if aqi <= top)


def _expected_station_days(
    stations: tuple[str, ...],
    first: dt.date,
    last: dt.date,
    installed: dict[str, dt.date] | None = None,
) -> dict[str, dict[str, int]]:
    """Days per band per station, counted from the seed rows: every day from ``first`` to
    ``last`` (the ended local days of the range) is a day, with or without a row."""
    rows = {(s, d): aqi for s, std, d, aqi in AQI_DAILY if std == "vn_1459_2019"}
    counts: dict[str, dict[str, int]] = {}
    for station_id in stations:
        per_band = dict.fromkeys([name for _, name in VN_BANDS] + [NO_DATA, INDICATIVE], 0)
        day = max(first, (installed or {}).get(station_id, first))
        while day <= last:
            if station_id in PUBLISHABLE:
                per_band[_vn_band(rows.get((station_id, day)))] += 1
            else:
                per_band[INDICATIVE] += 1
            day += dt.timedelta(days=1)
        counts[station_id] = per_band
    return counts


# MARCH ends on 10 March 12:00 ICT: the ended local days are 1–9 March.
MARCH_DAYS = (dt.date(2025, 3, 1), dt.date(2025, 3, 9))


def test_days_per_band_counts_every_local_day_with_or_without_a_row(
    seeded_db: str, run_sql: Runner
) -> None:
    got = dict(run_sql(daily_aqi.DAYS_PER_BAND_SQL, MARCH).rows)
    expected = _expected_station_days(ALL_STATIONS, *MARCH_DAYS)
    totals = {band: sum(c[band] for c in expected.values()) for band in got}
    assert got == totals
    # 4 publishable active stations × 9 days; 5 days have an AQI (28 Feb is outside, retired
    # BN04 not counted); the low-cost BN06's 450 (Nguy hại) and 260 (Rất xấu) count nowhere
    assert sum(got.values()) == 36 and got[NO_DATA] == 31
    assert (got["Trung bình"], got["Xấu"], got["Rất xấu"], got["Nguy hại"]) == (1, 1, 3, 0)
    one = dict(run_sql(daily_aqi.DAYS_PER_BAND_SQL, MARCH, station_variables(("BN01",))).rows)
    bn01 = _expected_station_days(("BN01",), *MARCH_DAYS)["BN01"]
    assert one == {band: n for band, n in bn01.items() if band != INDICATIVE}
    alone = dict(run_sql(daily_aqi.DAYS_PER_BAND_SQL, MARCH, station_variables(("BN06",))).rows)
    assert sum(alone.values()) == 0


def test_days_without_data_follow_the_catalogue_dates(seeded_db: str, run_sql: Runner) -> None:
    with psycopg.connect(seeded_db, autocommit=True) as conn:
        conn.execute("UPDATE stations SET installed_on = '2025-03-06' WHERE station_id = 'BN05'")
        # retired stations are selectable: BN04's days up to its retirement count
        conn.execute("UPDATE stations SET retired_on = '2025-03-03' WHERE station_id = 'BN04'")
    got = dict(run_sql(daily_aqi.DAYS_PER_BAND_SQL, MARCH, station_variables(("BN05",))).rows)
    expected = _expected_station_days(("BN05",), *MARCH_DAYS, {"BN05": dt.date(2025, 3, 6)})
    assert got == {band: n for band, n in expected["BN05"].items() if band != INDICATIVE}
    assert sum(got.values()) == 4  # 6–9 March
    retired = dict(run_sql(daily_aqi.DAYS_PER_BAND_SQL, MARCH, station_variables(("BN04",))).rows)
    assert retired[NO_DATA] == 3 and sum(retired.values()) == 3  # 1–3 March


def test_days_per_station_table_is_pivoted(seeded_db: str, run_sql: Runner) -> None:
    result = run_sql(daily_aqi.DAYS_PER_STATION_SQL, MARCH)
    band_names = [name for _, name in VN_BANDS]
    assert result.columns == ["Mã trạm", "Trạm", *band_names, NO_DATA, INDICATIVE, "Số ngày"]
    expected = _expected_station_days(ALL_STATIONS, *MARCH_DAYS)
    names = {s[0]: s[1] for s in STATIONS}
    names["BN06"] = "Trạm cảm biến Đông Ngàn (chỉ thị — không công bố AQI)"
    assert result.rows == [
        (
            station,
            names[station],
            *(expected[station][b] for b in [*band_names, NO_DATA, INDICATIVE]),
            sum(expected[station].values()),
        )
        for station in ALL_STATIONS
    ]


def test_calendar_has_a_cell_for_every_day_in_local_time(seeded_db: str, run_sql: Runner) -> None:
    selected = ("BN01", "BN05", "BN06")
    rows = run_sql(daily_aqi.CALENDAR_SQL, MARCH, station_variables(selected)).rows
    aqi = {(s, d): a for s, std, d, a in AQI_DAILY if std == "vn_1459_2019"}
    names = {"BN01": "Trạm Bắc Ninh", "BN05": "Trạm Yên Phong", "BN06": "Trạm cảm biến Đông Ngàn"}
    expected = []
    for day in range(1, 10):
        date = dt.date(2025, 3, day)
        midnight = dt.datetime(2025, 3, day, tzinfo=ICT)
        for station_id in selected:
            value = aqi.get((station_id, date))
            if station_id not in PUBLISHABLE:
                value = -2  # indicative: never a band, whatever its AQI rows say
            expected.append((midnight, names[station_id], -1 if value is None else value))
    assert sorted(rows, key=lambda r: (r[0], r[1])) == sorted(expected, key=lambda r: (r[0], r[1]))
    assert rows[0][0] == dt.datetime(2025, 2, 28, 17, tzinfo=UTC)  # local midnight


def test_a_class_change_decides_per_day(seeded_db: str, run_sql: Runner) -> None:
    # BN05 becomes a low-cost sensor from 8 March: its 250 (8 March) and 90 (9 March) leave
    # the province counts, its 6 March row (no AQI) still counts as a day without data.
    with psycopg.connect(seeded_db, autocommit=True) as conn:
        conn.execute(
            'UPDATE stations SET classes = \'[{"from": "2025-01-01", "station_type":'
            ' "fixed_automatic", "public_aqi": true}, {"from": "2025-03-08",'
            ' "station_type": "low_cost_sensor", "public_aqi": false}]\''
            " WHERE station_id = 'BN05'"
        )
    bn05 = station_variables(("BN05",))
    got = dict(run_sql(daily_aqi.DAYS_PER_BAND_SQL, MARCH, bn05).rows)
    assert (got["Rất xấu"], got["Trung bình"], got[NO_DATA], sum(got.values())) == (0, 0, 7, 7)
    row = run_sql(daily_aqi.DAYS_PER_STATION_SQL, MARCH, bn05).as_dicts()[0]
    assert (row[INDICATIVE], row["Số ngày"]) == (2, 9)
    assert row["Trạm"].endswith("(chỉ thị — không công bố AQI)")
    cells = {t: v for t, _, v in run_sql(daily_aqi.CALENDAR_SQL, MARCH, bn05).rows}
    assert cells[dt.datetime(2025, 3, 8, tzinfo=ICT)] == -2
    assert cells[dt.datetime(2025, 3, 7, tzinfo=ICT)] == -1
    # the map and table judge the class of the day the range ends (10 March)
    assert {r["Mã trạm"]: r["Mức AQI"] for r in run_sql(overview.MAP_SQL).as_dicts()}["BN05"] == -2


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


def test_status_counts_come_from_the_hourly_aggregate(clean_db: str, run_sql: Runner) -> None:
    base = dt.datetime(2025, 3, 10, 2, 0, tzinfo=UTC)
    with psycopg.connect(clean_db, autocommit=True) as conn:
        insert_stations(conn)
        insert_hourly(conn, "BN01", "pm25", base, 10.0, n_valid=10, n_flagged=1)
        insert_hourly(conn, "BN01", "pm25", base + H, 10.0, n_valid=12)
        insert_hourly(conn, "BN01", "no2", base, 10.0, valid=False, n_valid=6)
        insert_hourly(conn, "BN02", "pm25", base, 10.0, n_valid=1)  # another station
    window = TimeRange(base, base + 2 * H)
    ok, flagged, missing = "00 đo bình thường", "01/02 hiệu chuẩn hoặc lỗi", "Không nhận được"
    five = run_sql(station.STATUS_SQL, window, BN01, dt.timedelta(minutes=5)).rows
    # 12 samples expected per parameter and hour: 10 + 1 + 1 missing (pm25), 6 + 6 missing (no2)
    assert sorted(five) == sorted(
        [
            (base, flagged, 1),
            (base, missing, 1 + 6),
            (base, ok, 10 + 6),
            (base + H, flagged, 0),
            (base + H, missing, 0),
            (base + H, ok, 12),
        ]
    )
    two_hours = run_sql(station.STATUS_SQL, window, BN01, dt.timedelta(hours=2)).rows
    assert sorted(two_hours) == sorted([(base, flagged, 1), (base, missing, 7), (base, ok, 28)])


def test_completeness_per_station_and_parameter(seeded_db: str, run_sql: Runner) -> None:
    rows = run_sql(data_quality.COMPLETENESS_SQL, LAST_24H, station_variables(("BN01",))).as_dicts()
    # BN01 declares PM2.5, O3 and NO2 (an AQI-publishing station); only PM2.5 has data
    assert len(rows) == 3 and sum(r["Giờ hợp lệ"] for r in rows) == 23
    row = next(r for r in rows if r["Thông số"] == "Bụi PM2.5")
    assert (row["Mã trạm"], row["Trạm"], row["Thông số"]) == ("BN01", "Trạm Bắc Ninh", "Bụi PM2.5")
    # The hours that began in the range and have ended: END-24h … END-1h. 23 are valid.
    assert (row["Giờ kỳ vọng"], row["Giờ hợp lệ"]) == (24, 23)
    assert float(row["Giờ hợp lệ (%)"]) == round(100 * 23 / 24, 1)
    # report every 300 s: 12 samples per hour expected
    assert float(row["Mẫu hợp lệ (%)"]) == round(100 * (23 * 12 + 6) / (24 * 12), 1)


def test_completeness_uses_installation_dates_and_report_interval(
    clean_db: str, run_sql: Runner
) -> None:
    """A station installed mid-range is judged on the hours since its installation."""
    with psycopg.connect(clean_db, autocommit=True) as conn:
        insert_stations(conn)
        conn.execute(
            "UPDATE stations SET installed_on = '2025-03-05', report_interval_s = 600,"
            " parameters = '{pm25}' WHERE station_id = 'BN01'"
        )
        conn.execute(
            "UPDATE stations SET retired_on = '2025-03-02', parameters = '{pm25}'"
            " WHERE station_id = 'BN02'"
        )
        installed = dt.datetime(2025, 3, 5, tzinfo=ICT)
        # data before installation (a test run at the factory) is not counted
        insert_hourly(conn, "BN01", "pm25", installed - 2 * H, 10.0, n_valid=6, n_expected=6)
        hours = 0
        hour = installed
        while hour < dt.datetime(2025, 3, 8, tzinfo=ICT):
            if hour.hour != 3:  # one hour a day is lost
                insert_hourly(conn, "BN01", "pm25", hour, 10.0, n_valid=5, n_expected=6)
            hours += 1
            hour += H
        for hour in _hours(dt.datetime(2025, 3, 1, 6, tzinfo=ICT), 5):  # BN02, before retiring
            insert_hourly(conn, "BN02", "pm25", hour, 10.0, n_valid=12)
    window = TimeRange(dt.datetime(2025, 3, 1, tzinfo=ICT), dt.datetime(2025, 3, 8, tzinfo=ICT))
    rows = run_sql(
        data_quality.COMPLETENESS_SQL, window, station_variables(("BN01", "BN02"))
    ).as_dicts()
    by_station = {r["Mã trạm"]: r for r in rows}
    bn01 = by_station["BN01"]
    assert hours == 72 and bn01["Giờ kỳ vọng"] == 72  # 5–7 March, not 7 days × 24 hours
    assert bn01["Giờ hợp lệ"] == 72 - 3
    assert float(bn01["Giờ hợp lệ (%)"]) == round(100 * 69 / 72, 1)
    # 600 s report interval: 6 samples expected per hour, 5 arrived in 69 of the 72 hours
    assert float(bn01["Mẫu hợp lệ (%)"]) == round(100 * (69 * 5) / (72 * 6), 1)
    # BN02 retired on 2 March: expected from 1 March 00:00 to 3 March 00:00 (local)
    bn02 = by_station["BN02"]
    assert (bn02["Giờ kỳ vọng"], bn02["Giờ hợp lệ"]) == (48, 5)
    assert float(bn02["Mẫu hợp lệ (%)"]) == round(100 * (5 * 12) / (48 * 12), 1)


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


def test_arrival_lag_reads_the_last_hour_of_the_range(clean_db: str, run_sql: Runner) -> None:
    with psycopg.connect(clean_db, autocommit=True) as conn:
        insert_stations(conn)
        for minutes, lag_s in ((5, 20), (25, 40), (55, 60), (65, 900), (300, 900)):
            insert_reading(
                conn,
                "BN01",
                "pm25",
                END - dt.timedelta(minutes=minutes),
                10.0,
                lag=dt.timedelta(seconds=lag_s),
            )
        insert_reading(
            conn, "BN02", "pm25", END - dt.timedelta(minutes=30), 10.0, lag=dt.timedelta(minutes=7)
        )
    rows = run_sql(data_quality.LAG_BY_STATION_SQL).as_dicts()
    # only the readings of the last hour: the two older ones (900 s) are not read
    got = {
        r["Mã trạm"]: (
            r["Số đo"],
            float(r["Trung vị (s)"]),
            float(r["Lớn nhất (s)"]),
            r["Đến trễ > 5 phút"],
        )
        for r in rows
    }
    assert got == {"BN01": (3, 40.0, 60.0, 0), "BN02": (1, 420.0, 420.0, 1)}
    series = run_sql(data_quality.LAG_OVER_TIME_SQL).rows
    assert {(t, name) for t, name, _ in series} == {
        (END - dt.timedelta(minutes=5), "Trạm Bắc Ninh"),
        (END - dt.timedelta(minutes=25), "Trạm Bắc Ninh"),
        (END - dt.timedelta(minutes=55), "Trạm Bắc Ninh"),
        (END - dt.timedelta(minutes=30), "Trạm Từ Sơn"),
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
        conn.execute(
            "UPDATE stations SET parameters = '{}' WHERE station_id IN ('BN03', 'BN05', 'BN06')"
        )
    rows = run_sql(data_quality.COMPLETENESS_SQL, LAST_24H, station_variables()).as_dicts()
    got = [
        (
            r["Trạm"],
            r["Thông số"],
            r["Giờ kỳ vọng"],
            r["Giờ hợp lệ"],
            float(r["Giờ hợp lệ (%)"]),
            float(r["Mẫu hợp lệ (%)"]),
            r["Mẫu gắn cờ 01/02"],
        )
        for r in rows
    ]
    assert got == [
        # declared, nothing received: a row at 0 % instead of no row (ordered by parameter id)
        ("Trạm Bắc Ninh", "NO2", 24, 0, 0.0, 0.0, 0),
        # 23 valid hours of the 24 ended hours; samples (23 × 12 + 6) / (24 × 12)
        ("Trạm Bắc Ninh", "Bụi PM2.5", 24, 23, 95.8, 97.9, 0),
        ("Trạm Từ Sơn", "Bụi PM10", 24, 0, 0.0, 0.0, 0),
        # BN03 and BN05 declare nothing and sent no hourly data; BN04 retired in January
        # BN06 declares nothing here; its one valid hour of PM2.5 gives a row
        ("Trạm cảm biến Đông Ngàn", "Bụi PM2.5", 24, 1, round(100 / 24, 1), 4.2, 0),
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
    # BN06 reports hourly too.
    _set_report_intervals(seeded_db, {"BN01": 600, "BN02": 3600, "BN05": 1200, "BN06": 3600})
    assert run_sql(overview.SILENT_COUNT_SQL).rows == [(1,)]  # BN03 only
    rows = run_sql(overview.LATEST_TABLE_SQL).as_dicts()
    assert [r["Mã trạm"] for r in rows] == ["BN03", "BN01", "BN02", "BN05", "BN06"]
    got = {r["Mã trạm"]: (r["Tín hiệu"], float(r["Ngưỡng im lặng (phút)"])) for r in rows}
    assert got == {
        "BN01": (0, 30.0),
        "BN02": (0, 120.0),
        "BN03": (1, 30.0),
        "BN05": (0, 40.0),
        "BN06": (0, 120.0),
    }
    # 35 min later: BN01 (40 min) is silent, BN05 (37 min < 40) and BN02 (80 min) are not
    later = TimeRange(END + dt.timedelta(minutes=35 - 24 * 60), END + dt.timedelta(minutes=35))
    assert run_sql(overview.SILENT_COUNT_SQL, later).rows == [(2,)]
    signal = {
        r["Mã trạm"]: r["Tín hiệu"] for r in run_sql(overview.LATEST_TABLE_SQL, later).as_dicts()
    }
    assert signal == {"BN01": 1, "BN02": 0, "BN03": 1, "BN05": 0, "BN06": 0}
    bn02 = station_variables(("BN02",), multi=False)
    assert run_sql(station.SILENCE_SQL, LAST_24H, bn02).as_dicts() == [
        {
            "Tín hiệu": 0,
            "Im lặng (phút)": pytest.approx(45.0),
            "Ngưỡng im lặng (phút)": pytest.approx(120.0),
            "Số liệu cuối": END - dt.timedelta(minutes=45),
        }
    ]
