"""Benchmark: the automatic QA/QC checks, alone and inside the full backfill.

Run: ``.venv/bin/python -m bench.qaqc_checks [--stations N] [--days N] [--rounds N]
[--skip-backfill] [--baseline REV] [--no-record]``.

1. **Checks alone** — one year of 5-minute PM2.5, PM10 and NO2 for 100 stations
   (≈ 31.5 M readings, generated in memory: daily cycle, noise, 1 % status 02, a few
   spikes, stuck runs and PM2.5 > PM10 hours) through :func:`qaqc.rules.evaluate` on
   one core (numpy, one thread), best of ``--rounds``. Target ≥ 20 M readings/s. A
   single pass over the values (``np.sum``) in the same run gives the memory-bandwidth
   scale.
2. **Backfill side by side** — ``bench.worker_backfill --no-record`` (the same data as
   docs/benchmarks.md's "AQI worker backfill") run from a copy of ``--baseline``
   (default ``main``: the code before the checks, ``git archive``) and from this tree,
   alternately, ``--rounds`` times each. Target: the full backfill with the checks at
   most 1.3 × the baseline's.

Results are appended to the ``## QA/QC checks`` section of docs/benchmarks.md unless
``--no-record``.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import re
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bench.record import append_to_section
from qaqc.rules import FLAT, PM, SPIKE, evaluate, load_rules

REPO_ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = REPO_ROOT / "docs" / "benchmarks.md"
SECTION = "## QA/QC checks"
TARGET_READINGS_PER_S = 20e6
TARGET_RATIO = 1.3
PARAMETERS = ["no2", "pm10", "pm25"]
STEP_US = 300_000_000


def synthetic_year(stations: int, days: int, seed: int = 42) -> dict[str, np.ndarray]:
    """Readings sorted by station, parameter and time, with faults sprinkled in."""
    rng = np.random.default_rng(seed)
    per_series = days * 288
    t = np.arange(per_series, dtype=np.int64)
    hour_of_day = (t // 12) % 24
    cycle = 1.0 + 0.3 * np.sin(2 * np.pi * hour_of_day / 24)
    n = stations * len(PARAMETERS) * per_series
    station = np.repeat(np.arange(stations, dtype=np.int32), len(PARAMETERS) * per_series)
    parameter = np.tile(np.repeat(np.arange(len(PARAMETERS), dtype=np.int8), per_series), stations)
    ts = np.tile(1_735_664_400_000_000 + t * STEP_US, stations * len(PARAMETERS))
    level = np.array([40.0, 70.0, 35.0])[parameter]
    value = np.round(level * np.tile(cycle, stations * len(PARAMETERS))
                     * rng.uniform(0.6, 1.4, n), 1)  # fmt: skip
    status = np.where(rng.random(n) < 0.01, 2, 0).astype(np.int8)
    spikes = rng.integers(0, n, n // 20_000)
    value[spikes] += 900.0
    for start in rng.integers(0, n - 20, n // 50_000):  # stuck instruments
        value[start : start + 15] = value[start]
    pm25 = parameter == PARAMETERS.index("pm25")
    swapped = pm25 & (rng.random(n) < 0.002)  # a PM2.5 inlet without its cyclone
    value[swapped] *= 4.0
    return {"station": station, "parameter": parameter, "ts": ts, "value": value,
            "status": status}  # fmt: skip


def warm_up() -> None:
    """Compile (or load from the disk cache) the kernel for the dtypes of the timed calls
    and of the worker (int64 codes), so no timed run pays for compilation."""
    small = synthetic_year(2, 60)
    rules = load_rules()
    for convert in (False, True):
        columns = {k: (v.astype(np.int64) if convert and v.dtype.kind == "i" else v)
                   for k, v in small.items()}  # fmt: skip
        evaluate(rules, PARAMETERS, columns["station"], columns["parameter"], columns["ts"],
                 columns["value"], columns["status"], np.zeros(len(columns["ts"]), np.bool_))  # fmt: skip
        evaluate(rules, PARAMETERS, columns["station"], columns["parameter"], columns["ts"],
                 columns["value"], columns["status"])  # fmt: skip


def checks_alone(stations: int, days: int, rounds: int) -> tuple[int, float, float, str]:
    warm_up()
    data = synthetic_year(stations, days)
    rules = load_rules()
    n = len(data["value"])
    best = float("inf")
    flags = np.empty(0, np.uint16)
    for _ in range(rounds):
        began = time.perf_counter()
        flags = evaluate(rules, PARAMETERS, data["station"], data["parameter"], data["ts"],
                         data["value"], data["status"])  # fmt: skip
        best = min(best, time.perf_counter() - began)
    began = time.perf_counter()
    for _ in range(rounds):
        float(np.sum(data["value"]))
    one_pass = (time.perf_counter() - began) / rounds
    summary = (f"{int(np.count_nonzero(flags)):,} readings flagged "
               f"({int(np.count_nonzero(flags & SPIKE)):,} spike, "
               f"{int(np.count_nonzero(flags & FLAT)):,} flat line, "
               f"{int(np.count_nonzero(flags & PM)):,} PM2.5 > PM10)")  # fmt: skip
    return n, best, one_pass, summary


_FULL = re.compile(
    r"full backfill \(hourly means recomputed from the readings first\): \*\*([0-9.]+) s\*\*"
)


def _backfill_seconds(tree: Path, extra: Sequence[str]) -> float:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.worker_backfill", "--no-record", *extra],
        cwd=tree, capture_output=True, text=True, check=False,
        env={**os.environ, "PYTHONPATH": str(tree)},
    )  # fmt: skip
    found = _FULL.search(proc.stdout)
    if proc.returncode != 0 or not found:
        raise RuntimeError(f"backfill benchmark in {tree} failed:\n{proc.stdout}\n{proc.stderr}")
    return float(found.group(1))


def backfill_side_by_side(
    baseline: str, rounds: int, extra: Sequence[str]
) -> tuple[list[float], list[float], str]:
    commit = subprocess.run(["git", "rev-parse", "--short", baseline], cwd=REPO_ROOT,
                            capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    archive = subprocess.run(["git", "archive", "--format=tar", commit], cwd=REPO_ROOT,
                             capture_output=True, check=True).stdout  # fmt: skip
    before: list[float] = []
    after: list[float] = []
    with tempfile.TemporaryDirectory(prefix="aqm-baseline-") as tmp:
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(tmp, filter="data")
        for i in range(rounds):
            print(f"round {i + 1}: baseline {commit} …", flush=True)
            before.append(_backfill_seconds(Path(tmp), extra))
            print(f"round {i + 1}: this tree …", flush=True)
            after.append(_backfill_seconds(REPO_ROOT, extra))
            print(f"  baseline {before[-1]:.1f} s, with checks {after[-1]:.1f} s", flush=True)
    return before, after, commit


def _record(lines: list[str]) -> None:
    append_to_section(SECTION, lines, BENCHMARKS)


def main(argv: Sequence[str] = ()) -> int:
    """Run the benchmark; ``argv`` as on the command line (``python -m bench`` passes none)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--stations", type=int, default=100)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--baseline", default="main", help="git revision without the checks")
    parser.add_argument("--skip-backfill", action="store_true")
    parser.add_argument("--backfill-args", default="", help="passed to bench.worker_backfill")
    parser.add_argument("--no-record", action="store_true", help="do not write docs/benchmarks.md")
    args = parser.parse_args(list(argv))

    load = os.getloadavg()[0]
    n, best, one_pass, flagged = checks_alone(args.stations, args.days, args.rounds)
    rate = n / best
    lines = [
        f"### {time.strftime('%Y-%m-%d')} — {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, numpy {np.__version__}, load average before "
        f"{load:.2f}",
        "",
        f"- checks alone: {n:,} readings ({args.stations} stations × {args.days} days × 288 × "
        f"PM2.5, PM10, NO2) in **{best:.2f} s** (best of {args.rounds}) = "
        f"**{rate / 1e6:.1f} M readings/s** on one core "
        f"({'meets' if rate >= TARGET_READINGS_PER_S else 'misses'} the 20 M/s target); "
        f"one pass over the values takes {one_pass:.3f} s ({best / one_pass:.0f} × that); "
        f"{flagged}",
    ]
    print("\n".join(lines), flush=True)
    if not args.skip_backfill:
        before, after, commit = backfill_side_by_side(
            args.baseline, args.rounds, args.backfill_args.split()
        )
        ratio = min(after) / min(before)
        lines.append(
            f"- full backfill (bench.worker_backfill, same data), alternately: baseline "
            f"{commit} without the checks {', '.join(f'{s:.1f}' for s in before)} s; with the "
            f"checks {', '.join(f'{s:.1f}' for s in after)} s; best against best "
            f"**{ratio:.2f} ×** ({'within' if ratio <= TARGET_RATIO else 'above'} the 1.3 × "
            "target)"
        )
        print(lines[-1])
    if not args.no_record:
        _record(lines)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
