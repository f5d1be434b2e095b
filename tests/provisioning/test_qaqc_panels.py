"""The Trạm dashboard's QA/QC panels: data levels, automatic flags and manual periods."""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest

from dashboards import station
from tests.provisioning.seed import (
    END,
    LAST_24H,
    H,
    Runner,
    insert_reading,
    insert_stations,
    station_variables,
)

pytestmark = pytest.mark.services

BN01 = station_variables(("BN01",), multi=False)
VERIFIED_UNTIL = END - 6 * H
INVALID = (END - 4 * H, END - 2 * H)  # pm25, calibration
RESTORED = (END - 3 * H, END - 2 * H + dt.timedelta(minutes=30))  # later, overlapping
FLAGGED = [  # (ts, flags): flat line (32) twice in one hour, a spike (64) in another
    (END - 10 * H + dt.timedelta(minutes=5), 32),
    (END - 10 * H + dt.timedelta(minutes=10), 32),
    (END - 8 * H + dt.timedelta(minutes=15), 64),
]


@pytest.fixture
def qc_db(clean_db: str) -> str:
    with psycopg.connect(clean_db, autocommit=True) as conn:
        insert_stations(conn)
        for back in range(1, 13):
            hour = END - back * H
            conn.execute(
                "INSERT INTO aqi_hourly (station_id, standard, hour, aqi, dominant,"
                " method_version, data_level) VALUES ('BN01', 'vn_1459_2019', %s, 80, 'pm25',"
                " 'test', %s)",
                (hour, "verified" if hour < VERIFIED_UNTIL else "provisional"),
            )
        for ts, flags in FLAGGED:
            insert_reading(conn, "BN01", "pm25", ts, 42.0)
            conn.execute(
                "INSERT INTO qc_flags (station_id, parameter, ts, flags, rules_version)"
                " VALUES ('BN01', 'pm25', %s, %s, 'test')",
                (ts, flags),
            )
        actions = [
            ("verify", None, END - 30 * H, VERIFIED_UNTIL, None),
            ("invalidate", "pm25", *INVALID, "calibration"),
            ("restore", "pm25", *RESTORED, None),
            ("invalidate", None, END - 48 * H, END - 40 * H, "other"),  # before the range
        ]
        for action, parameter, start, end, reason in actions:
            conn.execute(
                "INSERT INTO qc_actions (action, station_id, parameter, period_start,"
                " period_end, reason, performed_by, db_user, performed_at, state_before)"
                " VALUES (%s, 'BN01', %s, %s, %s, %s, 'Nguyễn Văn A', '', now(), '[]')",
                (action, parameter, start, end, reason),
            )
        # another station's marks never show on BN01's dashboard
        conn.execute(
            "INSERT INTO qc_actions (action, station_id, period_start, period_end, reason,"
            " performed_by, db_user, performed_at, state_before) VALUES ('invalidate', 'BN02',"
            " %s, %s, 'other', 'x', '', now(), '[]')",
            (END - 5 * H, END - H),
        )
    return clean_db


def test_data_level_marks_provisional_and_verified_hours(qc_db: str, run_sql: Runner) -> None:
    rows = run_sql(station.QC_LEVEL_SQL, LAST_24H, BN01).rows
    expected = [
        (END - back * H, "Mức dữ liệu AQI giờ", 1 if END - back * H < VERIFIED_UNTIL else 0)
        for back in range(12, 0, -1)
    ]
    assert rows == expected
    labels = station.QC_MAPPINGS[0]["options"]
    assert (labels["0"]["text"], labels["1"]["text"]) == ("tạm thời", "đã thẩm định")


def test_automatic_flags_mark_their_hours(qc_db: str, run_sql: Runner) -> None:
    rows = run_sql(station.QC_AUTOMATIC_SQL, LAST_24H, BN01).rows
    assert rows == [(END - 10 * H, "Cờ tự động", 2), (END - 8 * H, "Cờ tự động", 2)]


def test_manual_actions_mark_hours_latest_first(qc_db: str, run_sql: Runner) -> None:
    rows = run_sql(station.QC_MANUAL_SQL, LAST_24H, BN01).rows
    # invalidated END-4h…END-2h; the later restore covers END-3h…END-1h30
    assert rows == [
        (END - 4 * H, "Thao tác thủ công", 3),
        (END - 3 * H, "Thao tác thủ công", 4),
        (END - 2 * H, "Thao tác thủ công", 4),
    ]


def test_periods_table_lists_every_mark(qc_db: str, run_sql: Runner) -> None:
    rows = run_sql(station.QC_PERIODS_SQL, LAST_24H, BN01).as_dicts()
    got = [
        (r["Loại"], r["Thông số"], r["Từ"], r["Đến"], r["Lý do"], r["Số mẫu gắn cờ"]) for r in rows
    ]
    assert got == [
        ("đã thẩm định", "tất cả", END - 30 * H, VERIFIED_UNTIL, None, None),
        ("cờ tự động", "pm25", END - 10 * H, END - 9 * H, "flat_line", 2),
        ("cờ tự động", "pm25", END - 8 * H, END - 7 * H, "spike", 1),
        ("vô hiệu (thủ công)", "pm25", *INVALID, "calibration", None),
        ("khôi phục (thủ công)", "pm25", *RESTORED, "", None),
    ]
    assert {r["Người thực hiện"] for r in rows if r["Loại"] != "cờ tự động"} == {"Nguyễn Văn A"}
