"""Run benchmarks: ``python -m bench [NAME ...]`` (default: all). See docs/benchmarks.md."""

from __future__ import annotations

import importlib
import sys

BENCHMARKS = {
    "aqi": "bench.aqi_engine",
    "aqi-csv": "bench.aqi_csv",
    "ingest": "bench.ingest_throughput",
    "worker": "bench.worker_backfill",
    "report": "bench.report_annual",
    "broker": "bench.broker_crash",
    "gaps": "bench.gaps",
    "grafana": "bench.grafana_queries",
    "ftp": "bench.ftp_files",
    "qaqc": "bench.qaqc_checks",
    "cli": "bench.cli_startup",
    "rabbitmq": "bench.rabbitmq",
    "web": "bench.web",
    "sta": "bench.sta",
    "opendata": "bench.opendata",
}


def main(argv: list[str]) -> int:
    names = argv or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s) {unknown}; choose from {sorted(BENCHMARKS)}", file=sys.stderr)
        return 2
    for name in names:
        print(f"\n=== {name} ===", flush=True)
        module = importlib.import_module(BENCHMARKS[name])
        sys.argv = [BENCHMARKS[name]]  # each benchmark parses its own options
        module.main()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
