"""Benchmark: ``aqm gaps`` over one year of 5-minute data of 100 stations.

Run: ``.venv/bin/python -m bench.gaps [--stations N] [--days N] [--parameters N]``.

Starts a private TimescaleDB, registers the stations (every 5 minutes, PM2.5, PM10 and
NO2 by default) and generates their readings inside the database (untimed): every slot
of the year except ~0.3 % lost at random and, per station and month, one outage of 2–8
hours (all parameters) and one of 1–3 days of one parameter. Then, timed:

1. the whole command as an officer runs it — ``aqm gaps --from … --to … -o gaps.csv``
   in a new process as ``aqm_reader`` (start-up, catalogue, reading every measurement
   time, the finder, the table and the CSV);
2. the baseline in the same run: ``SELECT count(*)`` of the same readings by the same
   role — PostgreSQL merely scanning what ``aqm gaps`` has to read. The ratio says how
   much more than the bare scan the whole command costs.

The number of missing samples the command reports is checked against the generated data
(expected slots × parameters − readings, independent of the finder). The result is
appended to the ``## Gap detection`` section of docs/benchmarks.md unless
``--no-record``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import psycopg

from aqm.localservices import PostgresInstance, free_port
from bench.machine import describe
from bench.record import append_to_section
from storage.migrate import migrate

REPO_ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = REPO_ROOT / "docs" / "benchmarks.md"
SECTION = "## Gap detection"
FIRST_DAY = dt.date(2025, 1, 1)
ALL_PARAMETERS = ("pm25", "pm10", "no2", "o3", "so2", "co")

STATIONS_SQL = """
INSERT INTO stations (station_id, name, latitude, longitude, station_type, report_interval_s,
                      parameters, installed_on)
SELECT 'BN' || lpad(i::text, 3, '0'), format('Trạm %%s', i), 21.0 + i * 0.001, 106.0,
       'fixed_automatic', 300, %(parameters)s, '2024-06-01'
FROM generate_series(1, %(stations)s) AS i
"""

READINGS_SQL = """
INSERT INTO readings (station_id, parameter, ts, value, original_value, original_unit, status,
                      source_format, received_at)
SELECT s.station_id, p.parameter, t.ts, 20, 20, 'µg/m³', '00', 'aqm_json', t.ts
FROM stations AS s
CROSS JOIN unnest(%(parameters)s::text[]) AS p(parameter)
CROSS JOIN generate_series(%(start)s::timestamptz,
                           %(start)s::timestamptz + %(days)s * INTERVAL '1 day' - INTERVAL '5 minutes',
                           INTERVAL '5 minutes') AS t(ts)
WHERE random() >= 0.003
"""

# Per station and month: an outage of every parameter, and a longer one of one parameter;
# expanded to one row per lost parameter, so each deletes through the primary key.
OUTAGES_SQL = """
WITH months AS (
    SELECT s.station_id, m.month, random() AS a, random() AS a_len, random() AS b,
           random() AS b_len, random() AS b_pick
    FROM stations s
    CROSS JOIN generate_series(%(start)s::timestamptz,
                               %(start)s::timestamptz + (%(days)s - 1) * INTERVAL '1 day',
                               INTERVAL '1 month') AS m(month)
),
lost AS (
    SELECT m.station_id, p.parameter, m.month + m.a * INTERVAL '25 days' AS t0,
           m.month + m.a * INTERVAL '25 days' + (2 + m.a_len * 6) * INTERVAL '1 hour' AS t1
    FROM months m CROSS JOIN unnest(%(parameters)s::text[]) AS p(parameter)
    UNION ALL
    SELECT m.station_id,
           (%(parameters)s::text[])[1 + floor(m.b_pick * cardinality(%(parameters)s::text[]))::int],
           m.month + m.b * INTERVAL '25 days',
           m.month + m.b * INTERVAL '25 days' + (1 + m.b_len * 2) * INTERVAL '1 day'
    FROM months m
)
DELETE FROM readings r
USING lost o
WHERE r.station_id = o.station_id AND r.parameter = o.parameter
  AND r.ts >= o.t0 AND r.ts < o.t1
"""


def _section(lines: list[str]) -> None:
    append_to_section(SECTION, lines, BENCHMARKS)


def main(argv: Sequence[str] = ()) -> int:
    """Run the benchmark; ``argv`` as on the command line (``python -m bench`` passes none)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--stations", type=int, default=100)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--parameters", type=int, default=3, choices=range(1, 7))
    parser.add_argument("--no-record", action="store_true", help="do not write docs/benchmarks.md")
    args = parser.parse_args(list(argv))
    parameters = list(ALL_PARAMETERS[: args.parameters])

    root = Path(tempfile.mkdtemp(prefix="aqm-bench-gaps-"))
    root.chmod(0o755)
    pg = PostgresInstance(root / "pg", free_port())
    try:
        pg.start()
        migrate(pg.url())
        start = dt.datetime.combine(FIRST_DAY, dt.time(), dt.UTC) - dt.timedelta(hours=7)
        print(f"generating {args.stations} stations × {args.days} days of 5-minute "
              f"{', '.join(parameters)} …", flush=True)  # fmt: skip
        began = time.perf_counter()
        params = {"stations": args.stations, "parameters": parameters, "start": start,
                  "days": args.days}  # fmt: skip
        with psycopg.connect(pg.url(), autocommit=True) as conn:
            conn.execute(STATIONS_SQL, params)
            conn.execute("SELECT setseed(0.15)")
            # Bulk load without the primary key, then build it once (minutes faster);
            # the command reads through it as in production.
            conn.execute("ALTER TABLE readings DROP CONSTRAINT readings_pkey")
            conn.execute(READINGS_SQL, params)
            conn.execute("ALTER TABLE readings ADD PRIMARY KEY (station_id, parameter, ts)")
            conn.execute(OUTAGES_SQL, params)
            conn.execute("VACUUM ANALYZE readings")
            conn.execute("CHECKPOINT")
            row = conn.execute("SELECT count(*) FROM readings").fetchone()
        n_readings = int(row[0]) if row else 0
        slots = args.days * 288
        expected_missing = args.stations * len(parameters) * slots - n_readings
        print(
            f"{n_readings:,} readings in {time.perf_counter() - began:.0f} s; "
            f"{expected_missing:,} samples missing",
            flush=True,
        )

        reader = pg.url(user="aqm_reader")
        last_day = FIRST_DAY + dt.timedelta(days=args.days - 1)
        load_before = os.getloadavg()[0]
        # baseline: the bare scan of the same readings, twice (the first warms the cache
        # for both)
        with psycopg.connect(reader) as conn:
            conn.execute("SELECT count(*) FROM readings")
            began = time.perf_counter()
            conn.execute("SELECT count(*) FROM readings WHERE ts >= %s AND ts < %s",
                         (start, start + dt.timedelta(days=args.days)))  # fmt: skip
            scan_s = time.perf_counter() - began
        out = root / "gaps.csv"
        # as installed: with bytecode caches (a first, untimed --help writes them)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env.update(AQM_CONFIG="", AQM_DATABASE_URL=reader)
        subprocess.run([sys.executable, "-m", "aqm.cli", "gaps", "--help"], env=env,
                       capture_output=True, check=True)  # fmt: skip
        began = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "aqm.cli", "gaps", "--from", FIRST_DAY.isoformat(),
             "--to", last_day.isoformat(), "-o", str(out)],
            env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        command_s = time.perf_counter() - began
        if done.returncode != 0:
            print(done.stderr, file=sys.stderr)
            return 1
        summary = re.search(r"(\d+) stations?, ([\d,]+) samples missing", done.stdout)
        reported = int(summary.group(2).replace(",", "")) if summary else -1
        periods = sum(1 for _ in out.open(encoding="utf-8-sig")) - 1
        csv_kb = out.stat().st_size / 1024
    finally:
        pg.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)

    check = "matches" if reported == expected_missing else f"DIFFERS from {expected_missing:,}"
    lines = [
        f"### {dt.date.today().isoformat()} — {args.stations} stations × {args.days} days × "
        f"{len(parameters)} parameters every 5 minutes",
        "",
        f"- machine: {describe()}; load average before the run {load_before:.2f}",
        f"- input: {n_readings:,} readings; {expected_missing:,} samples missing (random "
        "losses, a 2–8 h outage and a 1–3 day loss of one parameter per station and month)",
        f"- `aqm gaps --from {FIRST_DAY} --to {last_day} -o gaps.csv` as aqm_reader, whole "
        f"command in a new process: **{command_s:.1f} s** "
        f"({n_readings / command_s:,.0f} readings/s); {periods:,} periods in a "
        f"{csv_kb:,.0f} KiB CSV; {reported:,} missing samples reported ({check} the data)",
        f"- baseline, same run: `SELECT count(*)` of the same readings as aqm_reader "
        f"{scan_s:.1f} s — the command costs **{command_s / scan_s:.1f}×** the bare scan",
    ]
    print("\n".join(lines))
    if not args.no_record:
        _section(lines)
    return 0 if reported == expected_missing else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
