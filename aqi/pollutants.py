"""Pollutant keys, their display names and the order used everywhere in aqm.

The order of :data:`POLLUTANTS` is the tie order for the dominant pollutant
(project decision, docs/aqi-engine.md): PM2.5, PM10, O3, NO2, SO2, CO.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import numpy as np
import numpy.typing as npt

POLLUTANTS: Final[tuple[str, ...]] = ("pm25", "pm10", "o3", "no2", "so2", "co")
"""Pollutant keys accepted by the engine, in dominant-pollutant tie order."""

PM_POLLUTANTS: Final[tuple[str, ...]] = ("pm25", "pm10")
"""Particulate pollutants; an AQI needs a sub-index of at least one of them."""

GAS_POLLUTANTS: Final[tuple[str, ...]] = ("o3", "no2", "so2", "co")

DISPLAY_NAMES: Final[dict[str, str]] = {
    "pm25": "PM2.5",
    "pm10": "PM10",
    "o3": "O3",
    "no2": "NO2",
    "so2": "SO2",
    "co": "CO",
}
"""Labels for tables, dashboards and reports."""


def check_pollutant(pollutant: str) -> str:
    """Return ``pollutant`` if it is a known key, else raise ``ValueError``."""
    if pollutant not in POLLUTANTS:
        expected = ", ".join(POLLUTANTS)
        raise ValueError(f"unknown pollutant {pollutant!r}; expected one of {expected}")
    return pollutant


def station_hour_arrays(
    conc: Mapping[str, npt.ArrayLike],
) -> tuple[dict[str, npt.NDArray[np.float64]], bool]:
    """Validate engine input: known keys, float64, one ``stations × hours`` shape.

    A 1-D array is one station; the flag returned says so, so results can be returned
    1-D as well. Arrays are not copied when already float64.
    """
    if not conc:
        raise ValueError("no pollutant given")
    arrays: dict[str, npt.NDArray[np.float64]] = {}
    for key, value in conc.items():
        arrays[check_pollutant(key)] = np.asarray(value, dtype=np.float64)
    shapes = {a.shape for a in arrays.values()}
    if len(shapes) != 1:
        raise ValueError(f"all pollutants need the same stations × hours shape, got {shapes}")
    one_station = next(iter(shapes)) and len(next(iter(shapes))) == 1
    if one_station:
        arrays = {key: a[np.newaxis, :] for key, a in arrays.items()}
    if next(iter(arrays.values())).ndim != 2:
        raise ValueError("concentrations must be 1-D (one station) or 2-D (stations × hours)")
    return arrays, bool(one_station)
