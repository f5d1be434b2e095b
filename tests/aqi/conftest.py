"""Shared helpers for the AQI engine tests."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

StateAir = tuple[np.ndarray, np.ndarray, np.ndarray]


def load_stateair(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hourly raw PM2.5 (NaN = absent), published NowCast and AQI (NaN = none), aligned.

    Labels are hour-ending local times. The US-DST artefact (02:00 missing, 03:00 twice)
    is undone by giving the first duplicate the hour before (SOURCES.md §1).
    """
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    stamps = [
        dt.datetime(int(r["Year"]), int(r["Month"]), int(r["Day"]))
        + dt.timedelta(hours=int(r["Hour"]))
        for r in rows
    ]
    for i in range(len(stamps) - 1):
        if stamps[i] == stamps[i + 1]:
            stamps[i] -= dt.timedelta(hours=1)
    start = stamps[0]
    index = np.array([(s - start) // dt.timedelta(hours=1) for s in stamps])
    n = index.max() + 1
    raw, published_nowcast, published_aqi = (np.full(n, np.nan) for _ in range(3))
    for i, r in zip(index, rows, strict=True):
        value = float(r["Raw Conc."])
        if r["QC Name"] in ("Valid", "Suspect") and value != -999:
            raw[i] = value
        if float(r["NowCast Conc."]) != -999:
            published_nowcast[i] = float(r["NowCast Conc."])
        if int(r["AQI"]) != -999:
            published_aqi[i] = int(r["AQI"])
    return raw, published_nowcast, published_aqi


@pytest.fixture
def stateair(shared_data: Path) -> Callable[[str], StateAir]:
    """Load a StateAir file of ../shared/data by name (see :func:`load_stateair`)."""
    return lambda name: load_stateair(shared_data / name)
