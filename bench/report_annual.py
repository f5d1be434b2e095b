"""Annual report benchmark: 100 stations × one year (target ≤ 30 s), read as aqm_reader.

Run: ``.venv/bin/python -m bench.report_annual [--stations N] [--record]``. A private
TimescaleDB is seeded server-side (generate_series) with three local years of hourly
means (PM2.5, PM10, NO2, SO2, O3, CO, ~3 % invalid) and daily VN_AQI for every station
(each a fixed automatic station that may publish AQI), so the report also reads the two
years before for its comparison and trend. Seeding is not timed;
the report is, per step. ``--database-dir DIR`` keeps the seeded cluster in DIR and
reuses it on the next run with the same station count (seeding takes minutes).
``--profile FILE`` writes a cProfile of the report to FILE. ``--record`` writes the result into the "Annual report"
section of docs/benchmarks.md (the rest of that file is left as it is).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import psycopg

from aqm.localservices import PostgresInstance, free_port
from bench.machine import describe
from bench.record import append_to_section
from reports.annual.build import build_annual_report
from storage.migrate import migrate

YEAR = 2025
TARGET_S = 30.0
COMPARE_YEARS = 2
"""Years before the report year that are seeded and read (--compare-years)."""
PARAMETERS = ("pm25", "pm10", "no2", "so2", "o3", "co")
BENCHMARKS_MD = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
SECTION = "## Annual report"

_SEED_HOURLY = """
INSERT INTO hourly (station_id, parameter, hour, mean, n_valid, n_flagged, n_expected,
                    completeness, valid, min_completeness)
SELECT s.station_id, p.parameter, h.hour,
       p.scale * (0.5 + random()) * (1.3 + sin(extract(doy FROM h.hour) / 58.0)),
       12, 0, 12, 1.0, random() > 0.03, 0.75
FROM stations s
CROSS JOIN (VALUES ('pm25', 35.0), ('pm10', 60.0), ('no2', 45.0), ('so2', 20.0),
                   ('o3', 60.0), ('co', 900.0)) AS p(parameter, scale)
CROSS JOIN generate_series(%(start)s::timestamptz, %(end)s::timestamptz - interval '1 hour',
                           interval '1 hour') AS h(hour)
"""

_SEED_DAILY = """
INSERT INTO aqi_daily (station_id, standard, day, aqi, category, dominant, method_version)
SELECT s.station_id, 'vn_1459_2019', d::date, a.aqi,
       LEAST(5, GREATEST(0, (a.aqi - 1) / 50)), 'pm25', 'bench'
FROM stations s
CROSS JOIN generate_series(%(first)s::date, %(last)s::date, interval '1 day') AS d
CROSS JOIN LATERAL (SELECT (20 + random() * 230 + 0 * length(s.station_id))::int AS aqi) a
"""


def seed(url: str, n_stations: int) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.cursor().executemany(
            "INSERT INTO stations (station_id, name, ward, latitude, longitude, station_type,"
            " public_aqi, installed_on, parameters) VALUES (%s, %s, 'Phường Kinh Bắc', 21.18,"
            " 106.07, 'fixed_automatic', true, '2020-01-01', %s)",
            [(f"BN{i:03d}", f"Trạm quan trắc số {i}", list(PARAMETERS))
             for i in range(1, n_stations + 1)],
        )  # fmt: skip
        for year in range(YEAR - COMPARE_YEARS, YEAR + 1):
            started = time.perf_counter()
            conn.execute(
                _SEED_HOURLY,
                {"start": f"{year - 1}-12-31 17:00+00", "end": f"{year}-12-31 17:00+00"},
            )
            conn.execute(_SEED_DAILY, {"first": f"{year}-01-01", "last": f"{year}-12-31"})
            print(f"  seeded {year} in {time.perf_counter() - started:.1f} s", flush=True)
        conn.execute("ANALYZE hourly")
        conn.execute("ANALYZE aqi_daily")
        rows = conn.execute("SELECT count(*) FROM hourly").fetchone()
        print(f"  hourly rows: {rows[0] if rows else 0:,}", flush=True)


def seeded_stations(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM stations").fetchone()
    return int(row[0]) if row else 0


def record(line: str) -> None:
    """Add ``line`` at the end of the Annual report section of docs/benchmarks.md, keeping
    what the section already says."""
    append_to_section(SECTION, [line], BENCHMARKS_MD)


def main(argv: Sequence[str] = ()) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.report_annual")
    parser.add_argument("--stations", type=int, default=100)
    parser.add_argument(
        "--record", action="store_true", help="write the result into docs/benchmarks.md"
    )
    parser.add_argument("--keep", type=Path, help="copy the report files to this folder")
    parser.add_argument(
        "--database-dir", type=Path,
        help="keep the seeded database here and reuse it when it holds the same stations",
    )  # fmt: skip
    parser.add_argument("--profile", type=Path, help="write a cProfile of the report here")
    args = parser.parse_args(list(argv))

    root = Path(tempfile.mkdtemp(prefix="aqm-bench-report-"))
    root.chmod(0o755)
    pg = PostgresInstance(args.database_dir or root / "pg", free_port())
    pg.start()
    try:
        migrate(pg.url())
        print(f"machine: {describe()}")
        if seeded_stations(pg.url()) != args.stations:
            if args.database_dir is not None and seeded_stations(pg.url()):
                raise SystemExit(f"--database-dir {args.database_dir}: seeded with a different "
                                 "station count; remove it or use another folder")
            seed(pg.url(), args.stations)
        out = root / "out"
        profiler = cProfile.Profile() if args.profile else None
        load = os.getloadavg()
        started = time.perf_counter()
        if profiler is not None:
            profiler.enable()
        files = build_annual_report(pg.url(user="aqm_reader"), YEAR, out, "Bắc Ninh",
                                    compare_years=COMPARE_YEARS)
        total = time.perf_counter() - started
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(args.profile)
        steps = ", ".join(f"{k} {v:.1f} s" for k, v in files.timings.items())
        size = files.docx.stat().st_size / 1e6
        verdict = "within" if total <= TARGET_S else "OVER"
        print(
            f"  report for {args.stations} stations: {total:.1f} s ({steps}); "
            f"DOCX {size:.1f} MB, {len(files.charts)} charts — {verdict} the "
            f"{TARGET_S:.0f}-s target",
            flush=True,
        )
        if args.keep:
            shutil.copytree(out, args.keep, dirs_exist_ok=True)
        if args.record:
            record(
                f"- {args.stations} stations: **{total:.1f} s** ({steps}); DOCX {size:.1f} MB, "
                f"{len(files.charts)} PNG charts. Machine: {describe()}; load average "
                f"{load[0]:.1f} (1 min) / {load[1]:.1f} (5 min) on its {os.cpu_count()} CPUs "
                "when the report started (the machine is shared)."
            )
    finally:
        pg.stop("fast" if args.database_dir else "immediate")
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1:])
