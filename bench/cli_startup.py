"""How long the ``aqm`` command takes to show its help, against bare Python.

Each command's dependencies (numpy, psycopg, pydantic, matplotlib…) load when the
command runs, so ``aqm --help`` and ``aqm <command> --help`` cost little more than
starting Python. Target: each at most 0.3 s. Every case runs as a fresh process, the
cases interleaved round by round so that load on the machine falls on all of them
alike; the median of the rounds is reported, with its ratio to ``python -c pass``.
Byte code is written once before timing, as an installed wheel has it.

    python -m bench.cli_startup [--rounds N] [--no-record]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from bench.machine import describe
from bench.record import BENCHMARKS, append_to_section

SECTION = "## Command-line start-up (`aqm --help`)"
TARGET_S = 0.3
AQM = [sys.executable, "-m", "aqm"]
CASES: dict[str, list[str]] = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "aqm --help": [*AQM, "--help"],
    "aqm aqi compute --help": [*AQM, "aqi", "compute", "--help"],
    "aqm report annual --help": [*AQM, "report", "annual", "--help"],
    "aqm ingest --help": [*AQM, "ingest", "--help"],
    "aqm grafana generate --help": [*AQM, "grafana", "generate", "--help"],
}
BASELINE = "python -c pass"


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # an installed wheel has its byte code
    return env


def _once(command: Sequence[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL,
                   cwd=Path(__file__).resolve().parents[1])  # fmt: skip
    return time.perf_counter() - started


def measure(rounds: int) -> dict[str, float]:
    """Median wall time per case over ``rounds`` interleaved rounds."""
    env = _environment()
    for command in CASES.values():
        _once(command, env)  # writes byte code; warms the page cache
    times: dict[str, list[float]] = {name: [] for name in CASES}
    for _ in range(rounds):
        for name, command in CASES.items():
            times[name].append(_once(command, env))
    return {name: statistics.median(values) for name, values in times.items()}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--no-record", action="store_true", help="print only")
    args = parser.parse_args(argv)
    load_before = os.getloadavg()[0]
    medians = measure(args.rounds)
    base = medians[BASELINE]
    lines = [f"- machine: {describe()}; load average before the run {load_before:.2f}"
             f"{' (machine shared with parallel work)' if load_before > 1 else ''}",
             f"- {args.rounds} rounds, median wall time of a fresh process each:"]  # fmt: skip
    for name, seconds in medians.items():
        verdict = "" if name == BASELINE else (
            f", {'within' if seconds <= TARGET_S else 'over'} the {TARGET_S} s target"
        )
        lines.append(f"  - `{name}`: {seconds:.3f} s ({seconds / base:.1f}× bare Python){verdict}")
    print("\n".join(lines))
    if not args.no_record:
        append_to_section(SECTION, lines, BENCHMARKS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
