"""The AQI worker against a real TimescaleDB, connected as ``aqm_worker``.

Expected indices are computed by hand in each test from the breakpoint tables of
Decision 1459 (Table 2) and the EPA TAD 2024 (Table 6), never by the code under test.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
import pytest

from aqm_core.settings import Settings
from worker.recompute import BatchReport
from worker.service import drain_once

UTC = dt.UTC
LOCAL = dt.timezone(dt.timedelta(hours=7))
DAY = dt.date(2025, 3, 10)
DAY_START = dt.datetime(2025, 3, 10, tzinfo=LOCAL).astimezone(UTC)  # 2025-03-09 17:00 UTC

pytestmark = pytest.mark.services


def _rows(db: str, query: str, *params: object) -> list[tuple[Any, ...]]:
    with psycopg.connect(db) as conn:
        return conn.execute(query, params).fetchall()


def _queue_length(db: str) -> int:
    return int(_rows(db, "SELECT count(*) FROM aqi_dirty_hours")[0][0])


def _run_worker_until(
    settings: Settings, now: dt.datetime, done: Callable[[], bool], what: str
) -> None:
    """Run ``aqm worker`` (its clock at ``now``) in a thread until ``done()`` or 20 s."""
    from worker.service import run_worker

    stop = threading.Event()
    thread = threading.Thread(target=run_worker, args=(settings, stop), kwargs={"clock": lambda: now})
    thread.start()
    try:
        deadline = dt.datetime.now() + dt.timedelta(seconds=20)
        while not done():
            assert dt.datetime.now() < deadline, what
            stop.wait(0.05)
    finally:
        stop.set()
        thread.join(20)


def _vn_pm25(c: float) -> float:
    """1459 Table 2, PM2.5 column: BP 0, 25, 50, 80, 150, 250, 350, 500."""
    bps = [(0, 25, 0, 50), (25, 50, 50, 100), (50, 80, 100, 150), (80, 150, 150, 200)]
    for lo, hi, ilo, ihi in bps:
        if lo <= c <= hi:
            return (ihi - ilo) / (hi - lo) * (c - lo) + ilo
    raise ValueError(c)


def test_constant_concentrations_give_the_hand_computed_indices(
    db: str, settings: Settings, add_station: Callable[..., None],
    add_readings: Callable[..., int], series: Callable[..., list[Any]],
) -> None:  # fmt: skip
    add_station("BN01")
    first = DAY_START - dt.timedelta(hours=12)
    readings = []
    for parameter, value in (("pm25", 40.0), ("pm10", 80.0), ("no2", 50.0)):
        readings += series("BN01", parameter, first, [value] * 36)
    add_readings(readings)
    report = drain_once(settings=settings)
    assert report.dirty_rows == 36 and _queue_length(db) == 0

    hourly = _rows(db, "SELECT standard, aqi, category, dominant, sub_pm25, sub_pm10, sub_no2,"
                       " nowcast_pm25, nowcast_pm10, missing_reason, method_version"
                       " FROM aqi_hourly WHERE hour = %s ORDER BY standard",
                   DAY_START + dt.timedelta(hours=5))  # fmt: skip
    us, vn = hourly
    # VN: PM2.5 40 → 50 + (40−25)/(50−25)·50 = 80; PM10 80 → 50 + 30/100·50 = 65;
    # NO2 50 → 50/100·50 = 25. AQI 80, "Trung bình" (level 2), dominant PM2.5.
    assert vn[:4] == ("vn_1459_2019", 80, 2, "pm25")
    assert vn[4:7] == pytest.approx((80.0, 65.0, 25.0))
    assert vn[7:9] == pytest.approx((40.0, 80.0))  # NowCast of a constant series
    assert vn[9] is None and vn[10] == "vn_1459_2019/aqm-1"
    # US 2024: PM2.5 40.0 → 101 + (40.0−35.5)·(150−101)/(55.4−35.5) = 112.08 → 112,
    # level 3; NO2 50 µg/m³ = 26.57 ppb → truncated 26 → 26·50/53 = 24.53.
    assert us[:4] == ("us_epa_2024", 112, 3, "pm25")
    assert us[4] == pytest.approx(101 + 4.5 * 49 / 19.9)
    assert us[6] == pytest.approx(26 * 50 / 53)
    assert us[10] == "us_epa_2024/aqm-1"

    daily = _rows(db, "SELECT standard, aqi, category, dominant, pm25_mean, pm10_mean,"
                      " no2_max1h, n_hours_pm25, n_hours_no2, n_hours_o3, missing_reason"
                      " FROM aqi_daily WHERE day = %s ORDER BY standard", DAY)  # fmt: skip
    assert daily[1][:4] == ("vn_1459_2019", 80, 2, "pm25")
    assert daily[1][4:7] == pytest.approx((40.0, 80.0, 50.0))
    assert daily[1][7:] == (24, 24, 0, None)
    assert daily[0][:4] == ("us_epa_2024", 112, 3, "pm25")


def test_local_midnight_separates_days(
    db: str, settings: Settings, add_station: Callable[..., None],
    add_readings: Callable[..., int], series: Callable[..., list[Any]],
) -> None:  # fmt: skip
    add_station("BN01")
    # 24 hours of 20 µg/m³ on the 10th (local), 24 hours of 60 on the 11th; readings at
    # 23:30 and 00:30 local sit on either side of the boundary.
    add_readings(series("BN01", "pm25", DAY_START, [20.0] * 24 + [60.0] * 24))
    drain_once(settings=settings)
    days = _rows(db, "SELECT day, pm25_mean, n_hours_pm25, aqi FROM aqi_daily"
                     " WHERE standard = 'vn_1459_2019' AND day IN (%s, %s) ORDER BY day",
                 DAY, DAY + dt.timedelta(days=1))  # fmt: skip
    # VN: 20 → 20/25·50 = 40; 60 → 100 + (60−50)/30·50 = 116.67 → 117. A UTC-aligned
    # day (07:00…07:00 local) would mix 17 hours of 20 with 7 of 60 instead.
    assert days == [(DAY, 20.0, 24, 40), (DAY + dt.timedelta(days=1), 60.0, 24, 117)]


def test_flagged_readings_never_count_and_completeness_decides_validity(
    db: str, settings: Settings, add_station: Callable[..., None],
    add_readings: Callable[..., int],
) -> None:  # fmt: skip
    add_station("BN05", report_interval_s=300)  # 12 expected samples an hour
    h0, h1 = DAY_START, DAY_START + dt.timedelta(hours=1)
    readings = []
    # Hour 0: 9 valid samples of 30 (75 %: valid) and 3 samples of 900 flagged 01/02.
    for i in range(12):
        flagged = i in (2, 5, 8)
        status = ("01" if i == 2 else "02") if flagged else "00"
        readings.append(("BN05", "pm25", h0 + dt.timedelta(minutes=5 * i),
                         900.0 if flagged else 30.0, status))  # fmt: skip
    # Hour 1: 8 valid samples (66.7 %: invalid).
    readings += [("BN05", "pm25", h1 + dt.timedelta(minutes=5 * i), 30.0, "00") for i in range(8)]
    add_readings(readings)
    drain_once(settings=settings)
    rows = _rows(db, "SELECT hour, mean, n_valid, n_flagged, n_expected, completeness, valid,"
                     " min_completeness FROM hourly ORDER BY hour")  # fmt: skip
    assert rows == [
        (h0, 30.0, 9, 3, 12, 0.75, True, 0.75),
        (h1, 30.0, 8, 0, 12, pytest.approx(8 / 12), False, 0.75),
    ]
    # The invalid hour counts as missing: hour 1 has c1 missing, c2 = 30, c3 none →
    # 1 of the 3 most recent hours, no NowCast.
    aqi = _rows(db, "SELECT hour, aqi, nowcast_pm25, missing_reason FROM aqi_hourly"
                    " WHERE standard = 'vn_1459_2019' AND hour IN (%s, %s) ORDER BY hour",
                h0, h1)  # fmt: skip
    assert aqi == [(h0, None, None, "insufficient_data"), (h1, None, None, "insufficient_data")]


def test_nowcast_across_a_gap(
    db: str, settings: Settings, add_station: Callable[..., None],
    add_readings: Callable[..., int], series: Callable[..., list[Any]],
) -> None:  # fmt: skip
    add_station("BN01")
    # 20 at t−2, nothing at t−1, 40 at t, then nothing.
    t = DAY_START + dt.timedelta(hours=10)
    add_readings(series("BN01", "pm25", t - dt.timedelta(hours=2), [20.0, None, 40.0]))
    drain_once(settings=settings)
    got = {
        hour: (aqi, nc, reason)
        for hour, aqi, nc, reason in _rows(
            db,
            "SELECT hour, aqi, nowcast_pm25, missing_reason FROM aqi_hourly"
            " WHERE standard = 'vn_1459_2019'",
        )
    }
    # Hour t: c1 = 40, c3 = 20 (2 of 3): w* = 20/40 = ½ → w = ½,
    # NowCast = (40 + ¼·20) / (1 + ¼) = 36 → VN 50 + 11/25·50 = 72.
    assert got[t][1] == pytest.approx(36.0)
    assert got[t][0] == round(_vn_pm25(36.0)) == 72
    # t+1: c2 = 40 only (c1, c3 missing) → no NowCast; t+2: c3 = 40 only → none.
    assert got[t + dt.timedelta(hours=1)] == (None, None, "insufficient_data")
    # t−1: c2 = 20 only → none. Hours t…t+11 and t−2…t−1 are written, no others.
    assert got[t - dt.timedelta(hours=1)] == (None, None, "insufficient_data")
    assert min(got) == t - dt.timedelta(hours=2)
    assert max(got) == t + dt.timedelta(hours=11)


def _nowcast(values_newest_first: Sequence[float | None]) -> float:
    """NowCast written out independently (1459 §2.2.1, normalised form)."""
    present = [v for v in values_newest_first if v is not None]
    w = max(min(present) / max(present), 0.5)
    num = sum(w**i * v for i, v in enumerate(values_newest_first) if v is not None)
    den = sum(w**i for i, v in enumerate(values_newest_first) if v is not None)
    return num / den


def test_late_backlog_recomputes_touched_hours_following_nowcasts_and_days(
    db: str, settings: Settings, add_station: Callable[..., None],
    add_readings: Callable[..., int], series: Callable[..., list[Any]],
    snapshot: Callable[[], dict[str, Any]],
) -> None:  # fmt: skip
    add_station("BN01")
    day3 = DAY_START + dt.timedelta(days=2)
    backlog_start = DAY_START
    # The datalogger sends day 3 first (40 µg/m³), then a two-day backlog (100).
    add_readings(series("BN01", "pm25", day3, [40.0] * 24))
    drain_once(settings=settings)
    before = dict(_rows(db, "SELECT hour, nowcast_pm25 FROM aqi_hourly"
                            " WHERE standard = 'vn_1459_2019'"))  # fmt: skip
    assert before[day3] is None  # first hour: 1 of 3
    assert before[day3 + dt.timedelta(hours=1)] == pytest.approx(40.0)
    assert _rows(db, "SELECT count(*) FROM aqi_daily WHERE day = %s", DAY) == [(0,)]

    # Backlog in two ingest batches, out of order.
    add_readings(series("BN01", "pm25", backlog_start + dt.timedelta(days=1), [100.0] * 24))
    add_readings(series("BN01", "pm25", backlog_start, [100.0] * 24))
    report = drain_once(settings=settings)
    assert report.changed_hours == 48

    after = dict(_rows(db, "SELECT hour, nowcast_pm25 FROM aqi_hourly"
                           " WHERE standard = 'vn_1459_2019'"))  # fmt: skip
    for k in range(12):  # the first 12 hours of day 3 now see the backlog
        hour = day3 + dt.timedelta(hours=k)
        window = [40.0] * (k + 1) + [100.0] * (11 - k)
        assert after[hour] == pytest.approx(_nowcast(window)), k
    assert after[day3 + dt.timedelta(hours=12)] == pytest.approx(40.0)
    days = _rows(db, "SELECT day, pm25_mean, aqi FROM aqi_daily WHERE standard = 'vn_1459_2019'"
                     " AND day BETWEEN %s AND %s ORDER BY day",
                 DAY, DAY + dt.timedelta(days=2))  # fmt: skip
    # 100 → VN 150 + (100−80)/70·50 = 164.29 → 164; 40 → 80.
    assert days == [(DAY, 100.0, 164), (DAY + dt.timedelta(days=1), 100.0, 164),
                    (DAY + dt.timedelta(days=2), 40.0, 80)]  # fmt: skip

    # The final tables equal one computation over all the data at once.
    late = snapshot()
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("TRUNCATE hourly, aqi_hourly, aqi_daily")
        conn.execute("INSERT INTO aqi_dirty_hours (station_id, hour) SELECT DISTINCT station_id,"
                     " time_bucket('1 hour', ts) FROM readings")  # fmt: skip
    drain_once(settings=settings)
    assert snapshot() == late


def test_duplicates_and_recomputation_change_nothing(
    db: str, settings: Settings, add_station: Callable[..., None],
    add_readings: Callable[..., int], series: Callable[..., list[Any]],
    snapshot: Callable[[], dict[str, Any]],
) -> None:  # fmt: skip
    add_station("BN01")
    readings = series("BN01", "pm25", DAY_START, [35.0, 50.0, 20.0] * 10)
    readings += series("BN01", "no2", DAY_START, [80.0] * 30)
    add_readings(readings)
    assert add_readings(readings) == 0  # a redelivered batch stores and queues nothing
    with psycopg.connect(db, autocommit=True) as conn:  # the same hours queued again
        conn.execute("INSERT INTO aqi_dirty_hours (station_id, hour) SELECT station_id, hour"
                     " FROM aqi_dirty_hours")  # fmt: skip
    assert _queue_length(db) == 60
    first = drain_once(settings=settings)
    assert first.dirty_rows == 60 and first.changed_hours == 30
    state = snapshot()
    stamps = _rows(db, "SELECT max(computed_at) FROM aqi_hourly")

    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("INSERT INTO aqi_dirty_hours (station_id, hour) SELECT DISTINCT station_id,"
                     " time_bucket('1 hour', ts) FROM readings")  # fmt: skip
    second = drain_once(settings=settings)
    assert second.changed_hours == 30 and second.rows_written == 0
    assert snapshot() == state
    assert _rows(db, "SELECT max(computed_at) FROM aqi_hourly") == stamps  # untouched rows


def test_two_workers_racing_do_no_double_work_and_lose_nothing(
    db: str, settings: Settings, add_station: Callable[..., None],
    add_readings: Callable[..., int], series: Callable[..., list[Any]],
    snapshot: Callable[[], dict[str, Any]],
) -> None:  # fmt: skip
    stations = [f"BN{i:02d}" for i in range(8)]
    for station in stations:
        add_station(station)
    # Many small ingest batches, hours of one station spread over many claims.
    for day in range(3):
        for station in stations:
            start = DAY_START + dt.timedelta(days=day)
            values = [10.0 + (hash((station, day, h)) % 90) for h in range(24)]
            add_readings(series(station, "pm25", start, values)
                         + series(station, "pm10", start, [v * 2 for v in values]))  # fmt: skip
    queued = _queue_length(db)
    assert queued == 8 * 3 * 24

    barrier = threading.Barrier(2)
    reports: list[BatchReport] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            barrier.wait()
            reports.append(drain_once(settings=settings, batch_hours=7))
        except BaseException as exc:  # surfaced in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    assert len(reports) == 2
    # Each queue row was claimed exactly once, and none is left.
    assert sum(r.dirty_rows for r in reports) == queued
    assert all(r.dirty_rows > 0 for r in reports), "both workers took part"
    assert _queue_length(db) == 0
    raced = snapshot()

    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("TRUNCATE hourly, aqi_hourly, aqi_daily")
        conn.execute("INSERT INTO aqi_dirty_hours (station_id, hour) SELECT DISTINCT station_id,"
                     " time_bucket('1 hour', ts) FROM readings")  # fmt: skip
    drain_once(settings=settings)
    assert snapshot() == raced


def test_a_claim_rolled_back_returns_to_the_queue(
    db: str, worker_url: str, settings: Settings, add_station: Callable[..., None],
    add_readings: Callable[..., int], series: Callable[..., list[Any]],
) -> None:  # fmt: skip
    from storage.dirty_queue import claim_dirty_hours

    add_station("BN01")
    add_readings(series("BN01", "pm25", DAY_START, [30.0] * 3))
    with psycopg.connect(worker_url) as conn:
        assert len(claim_dirty_hours(conn, 10)) == 3
        # While held, another worker sees nothing to claim (SKIP LOCKED, no waiting).
        with psycopg.connect(worker_url) as other:
            assert claim_dirty_hours(other, 10) == []
        conn.rollback()
    assert _queue_length(db) == 3


def test_a_station_falling_silent_gets_its_next_hour_computed_at_the_new_hour(
    db: str, settings: Settings, add_station: Callable[..., None],
    add_readings: Callable[..., int], series: Callable[..., list[Any]],
) -> None:  # fmt: skip
    add_station("BN01")
    h = DAY_START + dt.timedelta(hours=10)
    # 30 at h−2 and h−1, then silence; processed while hour h−1 is still running.
    add_readings(series("BN01", "pm25", h - dt.timedelta(hours=2), [30.0, 30.0]))
    drain_once(settings=settings, clock=lambda: h - dt.timedelta(minutes=20))
    assert _rows(db, "SELECT count(*) FROM aqi_hourly WHERE hour = %s", h) == [(0,)]
    computed = "SELECT 1 FROM aqi_hourly WHERE hour = %s AND standard = 'vn_1459_2019'"
    _run_worker_until(settings, h + dt.timedelta(minutes=5), lambda: bool(_rows(db, computed, h)),
                      "hour h was never computed")  # fmt: skip
    # Hour h: c1 missing, c2 = c3 = 30 (2 of 3) → NowCast 30 → VN 50 + 5/25·50 = 60.
    assert _rows(
        db,
        "SELECT aqi, nowcast_pm25 FROM aqi_hourly WHERE hour = %s AND standard = 'vn_1459_2019'",
        h,
    ) == [(60, 30.0)]


def test_hours_that_began_while_the_worker_was_stopped_are_computed_at_start(
    db: str, settings: Settings, add_station: Callable[..., None],
    add_readings: Callable[..., int], series: Callable[..., list[Any]],
) -> None:  # fmt: skip
    add_station("BN01")
    h = DAY_START + dt.timedelta(hours=10)
    # 30 at h−2 and h−1, then silence; the worker stops before h and starts at h+2:05.
    add_readings(series("BN01", "pm25", h - dt.timedelta(hours=2), [30.0, 30.0]))
    drain_once(settings=settings, clock=lambda: h - dt.timedelta(minutes=20))
    query = (
        "SELECT hour, aqi, missing_reason FROM aqi_hourly"
        " WHERE hour >= %s AND standard = 'vn_1459_2019' ORDER BY hour"
    )
    _run_worker_until(settings, h + dt.timedelta(hours=2, minutes=5),
                      lambda: len(_rows(db, query, h)) >= 3, "hours after h never computed")  # fmt: skip
    # h: 2 of the 3 latest hours (h−2, h−1) → NowCast 30 → VN 60 (as in the test above);
    # h+1: only h−1 of its 3 latest hours → no NowCast; h+2: its 3-hour look-back still
    # holds h−1's reading, so it is queued and says why there is no AQI.
    assert _rows(db, query, h) == [
        (h, 60, None),
        (h + dt.timedelta(hours=1), None, "insufficient_data"),
        (h + dt.timedelta(hours=2), None, "insufficient_data"),
    ]
