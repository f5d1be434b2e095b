"""The stored-slot counts the worker keeps (reading_slots, migration 0023) and the
"Mẫu thiếu" panels that read them, against a direct count over the raw readings.

Readings go in the way ingest stores them (duplicates in a batch, a redelivered batch,
late readings of hours already counted), the worker drains the queue, and the panels
run as aqm_reader with a session time zone that is neither UTC nor ICT, for a range of
local days up to now: the hours that have ended come from reading_slots, the one
running from the readings. The expected values are computed here from the readings the
database holds, with integer microseconds: slot k = ceil((t − interval/2) / interval)
(docs/gaps.md), expected slots from the later of the range's start and local midnight
of ``installed_on`` to 15 minutes before now.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from aqm_core.settings import Settings
from dashboards.gaps import GAP_PERIODS_SQL, MISSING_PER_DAY_SQL, MISSING_PER_STATION_SQL
from tests.provisioning.macros import TimeRange, VariableValue, expand
from tests.worker.conftest import AddReadings, Reading
from worker.backfill import run_backfill
from worker.service import drain_once

pytestmark = pytest.mark.services

ICT = dt.timezone(dt.timedelta(hours=7))  # Asia/Ho_Chi_Minh: no daylight saving time
US = 1_000_000
NOT_YET_DUE_US = 15 * 60 * US
IDS = ("S5", "S60", "SH")
PARAMETERS = {"S5": ["pm25", "no2"], "S60": ["pm10"], "SH": ["pm25"]}
INTERVALS = {"S5": 300, "S60": 60, "SH": 3600}
NAMES = {"Bụi PM2.5": "pm25", "Bụi PM10": "pm10", "NO2": "no2"}


def _us(t: dt.datetime) -> int:
    return (t - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(microseconds=1)


def _slot(t_us: int, iv: int) -> int:
    """ceil((t − iv/2) / iv), exactly (iv·10⁶ is even)."""
    return -((-(t_us - iv * US // 2)) // (iv * US))


def _ceil_div(a: int, b: int) -> int:
    return -((-a) // b)


def _local_day(k: int, iv: int) -> dt.date:
    return dt.datetime.fromtimestamp(k * iv, ICT).date()


@pytest.fixture
def stations(db: str, range_start: dt.datetime) -> None:
    installed = {"S5": None, "S60": None, "SH": (range_start + dt.timedelta(days=1)).date()}
    with psycopg.connect(db, autocommit=True) as conn:
        for sid in IDS:
            conn.execute(
                "INSERT INTO stations (station_id, name, latitude, longitude, station_type,"
                " report_interval_s, parameters, installed_on)"
                " VALUES (%s, %s, 21.18, 106.07, 'fixed_automatic', %s, %s, %s)",
                (sid, f"Trạm {sid}", INTERVALS[sid], PARAMETERS[sid], installed[sid]),
            )


@pytest.fixture
def range_start() -> dt.datetime:
    """Local midnight three days ago."""
    today = dt.datetime.now(ICT).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - dt.timedelta(days=3)


def _series(sid: str, parameter: str, start: dt.datetime, end: dt.datetime) -> list[Reading]:
    step = dt.timedelta(seconds=INTERVALS[sid])
    t = start
    out = []
    while t < end:
        out.append((sid, parameter, t, 20.0, "00"))
        t += step
    return out


def _without(readings: list[Reading], start: dt.datetime, end: dt.datetime,
             parameter: str | None = None) -> list[Reading]:  # fmt: skip
    return [r for r in readings
            if not (start <= r[2] < end and (parameter is None or r[1] == parameter))]  # fmt: skip


def _expected(db: str, time_range: TimeRange, now: dt.datetime) -> dict[str, Any]:
    """Missing samples per station-day, per station, and per-parameter runs, from raw
    readings."""
    with psycopg.connect(db) as conn:
        stored = conn.execute("SELECT station_id, parameter, ts FROM readings").fetchall()
        catalogue = {
            r[0]: r[1]
            for r in conn.execute("SELECT station_id, installed_on FROM stations").fetchall()
        }
    slots: dict[tuple[str, str], set[int]] = defaultdict(set)
    for sid, parameter, ts in stored:
        slots[sid, parameter].add(_slot(_us(ts), INTERVALS[sid]))
    per_day: dict[tuple[dt.date, str], int] = {}
    per_station: dict[str, int] = {}
    runs: set[tuple[str, str, dt.datetime, dt.datetime]] = set()
    for sid in IDS:
        iv = INTERVALS[sid]
        t0 = _us(time_range.start)
        if catalogue[sid] is not None:
            t0 = max(t0, _us(dt.datetime.combine(catalogue[sid], dt.time(), ICT)))
        t1 = min(_us(time_range.end), _us(now) - NOT_YET_DUE_US)
        k0, k1 = _ceil_div(t0, iv * US), _ceil_div(t1, iv * US) - 1
        if k1 < k0:
            continue
        per_station[sid] = 0
        for parameter in PARAMETERS[sid]:
            present = slots[sid, parameter]
            run_start = None
            for k in range(k0, k1 + 2):
                missing = k <= k1 and k not in present
                if missing:
                    day = (_local_day(k, iv), f"Trạm {sid}")
                    per_day[day] = per_day.get(day, 0) + 1
                    per_station[sid] += 1
                    run_start = k if run_start is None else run_start
                elif run_start is not None:
                    runs.add((sid, parameter, dt.datetime.fromtimestamp(run_start * iv, dt.UTC),
                              dt.datetime.fromtimestamp((k - 1) * iv, dt.UTC)))  # fmt: skip
                    run_start = None
        for k in range(k0, k1 + 1):  # days without anything missing are rows too
            per_day.setdefault((_local_day(k, iv), f"Trạm {sid}"), 0)
    return {"per_day": per_day, "per_station": per_station, "runs": runs}


def _panels(postgres: Any, time_range: TimeRange) -> tuple[dict[str, Any], dt.datetime]:
    """The three panels' results as aqm_reader, and now() of their transaction."""
    variables = {"station": VariableValue(("$__all",), multi=True, include_all=True, options=IDS)}
    with psycopg.connect(postgres.url(user="aqm_reader")) as conn:
        conn.execute("SET TimeZone = 'America/Sao_Paulo'")

        def run(sql: str) -> list[tuple[Any, ...]]:
            text = expand(sql, time_range, variables, interval=dt.timedelta(hours=1))
            return conn.execute(text.encode()).fetchall()

        per_day = {(r[0].astimezone(ICT).date(), r[1]): r[2] for r in run(MISSING_PER_DAY_SQL)}
        per_station = {r[0]: r[4] for r in run(MISSING_PER_STATION_SQL)}
        runs = {
            (r[0], NAMES[n], r[2].astimezone(dt.UTC), r[3].astimezone(dt.UTC))
            for r in run(GAP_PERIODS_SQL)
            for n in r[5].split(", ")
        }
        row = conn.execute("SELECT now()").fetchone()  # the same transaction: the same now()
    assert row is not None
    return {"per_day": per_day, "per_station": per_station, "runs": runs}, row[0]


def _slot_table(db: str) -> dict[tuple[str, str, dt.datetime], int]:
    with psycopg.connect(db) as conn:
        rows = conn.execute(
            "SELECT station_id, parameter, hour, bit_count(slots) FROM reading_slots"
        ).fetchall()
    return {(r[0], r[1], r[2]): r[3] for r in rows}


def _distinct_slots_per_hour(db: str) -> dict[tuple[str, str, dt.datetime], int]:
    """Distinct slots per station, parameter and the UTC hour of the slot's time."""
    with psycopg.connect(db) as conn:
        stored = conn.execute("SELECT station_id, parameter, ts FROM readings").fetchall()
    slots: dict[tuple[str, str, dt.datetime], set[int]] = defaultdict(set)
    for sid, parameter, ts in stored:
        iv = INTERVALS[sid]
        k = _slot(_us(ts), iv)
        hour = dt.datetime.fromtimestamp(k * iv // 3600 * 3600, dt.UTC)
        slots[sid, parameter, hour].add(k)
    return {key: len(v) for key, v in slots.items()}


def test_panels_count_what_raw_readings_hold(
    db: str, stations: None, range_start: dt.datetime, add_readings: AddReadings,
    settings: Settings, postgres: Any, series: Callable[..., list[Reading]],
) -> None:  # fmt: skip
    rng = random.Random(23)
    now = dt.datetime.now(dt.UTC)
    first = range_start - dt.timedelta(hours=2)
    until = now - dt.timedelta(hours=1)  # the last hour arrives later
    h = dt.timedelta(hours=1)
    midnight = range_start + dt.timedelta(days=2)
    s5 = _series("S5", "pm25", first, until) + _series("S5", "no2", first, until)
    s5 = _without(s5, range_start + 10 * h, range_start + 10 * h + dt.timedelta(minutes=40),
                  "pm25")  # fmt: skip
    s5 = _without(s5, midnight - 2 * h, midnight + dt.timedelta(minutes=50))  # across a day
    late = [r for r in s5 if range_start + 30 * h <= r[2] < range_start + 31 * h]
    s5 = _without(s5, range_start + 30 * h, range_start + 31 * h)
    # jitter within half an interval, some readings of hh:58 fill the slot of hh+1:00
    s5 = [(s, p, t + dt.timedelta(seconds=rng.choice((0, 0, -120, 90, 149))), v, st)
          for s, p, t, v, st in s5]  # fmt: skip
    # a second reading in a filled slot, a status-01 reading
    s5 += [("S5", "no2", range_start + 5 * h + dt.timedelta(minutes=1), 21.0, "00"),
           ("S5", "pm25", range_start + 6 * h + dt.timedelta(seconds=30), 21.0, "01")]  # fmt: skip
    sh = _series("SH", "pm25", first, until)
    sh = _without(sh, range_start + 40 * h, range_start + 43 * h)
    sh = [(s, p, t + dt.timedelta(minutes=rng.randint(-29, 29)), v, st) for s, p, t, v, st in sh]
    s60 = _series("S60", "pm10", range_start + 60 * h, until)
    s60 = [r for r in s60 if rng.random() < 0.9]

    half = len(s5) // 2
    add_readings(s5[:half] + s5[:50])  # duplicates within a batch
    add_readings(s5[half:] + sh + s60)
    add_readings(s5[: half // 3])  # a redelivered batch: stored once
    drain_once(settings=settings)
    add_readings(late[::2])  # late readings of an hour counted already
    drain_once(settings=settings)
    add_readings(late[1::2])
    drain_once(settings=settings)
    current_hour = now.replace(minute=0, second=0, microsecond=0)
    pairs = (("S5", "pm25"), ("S5", "no2"), ("S60", "pm10"), ("SH", "pm25"))
    before = [r for sid, p in pairs for r in _series(sid, p, until, current_hour)]
    add_readings(before)
    drain_once(settings=settings)
    # the hour still running arrives; the worker has not seen it yet
    recent = [r for sid, p in pairs for r in _series(sid, p, current_hour, now)
              if rng.random() < 0.8]  # fmt: skip
    add_readings(recent)

    sent = s5 + s5[:50] + sh + s60 + late + before + recent
    with psycopg.connect(db) as conn:
        row = conn.execute("SELECT count(*), time_bucket('1 hour', now()) FROM readings").fetchone()
    assert row is not None
    assert row[0] == len({(s, p, t) for s, p, t, _, _ in sent}) < len(sent)  # stored once
    if row[1] != current_hour:  # the hour turned meanwhile: the worker counts what it left
        drain_once(settings=settings)

    counted = {k: v for k, v in _distinct_slots_per_hour(db).items() if k[2] < current_hour - h}
    table = {k: v for k, v in _slot_table(db).items() if k[2] < current_hour - h}
    assert table == counted  # one bit per distinct stored slot, per hour

    time_range = TimeRange(range_start, now + dt.timedelta(minutes=1))
    got, db_now = _panels(postgres, time_range)
    expected = _expected(db, time_range, db_now)
    assert got == expected
    assert expected["per_station"]["S5"] > 0 and expected["per_station"]["SH"] >= 3
    assert min(day for day, _ in expected["per_day"]) == range_start.date()


def test_a_new_interval_recounts_the_hours_counted(
    db: str, stations: None, range_start: dt.datetime, add_readings: AddReadings,
    settings: Settings, postgres: Any,
) -> None:  # fmt: skip
    """A catalogue change of report_interval_s recounts the station's hours at the new one."""
    start = range_start + dt.timedelta(hours=5)
    add_readings(_series("S5", "pm25", start, start + dt.timedelta(hours=3)))
    drain_once(settings=settings)
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("UPDATE stations SET report_interval_s = 600 WHERE station_id = 'S5'")
        rows = conn.execute(
            "SELECT report_interval_s, bit_count(slots), length(slots) FROM reading_slots"
            " WHERE station_id = 'S5' ORDER BY hour"
        ).fetchall()
    # readings every 5 minutes fill every 10-minute slot: 6 of 6 in each of the 3 hours
    assert rows == [(600, 6, 6)] * 3


def test_backfill_counts_what_the_worker_counts(
    db: str, stations: None, range_start: dt.datetime, add_readings: AddReadings,
    settings: Settings, worker_url: str,
) -> None:  # fmt: skip
    """``aqm aqi backfill`` recounts the slots of its days (history stored before 0023)."""
    readings = _series("S5", "pm25", range_start, range_start + dt.timedelta(days=2))
    add_readings(_without(readings, range_start + dt.timedelta(hours=3),
                          range_start + dt.timedelta(hours=5, minutes=20)))  # fmt: skip
    drain_once(settings=settings)
    reference = _slot_table(db)
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("TRUNCATE reading_slots")
    first = range_start.date()
    summary = run_backfill(worker_url, settings, first, first + dt.timedelta(days=1))
    assert summary.finished
    assert _slot_table(db) == reference and len(reference) == 48 - 2
