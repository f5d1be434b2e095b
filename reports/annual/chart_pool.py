"""Render the report's charts in worker processes, one per CPU.

A chart is CPU-bound Python (matplotlib drawing, PNG encoding) and a province report
has two hundred of them, so they are spread over the machine's CPUs. The workers are
forked after the reusable figures are built (:mod:`reports.annual.charts`): each child
starts with the laid-out figures and only draws and writes its share, and a chart comes
out byte for byte as it would in one process. Where ``fork`` is not available, or with
one CPU, the charts are drawn in this process.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

Job = Callable[[], Path]

_JOBS: list[Job] = []
"""The jobs of the running :func:`render`, inherited by the forked workers."""


def cpu_count() -> int:
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _run(index: int) -> tuple[int, Path]:
    return index, _JOBS[index]()


def render(
    jobs: Sequence[Job], workers: int | None = None,
    on_done: Callable[[Path], None] | None = None,
) -> list[Path]:
    """Run every job (each writes one chart and returns its path); the paths in job order.

    ``workers``: processes to use (default: one per CPU); ``on_done`` is called in this
    process as each chart is written.
    """
    count = min(workers or cpu_count(), len(jobs))
    if count <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        paths = []
        for job in jobs:
            paths.append(job())
            if on_done is not None:
                on_done(paths[-1])
        return paths
    _JOBS[:] = jobs
    try:
        done: dict[int, Path] = {}
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=count, mp_context=context) as pool:
            futures = [pool.submit(_run, i) for i in range(len(jobs))]
            for future in as_completed(futures):
                index, path = future.result()
                done[index] = path
                if on_done is not None:
                    on_done(path)
        return [done[i] for i in range(len(jobs))]
    finally:
        _JOBS.clear()
