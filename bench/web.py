"""Benchmark: ``aqm web`` under 500 requests/s for 30 s, measured with wrk.

Run: ``.venv/bin/python -m bench.web [--stations N] [--rate R] [--duration S]``.

Starts a private TimescaleDB, registers the stations (automatic, publishing VN_AQI) and
writes 48 hours of hourly means and hourly VN_AQI and 30 days of daily VN_AQI for each
(untimed), then starts ``aqm web`` as installed (a new process, reading as aqm_reader,
default cache and time limits, ``--workers`` processes (default 2, one per core of the
reference machine); only the rate limit per client is lifted, since wrk is one client). wrk (Debian's package) then loads, each for ``--duration`` seconds at about
``--rate`` requests/s (30 connections, each pausing between requests; wrk itself has no
fixed-rate mode, so the rate reached is recorded):

1. baseline: a static file of the same server (``/static/style.css``), through the same
   middleware — what the server costs before any document;
2. the current-AQI document ``/api/v1/current``;
3. a station's 24-hour series ``/api/v1/stations/<id>/hourly?hours=24``, a random
   station per request.

Each path is loaded for 5 untimed seconds before (a running service has its files open
and its documents cached in every process; expired documents are refreshed in the
background). p50/p99 latency
and errors (socket errors and non-2xx answers) of each are appended to
the ``## Public web service`` section of docs/benchmarks.md unless ``--no-record``.
Targets: p99 ≤ 50 ms and no error.
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
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import psycopg

from aqm.localservices import PostgresInstance, free_port
from bench.machine import describe, shared_note
from bench.record import append_to_section
from storage.migrate import migrate

SECTION = "## Public web service"
CONNECTIONS = 30
P99_TARGET_MS = 50.0

SEED_SQL = """
INSERT INTO stations (station_id, name, latitude, longitude, station_type, public_aqi,
                      parameters)
SELECT 'BN' || lpad(i::text, 3, '0'), format('Trạm %%s', i), 21.0 + i * 0.01,
       106.0 + i * 0.01, 'fixed_automatic', true, ARRAY['pm25', 'pm10', 'o3', 'no2']
FROM generate_series(1, %(stations)s) AS i;

INSERT INTO hourly (station_id, parameter, hour, mean, n_valid, n_flagged, n_expected,
                    completeness, valid, min_completeness)
SELECT s.station_id, p, h, 20 + random() * 60, 12, 0, 12, 1, true, 0.75
FROM stations s, unnest(ARRAY['pm25', 'pm10', 'o3', 'no2']) AS p,
     generate_series(date_trunc('hour', now()) - interval '48 hours',
                     date_trunc('hour', now()) - interval '1 hour', interval '1 hour') AS h;

INSERT INTO aqi_hourly (station_id, standard, hour, aqi, category, dominant, sub_pm25, sub_o3,
                        method_version)
SELECT s.station_id, 'vn_1459_2019', h, a, CASE WHEN a <= 50 THEN 1 WHEN a <= 100 THEN 2
       WHEN a <= 150 THEN 3 ELSE 4 END, 'pm25', a, a / 2, 'bench'
FROM stations s,
     generate_series(date_trunc('hour', now()) - interval '48 hours',
                     date_trunc('hour', now()) - interval '1 hour', interval '1 hour') AS h,
     LATERAL (SELECT (20 + random() * 150)::int AS a) v;

INSERT INTO aqi_daily (station_id, standard, day, aqi, category, dominant, method_version)
SELECT s.station_id, 'vn_1459_2019', d::date, 80, 2, 'pm25', 'bench'
FROM stations s, generate_series(now()::date - 30, now()::date, interval '1 day') AS d;
"""

RANDOM_STATION_LUA = """
math.randomseed(7)
request = function()
  local id = string.format("BN%%03d", math.random(1, %(stations)d))
  return wrk.format("GET", "/api/v1/stations/" .. id .. "/hourly?hours=24")
end
delay = function() return %(delay_ms)d end
"""
PAUSE_LUA = "delay = function() return %(delay_ms)d end\n"


@dataclass(frozen=True)
class Load:
    name: str
    path: str
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int
    bytes_per_request: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def _bytes(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)([KMG]?B)", text).groups()  # type: ignore[union-attr]
    return float(number) * {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3}[unit]


def parse_wrk(name: str, path: str, output: str) -> Load:
    """The numbers of ``wrk --latency``'s report."""
    done = re.search(r"(\d+) requests in ([\d.]+)(\w+), ([\d.]+\w?B) read", output)
    if done is None:
        raise RuntimeError(f"wrk printed no summary:\n{output}")
    seconds = _ms(done[2] + done[3]) / 1000.0
    p50 = re.search(r"^\s+50%\s+([\d.]+\w+)", output, re.M)
    p99 = re.search(r"^\s+99%\s+([\d.]+\w+)", output, re.M)
    socket = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = (sum(int(g) for g in socket.groups()) if socket else 0) + (
        int(non2xx[1]) if non2xx else 0
    )
    requests = int(done[1])
    return Load(
        name, path, requests, seconds, _ms(p50[1]) if p50 else float("nan"),
        _ms(p99[1]) if p99 else float("nan"), errors, _bytes(done[4]) / max(requests, 1),
    )  # fmt: skip


def run_wrk(base: str, name: str, path: str, script: str, duration: int, root: Path) -> Load:
    lua = root / f"{name}.lua"
    lua.write_text(script)
    out = subprocess.run(
        ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{duration}s", "--latency", "--timeout", "5s",
         "-s", str(lua), base + path],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return parse_wrk(name, path, out.stdout)


def _wait(url: str, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"aqm web exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"aqm web did not answer {url} within {timeout:.0f} s")


def main(argv: Sequence[str] = ()) -> int:
    """Run the benchmark; ``argv`` as on the command line (``python -m bench`` passes none)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--stations", type=int, default=30)
    parser.add_argument("--rate", type=int, default=500, help="requests/s to aim at")
    parser.add_argument("--duration", type=int, default=30, help="seconds per load")
    parser.add_argument("--workers", type=int, default=2, help="AQM_WEB_WORKERS (processes)")
    parser.add_argument("--no-record", action="store_true", help="do not write docs/benchmarks.md")
    args = parser.parse_args(list(argv))
    if shutil.which("wrk") is None:
        print("wrk is not installed: run scripts/install-services.sh", file=sys.stderr)
        return 2
    # each connection pauses so that CONNECTIONS of them make about --rate requests/s
    # (the pause plus a typical answer of a few ms)
    delay_ms = max(int(1000 * CONNECTIONS / args.rate) - 4, 0)

    root = Path(tempfile.mkdtemp(prefix="aqm-bench-web-"))
    root.chmod(0o755)
    pg = PostgresInstance(root / "pg", free_port())
    web: subprocess.Popen[bytes] | None = None
    try:
        pg.start()
        migrate(pg.url())
        with psycopg.connect(pg.url(), autocommit=True) as conn:
            for statement in SEED_SQL.split(";\n\n"):
                conn.execute(statement, {"stations": args.stations})
            conn.execute("ANALYZE")
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("AQM_")}
        env.update(
            AQM_CONFIG="", AQM_WEB_DATABASE_URL=pg.url(user="aqm_reader"),
            AQM_WEB_PORT=str(port), AQM_WEB_RATE_PER_MINUTE="100000000",
            AQM_WEB_WORKERS=str(args.workers),
        )  # fmt: skip
        log = (root / "web.log").open("wb")
        web = subprocess.Popen(
            [sys.executable, "-m", "aqm", "web"], env=env, stdout=log, stderr=log
        )
        base = f"http://127.0.0.1:{port}"
        _wait(base + "/api/v1/current", web)
        # warm, as a running service is: the first request of each path opens files and
        # fills the document cache (later expiries are refreshed in the background)
        warm = ["/static/style.css", "/api/v1/current"] + [
            f"/api/v1/stations/BN{i:03d}/hourly?hours=24" for i in range(1, args.stations + 1)
        ]
        for path in warm:
            with urllib.request.urlopen(base + path, timeout=30):
                pass
        pause = PAUSE_LUA % {"delay_ms": delay_ms}
        randomly = RANDOM_STATION_LUA % {"stations": args.stations, "delay_ms": delay_ms}
        # each process has its own cache: a few untimed seconds of the same loads reach
        # every process on every path
        for name, path, script in (("warm-current", "/api/v1/current", pause),
                                   ("warm-series", "/", randomly)):
            run_wrk(base, name, path, script, 5, root)
        load_before = os.getloadavg()[0]
        loads = [
            run_wrk(base, "baseline", "/static/style.css", pause, args.duration, root),
            run_wrk(base, "current", "/api/v1/current", pause, args.duration, root),
            run_wrk(
                base, "series", "/api/v1/stations/<random>/hourly?hours=24",
                randomly, args.duration, root,
            ),
        ]  # fmt: skip
    finally:
        if web is not None:
            web.terminate()
            web.wait(10)
        pg.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)

    baseline = loads[0]
    names = {
        "baseline": "baseline: a static file (`/static/style.css`) of the same server",
        "current": "current-AQI document `/api/v1/current`",
        "series": "a station's 24-hour series (a random station per request)",
    }
    lines = [
        f"### {dt.date.today().isoformat()} — {args.stations} stations, aiming at "
        f"{args.rate} requests/s for {args.duration} s each (wrk, {CONNECTIONS} connections), "
        f"AQM_WEB_WORKERS={args.workers}",
        "",
        f"- machine: {describe()}; load average before the run {load_before:.2f}"
        + shared_note(load_before),
    ]
    for load in loads:
        ratio = "" if load is baseline else f"; p99 {load.p99_ms / baseline.p99_ms:.1f}× baseline"
        lines.append(
            f"- {names[load.name]}: {load.rate:,.0f} requests/s, "
            f"{load.bytes_per_request / 1024:,.1f} KiB each; p50 {load.p50_ms:.1f} ms, "
            f"**p99 {load.p99_ms:.1f} ms**; **{load.errors} errors**{ratio}"
        )
    met = all(x.p99_ms <= P99_TARGET_MS and x.errors == 0 for x in loads[1:])
    lines.append(
        f"- target p99 ≤ {P99_TARGET_MS:.0f} ms with no error: {'met' if met else 'NOT met'}"
    )
    print("\n".join(lines))
    if not args.no_record:
        append_to_section(SECTION, lines)
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
