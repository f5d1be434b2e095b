"""A small seeded network for the annual report tests, and the report built from it.

Four registry stations around one report year (2025):

* ``BN01`` full year of PM2.5, PM10 and NO2, with invalid hours (value 999, must be
  ignored), a gap of more than three days, a day with 17 and one with 18 valid hours,
  days and hours exactly at a limit (not exceedances), NO2 spikes over 200; also a
  full year 2024 of PM2.5 for the comparison with the previous year;
* ``BN02`` registered all year but only 12 valid hours on two days in five, so its
  annual means fail the 75 % rule;
* ``BN03`` installed 01/07/2025 (mid-year): too few days for annual means;
* ``BN00`` retired in 2024: not part of the 2025 report;
* ``BNLC`` a low-cost sensor (PM2.5 with humidity, US EPA correction named) and ``BNXE``
  a mobile van, both with high values and daily AQI rows: their AQI may not be published
  (Circular 10/2021 Art. 29-31), so the province's figures must not contain them.

Registry parameters of the automatic stations include O3 (Art. 30(1)(a)); their seeded
data do not (completeness rows show none).

The rows are kept as plain Python lists so the tests compute the expected statistics
on their own (dictionaries and loops), without the report's code.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import psycopg
import pytest

from aqm.localservices import PostgresInstance

YEAR = 2025
UTC_OFFSET = timedelta(hours=7)
STATIONS = (
    # id, name, ward, installed_on, retired_on, status, parameters, type, public_aqi
    ("BN00", "Trạm Đình Bảng (cũ)", "Phường Từ Sơn", date(2019, 1, 1), date(2024, 6, 30),
     "retired", ["pm25", "o3", "no2"], "fixed_automatic", True),
    ("BN01", "Trạm Suối Hoa", "Phường Suối Hoa", date(2023, 1, 1), None, "active",
     ["pm25", "pm10", "no2", "o3"], "fixed_automatic", True),
    ("BN02", "Trạm Từ Sơn", "Phường Từ Sơn", date(2020, 5, 1), None, "active",
     ["pm25", "pm10", "o3", "co"], "fixed_automatic", True),
    ("BN03", "Trạm Quế Võ", "Phường Quế Võ", date(YEAR, 7, 1), None, "active",
     ["pm25", "pm10", "no2", "o3"], "fixed_automatic", True),
    ("BNLC", "Cảm biến KCN Quế Võ", "Phường Quế Võ", date(2024, 1, 1), None, "active",
     ["pm25", "pm10", "humidity"], "low_cost_sensor", False),
    ("BNXE", "Xe quan trắc di động số 1", None, date(2022, 1, 1), None, "active",
     ["pm25", "pm10", "no2", "o3"], "mobile", False),
)  # fmt: skip
INELIGIBLE = ("BNLC", "BNXE")


@dataclass
class Seeded:
    """Every row written, for independent expectations."""

    # (station, parameter, hour_utc, mean, valid)
    hourly: list[tuple[str, str, datetime, float, bool]] = field(default_factory=list)
    # (station, standard, day, aqi or None, dominant or None)
    daily: list[tuple[str, str, date, int | None, str | None]] = field(default_factory=list)
    # QA/QC: (station, local day) whose hourly rows are verified; removal counts per
    # hourly row; automatic status flags (station, parameter, ts, bits); manual actions
    # (action, station, parameter, start, end, reason)
    verified: set[tuple[str, date]] = field(default_factory=set)
    qc_counts: dict[tuple[str, str, datetime], dict[str, int]] = field(default_factory=dict)
    status_flags: list[tuple[str, str, datetime, int]] = field(default_factory=list)
    manual: list[tuple[str, str, str | None, datetime, datetime, str | None]] = field(
        default_factory=list
    )


def local_start(year: int) -> datetime:
    return datetime(year, 1, 1, tzinfo=UTC) - UTC_OFFSET


def local_day(hour_utc: datetime) -> date:
    return (hour_utc + UTC_OFFSET).date()


def _days(year: int) -> int:
    return (date(year + 1, 1, 1) - date(year, 1, 1)).days


def build_seed() -> Seeded:
    rng = np.random.default_rng(20250101)
    seed = Seeded()
    start = local_start(YEAR)
    n_days = _days(YEAR)

    # BN01: full year with known quirks
    base = rng.gamma(3.0, 12.0, size=n_days)
    gap = set(range(1700, 1790))  # 90 h without rows in March: a gap longer than a day
    for h in range(n_days * 24):
        t = start + timedelta(hours=h)
        d = h // 24
        if h in gap:
            continue
        if d == 100 and h % 24 >= 17:  # 17 valid hours: no daily mean
            continue
        if d == 101 and h % 24 >= 18:  # 18 valid hours: daily mean
            continue
        invalid = rng.random() < 0.03 and d not in (100, 101)
        pm25 = float(base[d] * rng.uniform(0.6, 1.4))
        if d == 200:  # a 24-h mean exactly at the limit (50): not an exceedance
            pm25 = 50.0
        no2 = float(rng.gamma(2.0, 30.0))
        if h % 500 == 7:
            no2 = 230.0
        if h % 500 == 8:
            no2 = 200.0  # exactly at the 1-h limit: not an exceedance
        for parameter, value in (("pm25", pm25), ("pm10", pm25 * 1.6), ("no2", no2)):
            seed.hourly.append(("BN01", parameter, t, 999.0 if invalid else value, not invalid))

    # BN01 weather: wind (calm every tenth hour, direction missing every 13th) and rain
    for h in range(n_days * 24):
        if h in gap or h // 24 in (100, 101):
            continue
        t = start + timedelta(hours=h)
        seed.hourly.append(("BN01", "wind_speed", t, 0.3 if h % 10 == 0 else 1.0 + h % 5, True))
        if h % 13:
            seed.hourly.append(("BN01", "wind_direction", t, float(h * 37 % 360), True))
        seed.hourly.append(("BN01", "rain", t, 2.5 if h % 50 == 0 else 0.0, True))

    # BN02: 12 valid hours on two days in five
    for d in range(n_days):
        hours = 24 if d % 5 >= 2 else 12
        for k in range(hours):
            t = start + timedelta(hours=d * 24 + k)
            value = float(rng.gamma(4.0, 9.0))
            seed.hourly.append(("BN02", "pm25", t, value, True))
            seed.hourly.append(("BN02", "pm10", t, value * 1.5, True))

    # BN03: from its installation on 01/07
    first = (date(YEAR, 7, 1) - date(YEAR, 1, 1)).days
    for h in range(first * 24, n_days * 24):
        t = start + timedelta(hours=h)
        value = float(rng.gamma(5.0, 10.0))
        seed.hourly.append(("BN03", "pm25", t, value, True))
        seed.hourly.append(("BN03", "pm10", t, value * 1.4, True))
        seed.hourly.append(("BN03", "no2", t, float(rng.gamma(2.0, 25.0)), True))

    # BNLC and BNXE: every day, high values (they would top every province figure)
    for h in range(n_days * 24):
        t = start + timedelta(hours=h)
        value = float(rng.gamma(9.0, 12.0))
        seed.hourly.append(("BNLC", "pm25", t, value, True))
        seed.hourly.append(("BNLC", "pm10", t, value * 1.3, True))
        seed.hourly.append(("BNLC", "humidity", t, float(rng.uniform(40, 95)), True))
        seed.hourly.append(("BNXE", "pm25", t, value * 1.1, True))
        seed.hourly.append(("BNXE", "pm10", t, value * 1.5, True))
        seed.hourly.append(("BNXE", "no2", t, 260.0 if h % 7 == 0 else 90.0, True))

    # BN01 in 2024, PM2.5 only (the previous year)
    prev_start = local_start(YEAR - 1)
    for h in range(_days(YEAR - 1) * 24):
        value = float(rng.gamma(4.0, 10.0))
        seed.hourly.append(("BN01", "pm25", prev_start + timedelta(hours=h), value, True))

    # daily VN_AQI for each station-day with data; a few days without an AQI
    with_data = sorted({(s, local_day(t)) for s, _, t, _, ok in seed.hourly if ok})
    for station, day in with_data:
        if rng.random() < 0.04:
            seed.daily.append((station, "vn_1459_2019", day, None, None))
            continue
        aqi = int(rng.integers(5, 330))
        if station in INELIGIBLE:
            aqi = int(rng.integers(320, 500))
        seed.daily.append((station, "vn_1459_2019", day, aqi, str(rng.choice(["pm25", "pm10"]))))
    # a US EPA row that must not leak into VN counts
    seed.daily.append(("BN01", "us_epa_2024", date(YEAR, 3, 3), 499, "pm25"))
    _seed_qaqc(seed, start)
    return seed


def _seed_qaqc(seed: Seeded, start: datetime) -> None:
    """BN01's first quarter verified, removals by rule, status 01/02 readings, and an
    officer's invalidations (one reaching back into the previous year, one restored)."""
    seed.verified = {("BN01", date(YEAR, 1, 1) + timedelta(days=d)) for d in range(90)}
    seed.verified |= {("BN03", date(YEAR, 12, 31))}
    rows = {(s, p, t) for s, p, t, _, _ in seed.hourly if local_day(t).year == YEAR}
    for k, key in enumerate(sorted(rows)):
        if k % 211 == 0:
            seed.qc_counts[key] = {"n_qc_spike": 1 + k % 3, "n_flagged": 2}
        elif k % 307 == 0:
            seed.qc_counts[key] = {"n_qc_flat_line": 4, "n_qc_manual": 1, "n_qc_range": 1}
        elif k % 401 == 0:
            seed.qc_counts[key] = {"n_qc_pm_ratio": 2, "n_qc_negative": 1}
    # status 01 on BN01 PM2.5 and PM10 in the same hours (counted once per hour)
    for h in (30, 31, 500):
        for minute in (0, 5, 10):
            t = start + timedelta(hours=h, minutes=minute)
            seed.status_flags.append(("BN01", "pm25", t, 2))
            seed.status_flags.append(("BN01", "pm10", t, 2 | 32))
    # status 02 on BN02 PM2.5; a flag of another rule alone is not status time
    for h in (40, 41, 42, 43):
        seed.status_flags.append(("BN02", "pm25", start + timedelta(hours=h, minutes=15), 4))
    seed.status_flags.append(("BN02", "pm10", start + timedelta(hours=44), 64))
    # a flag of the previous year is outside the report
    seed.status_flags.append(("BN01", "pm25", start - timedelta(hours=3), 2))
    seed.manual = [
        ("invalidate", "BN01", None, start + timedelta(days=31, hours=3),
         start + timedelta(days=31, hours=9), "maintenance"),
        ("invalidate", "BN01", "pm25", start - timedelta(hours=5), start + timedelta(hours=7),
         "power_outage"),
        ("invalidate", "BN01", "no2", start + timedelta(days=200),
         start + timedelta(days=200, minutes=90), "maintenance"),
        ("invalidate", "BN02", "pm10", start + timedelta(days=10),
         start + timedelta(days=10, hours=2), "calibration"),
        ("restore", "BN02", "pm10", start + timedelta(days=10),
         start + timedelta(days=10, hours=1), None),
        ("invalidate", "BN02", None, start - timedelta(days=40),
         start - timedelta(days=39), "other"),
    ]  # fmt: skip


def write_seed(url: str, seed: Seeded) -> None:
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        cur.execute("TRUNCATE stations, hourly, aqi_daily, aqi_hourly, readings, qc_flags CASCADE")
        cur.execute("SET session_replication_role = replica")  # qc_actions is append-only
        cur.execute("TRUNCATE qc_actions")
        cur.execute("RESET session_replication_role")
        cur.executemany(
            "INSERT INTO stations (station_id, name, ward, latitude, longitude, station_type,"
            " installed_on, retired_on, status, parameters, public_aqi, pm25_correction)"
            " VALUES (%s, %s, %s, 21.18, 106.07, %s, %s, %s, %s, %s, %s, %s)",
            [(s[0], s[1], s[2], s[7], s[3], s[4], s[5], s[6], s[8],
              "us_epa_2021" if s[0] == "BNLC" else None) for s in STATIONS],
        )
        with cur.copy(
            "COPY hourly (station_id, parameter, hour, mean, n_valid, n_flagged, n_expected,"
            " completeness, valid, min_completeness) FROM STDIN"
        ) as copy:
            for station, parameter, hour, mean, valid in seed.hourly:
                n = 12 if valid else 4
                copy.write_row((station, parameter, hour, mean, n, 0, 12, n / 12, valid, 0.75))
        with cur.copy(
            "COPY aqi_daily (station_id, standard, day, aqi, dominant, missing_reason,"
            " method_version) FROM STDIN"
        ) as copy:
            for station, standard, day, aqi, dominant in seed.daily:
                copy.write_row((station, standard, day, aqi, dominant,
                                "no_pm" if aqi is None else None, "test"))
        _write_qaqc(cur, seed)


def _write_qaqc(cur: psycopg.Cursor[tuple[object, ...]], seed: Seeded) -> None:
    for station, day in sorted(seed.verified):
        first = datetime(day.year, day.month, day.day, tzinfo=UTC) - UTC_OFFSET
        cur.execute(
            "UPDATE hourly SET data_level = 'verified'"
            " WHERE station_id = %s AND hour >= %s AND hour < %s",
            (station, first, first + timedelta(days=1)),
        )
    for (station, parameter, hour), counts in seed.qc_counts.items():
        cur.execute(
            "UPDATE hourly SET " + ", ".join(f"{c} = %s" for c in counts)
            + " WHERE station_id = %s AND parameter = %s AND hour = %s",
            (*counts.values(), station, parameter, hour),
        )  # fmt: skip
    cur.executemany(
        "INSERT INTO qc_flags (station_id, parameter, ts, flags, rules_version)"
        " VALUES (%s, %s, %s, %s, 'test')",
        seed.status_flags,
    )
    cur.executemany(
        "INSERT INTO qc_actions (action, station_id, parameter, period_start, period_end,"
        " reason, performed_by, db_user, performed_at, state_before)"
        " VALUES (%s, %s, %s, %s, %s, %s, 'Nguyễn Văn A', '', now(), '[]')",
        seed.manual,
    )


@dataclass(frozen=True)
class BuiltReport:
    seed: Seeded
    out_dir: Path
    docx: Path
    xlsx: Path
    charts: list[Path]


@pytest.fixture(scope="module")
def seeded_url(database_url: str) -> Iterator[tuple[str, Seeded]]:
    """The test database holding the seeded network (written as superuser)."""
    seed = build_seed()
    write_seed(database_url, seed)
    yield database_url, seed


@pytest.fixture(scope="module")
def annual_report(
    seeded_url: tuple[str, Seeded], postgres: PostgresInstance,
    tmp_path_factory: pytest.TempPathFactory,
) -> BuiltReport:
    """The 2025 report of the seeded network, read as the ``aqm_reader`` role."""
    from reports.annual.build import build_annual_report

    _, seed = seeded_url
    out = tmp_path_factory.mktemp("annual") / "out"
    files = build_annual_report(postgres.url(user="aqm_reader"), YEAR, out, "Bắc Ninh")
    return BuiltReport(seed, out, files.docx, files.xlsx, files.charts)
