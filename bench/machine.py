"""A one-line description of the machine a benchmark ran on, for docs/benchmarks.md."""

from __future__ import annotations

import os
import platform
from datetime import UTC, datetime
from pathlib import Path


def describe() -> str:
    cpu = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        kb = int(meminfo.read_text().split()[1])
        mem = f", {kb / 1024 / 1024:.0f} GiB RAM"
    os_name = platform.platform(terse=True)
    return (
        f"{cpu}, {os.cpu_count()} cores{mem}, {os_name}, Python {platform.python_version()}, "
        f"{datetime.now(UTC):%Y-%m-%d}"
    )


def shared_note(load_before: float) -> str:
    """`` (shared with other work …)`` when the machine was busy as the run began, else ``""``.

    Only the load before counts: the load after a run includes the benchmark's own work.
    """
    cores = os.cpu_count() or 1
    if load_before > cores / 2:
        return " (shared with other work: the times include waiting for a CPU)"
    return ""
