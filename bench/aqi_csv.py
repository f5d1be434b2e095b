"""Benchmark: ``aqm aqi compute`` on a year of a 100-station network, beside ``csv.reader``.

Run: ``.venv/bin/python -m bench.aqi_csv [--stations N] [--rounds N] [--no-record]``.

The input is one year (2024, 8,784 hours) of hourly PM2.5, PM10 and NO2 for 100 stations
with 3 % of the rows left out at random (≈ 2.55 M rows, ≈ 107 MB), written once to
``.aqm/bench/aqi_csv/`` and reused. Each round runs, as child processes one after the
other, in alternating order:

- the baseline: one ``csv.reader`` pass over the input (rows read and dropped);
- ``aqm aqi compute --standard vn --period hour INPUT -o OUTPUT`` and the same with
  ``--period day``: the whole command (start-up, read, check, compute, write).

Times are wall clock; peak memory is the child's own ``ru_maxrss`` (``os.wait4``).
Targets: the command ≤ 1.0 × the ``csv.reader`` pass; peak memory ≤ 3 × the input file's
size. Medians of ``--rounds`` are appended to the ``## aqm aqi compute (CSV)`` section of
docs/benchmarks.md unless ``--no-record``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from bench.machine import describe
from bench.record import append_to_section

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / ".aqm" / "bench" / "aqi_csv"
SECTION = "## aqm aqi compute (CSV)"
SEED = 20240101
HOURS = 8784  # 2024 is a leap year
START_UTC = 1_704_042_000  # 2024-01-01T00:00:00+07:00
MISSING_SHARE = 0.03
LEVELS = {"pm25": 35.0, "pm10": 60.0, "no2": 30.0}
TARGET_RATIO = 1.0
TARGET_MEMORY = 3.0
CSV_READER_PASS = (
    "import csv, sys\n"
    "with open(sys.argv[1], encoding='utf-8', newline='') as f:\n"
    "    for _ in csv.reader(f):\n"
    "        pass\n"
)


def make_input(path: Path, stations: int) -> int:
    """Write the input CSV (sorted by time, station, parameter); return its row count."""
    rng = np.random.default_rng(SEED)
    hour = np.arange(HOURS)
    labels = [
        time.strftime("%Y-%m-%dT%H:00:00+07:00", time.gmtime(START_UTC + 7 * 3600 + 3600 * h))
        for h in hour.tolist()
    ]
    names = [f"BN{s:03d}" for s in range(1, stations + 1)]
    cycle = 1.0 + 0.4 * np.sin(2 * np.pi * (hour % 24) / 24)
    values = {
        p: np.round(level * cycle[:, None] * rng.lognormal(0.0, 0.5, (HOURS, stations)), 1)
        for p, level in LEVELS.items()
    }
    keep = rng.random((HOURS, stations, len(LEVELS))) >= MISSING_SHARE
    rows = 0
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8", newline="") as out:
        out.write("station_id,time,parameter,value\n")
        for h in range(HOURS):
            lines = []
            for s, name in enumerate(names):
                for p, parameter in enumerate(LEVELS):
                    if keep[h, s, p]:
                        lines.append(f"{name},{labels[h]},{parameter},{values[parameter][h, s]}\n")
            rows += len(lines)
            out.write("".join(lines))
    tmp.replace(path)
    return rows


def run_child(command: list[str]) -> tuple[float, int]:
    """Wall time (s) and peak resident memory (bytes) of one child process."""
    began = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - began
    process.returncode = os.waitstatus_to_exitcode(status)
    stderr = process.stderr.read().decode() if process.stderr else ""
    if process.returncode:
        raise RuntimeError(f"{command} exited {process.returncode}: {stderr}")
    return elapsed, usage.ru_maxrss * 1024  # kilobytes on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stations", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()

    WORK.mkdir(parents=True, exist_ok=True)
    source = WORK / f"input-{args.stations}.csv"
    if not source.exists():
        print(f"writing {source} …", flush=True)
        make_input(source, args.stations)
    size = source.stat().st_size
    with source.open("rb") as f:
        n_rows = sum(1 for _ in f) - 1
    aqm = [sys.executable, "-c", "import sys; from aqm.cli import main; sys.exit(main())"]
    compute = [*aqm, "aqi", "compute", "--standard", "vn", str(source), "--period"]
    commands = {
        "csv.reader pass": [sys.executable, "-c", CSV_READER_PASS, str(source)],
        "hour": [*compute, "hour", "-o", str(WORK / "hour.csv")],
        "day": [*compute, "day", "-o", str(WORK / "day.csv")],
        "aqm --help (start-up)": [*aqm, "--help"],
    }
    for command in commands.values():  # warm-up: page cache, bytecode, kernels
        run_child(command)
    seconds: dict[str, list[float]] = {name: [] for name in commands}
    memory: dict[str, list[int]] = {name: [] for name in commands}
    for round_ in range(args.rounds):
        order = list(commands) if round_ % 2 == 0 else list(commands)[::-1]
        for name in order:
            elapsed, peak = run_child(commands[name])
            seconds[name].append(elapsed)
            memory[name].append(peak)
    baseline = statistics.median(seconds["csv.reader pass"])
    lines = [
        f"### {describe()}",
        "",
        f"Input: {n_rows:,} rows ({args.stations} stations × 8,784 hours × PM2.5, PM10, NO2, "
        f"{MISSING_SHARE:.0%} left out), {size / 1e6:.0f} MB. Medians of {args.rounds} "
        "rounds, each a child process; peak memory is the child's ru_maxrss.",
        "",
        "| run | time | × csv.reader pass | peak memory | × input size |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name in commands:
        t = statistics.median(seconds[name])
        m = statistics.median(memory[name])
        label = (
            name
            if name in ("csv.reader pass", "aqm --help (start-up)")
            else (f"`aqm aqi compute --period {name}`")
        )
        lines.append(
            f"| {label} | {t:.2f} s ({min(seconds[name]):.2f}–{max(seconds[name]):.2f}) "
            f"| {t / baseline:.2f}× | {m / 1e6:.0f} MB | {m / size:.2f}× |"
        )
    verdicts = []
    for name in ("hour", "day"):
        ratio = statistics.median(seconds[name]) / baseline
        mem = statistics.median(memory[name]) / size
        met = ratio <= TARGET_RATIO and mem <= TARGET_MEMORY
        verdicts.append(
            f"--period {name}: {ratio:.2f}× time, {mem:.2f}× memory: {'met' if met else 'not met'}"
        )
    lines += [
        "",
        f"Targets ≤ {TARGET_RATIO:.1f}× the csv.reader pass, ≤ {TARGET_MEMORY:.0f}× the input "
        f"size: {'; '.join(verdicts)}.",
    ]
    print("\n".join(lines))
    if not args.no_record:
        append_to_section(SECTION, lines)


if __name__ == "__main__":
    main()
