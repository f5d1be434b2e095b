"""Benchmark: backfill one year × 100 stations of hourly PM2.5, PM10 and NO2.

Run: ``.venv/bin/python -m bench.worker_backfill [--stations N] [--days N] [--chunk-days N]``.

Starts a private TimescaleDB in a temporary folder (configured as timescaledb-tune
configures the docker-compose image), migrates it, registers the stations (reporting
once an hour) and generates the readings inside the database (untimed: a seasonal and
daily cycle with noise, ~2 % of hours missing and ~1 % flagged 02). Then two timed
runs of ``aqm aqi backfill`` as ``aqm_worker`` over the whole year:

1. the full backfill (the command's default): hourly means recomputed from the raw
   readings, then ``aqi_hourly`` and ``aqi_daily``;
2. the AQI backfill (``--indices-only``, the AQI tables emptied first): the year's
   hourly series, as stored, into ``aqi_hourly`` and ``aqi_daily`` — read, compute,
   write. This is the benchmark's target (≤ 15 s for the default size) and what a
   change of AQI method needs.

Each is split into its phases (hourly means from readings, reading the hourly windows,
compute: plan, matrices, engine, flattening; writing the AQI tables). The result is
appended to the ``## AQI worker backfill`` section of docs/benchmarks.md unless
``--no-record``. ``--parallel N`` sets the station groups (default: one per CPU, as
``aqm aqi backfill``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import psycopg

from aqm.localservices import PostgresInstance, free_port
from aqm_core.settings import load_settings
from bench.record import append_to_section
from storage.migrate import migrate
from worker.backfill import run_backfill
from worker.recompute import Timings

REPO_ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = REPO_ROOT / "docs" / "benchmarks.md"
SECTION = "## AQI worker backfill"
TARGET_S = 15.0
FIRST_DAY = dt.date(2025, 1, 1)

STATIONS_SQL = """
INSERT INTO stations (station_id, name, latitude, longitude, station_type, report_interval_s,
                      parameters)
SELECT 'BN' || lpad(i::text, 3, '0'), format('Bench station %%s', i), 21.0 + i * 0.001, 106.0,
       'fixed_automatic', 3600, ARRAY['pm25', 'pm10', 'no2']
FROM generate_series(1, %(stations)s) AS i
"""

# Local days start at 17:00 UTC the day before (UTC+7).
READINGS_SQL = """
INSERT INTO readings (station_id, parameter, ts, value, original_value, original_unit, status,
                      source_format, received_at)
SELECT s.station_id, p.parameter, t.ts, v.value, v.value, 'µg/m³',
       CASE WHEN random() < 0.01 THEN '02' ELSE '00' END, 'aqm_json', t.ts
FROM stations AS s
CROSS JOIN generate_series(%(start)s::timestamptz,
                           %(start)s::timestamptz + %(days)s * INTERVAL '1 day' - INTERVAL '1 hour',
                           INTERVAL '1 hour') AS t(ts)
CROSS JOIN (VALUES ('pm25', 35.0), ('pm10', 70.0), ('no2', 40.0)) AS p(parameter, level)
CROSS JOIN LATERAL (
    SELECT greatest(0.0, p.level * (1.0 + 0.5 * cos(2 * pi() * extract(doy FROM t.ts) / 365.0)
                                        + 0.3 * sin(2 * pi() * extract(hour FROM t.ts) / 24.0))
                         * (0.6 + 0.8 * random())) AS value
) AS v
WHERE random() >= 0.02
"""


def _section(lines: list[str]) -> None:
    append_to_section(SECTION, lines, BENCHMARKS)


def main(argv: Sequence[str] = ()) -> int:
    """Run the benchmark; ``argv`` as on the command line (``python -m bench`` passes none)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stations", type=int, default=100)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--chunk-days", type=int, default=31)
    parser.add_argument(
        "--parallel",
        type=int,
        default=None,
        help="station groups at once (default: the number of CPUs)",
    )
    parser.add_argument("--no-record", action="store_true", help="do not write docs/benchmarks.md")
    args = parser.parse_args(list(argv))

    root = Path(tempfile.mkdtemp(prefix="aqm-bench-"))
    root.chmod(0o755)
    pg = PostgresInstance(root / "pg", free_port())
    try:
        pg.start()
        migrate(pg.url())
        start = dt.datetime.combine(FIRST_DAY, dt.time(), dt.UTC) - dt.timedelta(hours=7)
        print(
            f"generating {args.stations} stations × {args.days} days of hourly PM2.5, PM10, NO2 …",
            flush=True,
        )
        with psycopg.connect(pg.url(), autocommit=True) as conn:
            conn.execute(STATIONS_SQL, {"stations": args.stations})
            conn.execute("SELECT setseed(0.42)")
            conn.execute(READINGS_SQL, {"start": start, "days": args.days})
            conn.execute("VACUUM ANALYZE readings")
            # Flush the generated data now, or the backfill pays for writing it out.
            conn.execute("CHECKPOINT")
            count = conn.execute("SELECT count(*) FROM readings").fetchone()
        n_readings = int(count[0]) if count else 0
        print(f"{n_readings:,} readings; backfilling as aqm_worker …", flush=True)

        settings = load_settings()
        load_before = os.getloadavg()[0]  # the machine may be shared: say how busy it was
        last_day = FIRST_DAY + dt.timedelta(days=args.days - 1)
        began = time.perf_counter()
        summary = run_backfill(
            pg.url(user="aqm_worker"), settings, FIRST_DAY, last_day,
            chunk_days=args.chunk_days, parallelism=args.parallel, now=dt.datetime.now(dt.UTC),
        )  # fmt: skip
        elapsed = time.perf_counter() - began
        with psycopg.connect(pg.url()) as conn:
            counts = {
                table: int(conn.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])
                for table in ("hourly", "aqi_hourly", "aqi_daily")
            }
        # The same AQI tables again from the stored hourly means (a change of AQI method):
        # emptied first, so every row is really computed and written.
        with psycopg.connect(pg.url(), autocommit=True) as conn:
            conn.execute("TRUNCATE aqi_hourly, aqi_daily")
        began = time.perf_counter()
        indices = run_backfill(
            pg.url(user="aqm_worker"), settings, FIRST_DAY, last_day,
            chunk_days=args.chunk_days, parallelism=args.parallel, now=dt.datetime.now(dt.UTC),
            indices_only=True,
        )  # fmt: skip
        indices_elapsed = time.perf_counter() - began
    finally:
        pg.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)

    def where(report_timings: Timings, seconds: float, with_means: bool) -> str:
        t = report_timings
        phases = (
            (
                f"hourly means from readings (SQL) {t.hourly:.1f} s, "
                if with_means
                else f"stored station-hours {t.hourly:.1f} s, "
            )
            + f"read hourly windows {t.read:.1f} s, compute (plan, engine, flatten) "
            f"{t.compute:.1f} s, write aqi tables {t.write:.1f} s"
        )
        if summary.groups == 1:
            return f"where the time goes: {phases}, other {seconds - t.total:.1f} s"
        # Phases overlap across groups: their sum is connection time, not wall time.
        return (
            f"where the time goes, summed over the {summary.groups} groups' connections "
            f"({t.total:.1f} s in {seconds:.1f} s wall): {phases}"
        )

    def verdict(seconds: float) -> str:
        return f"{'meets' if seconds <= TARGET_S else 'misses'} the {TARGET_S:.0f} s target"

    aqi_rows = counts["aqi_hourly"] + counts["aqi_daily"]
    all_rows = aqi_rows + counts["hourly"]
    lines = [
        f"### {dt.date.today().isoformat()} — {args.stations} stations × {args.days} days, "
        f"chunks of {args.chunk_days} days, {summary.groups} station groups in parallel",
        "",
        f"- machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"load average before the run {load_before:.2f}",
        f"- input: {n_readings:,} readings (hourly PM2.5, PM10, NO2; ~2 % hours missing, "
        "~1 % status 02); per standard "
        f"{summary.report.station_hours:,} station-hours and {summary.report.station_days:,} "
        "station-days",
        f"- AQI backfill (`--indices-only`: the stored hourly series into aqi_hourly and "
        f"aqi_daily, emptied first): **{indices_elapsed:.1f} s** ({verdict(indices_elapsed)}), "
        f"{aqi_rows / indices_elapsed:,.0f} AQI rows/s; "
        + where(indices.report.timings, indices_elapsed, with_means=False),
        f"- full backfill (hourly means recomputed from the readings first): "
        f"**{elapsed:.1f} s** ({verdict(elapsed)}); {counts['hourly']:,} hourly, "
        f"{counts['aqi_hourly']:,} aqi_hourly, {counts['aqi_daily']:,} aqi_daily rows, "
        f"{all_rows / elapsed:,.0f} rows/s; "
        + where(summary.report.timings, elapsed, with_means=True),
    ]
    print("\n".join(lines))
    if not args.no_record:
        _section(lines)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
