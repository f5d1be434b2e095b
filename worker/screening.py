"""From screened readings to hourly means, and the periods officers marked (pure numpy).

The worker reads a batch's readings, flags them with :func:`qaqc.rules.evaluate` and
aggregates them here. An hourly mean is the mean of the hour's readings that no rule
flagged, in time order (summed in reading order, so a recomputation is bit-identical).
Readings an officer invalidated count as never measured: a station-hour with nothing
else has no hourly row at all, so the tables converge to what they would hold had the
period never been measured. Every other removal is counted per rule, so completeness
can be explained (``hourly.n_flagged``: status 01/02, as before; ``n_qc_*``: the
automatic rules and the manual invalidations).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from qaqc.rules import RULE_CODES, US_PER_HOUR, first_rule

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

REMOVAL_COLUMNS: Final = {
    "manual": "n_qc_manual",
    "out_of_range": "n_qc_range",
    "negative": "n_qc_negative",
    "flat_line": "n_qc_flat_line",
    "spike": "n_qc_spike",
    "pm25_gt_pm10": "n_qc_pm_ratio",
}
"""Hourly columns counting the readings each rule removed (status 01/02: ``n_flagged``)."""

LEVEL_PROVISIONAL: Final = 1
LEVEL_VERIFIED: Final = 2
LEVELS: Final = ("provisional", "verified")  # level code k → LEVELS[k - 1]


@dataclass(frozen=True)
class Period:
    """A manual action's period: ``[start_us, end_us)`` of one station (all parameters if
    ``parameter`` is −1); ``invalid`` says whether it invalidates or restores."""

    station: int
    parameter: int
    start_us: int
    end_us: int
    invalid: bool = True


def manual_mask(
    periods: Sequence[Period], station: IntArray, parameter: IntArray, ts_us: IntArray
) -> BoolArray:
    """Readings inside a period whose last word (latest action covering them) invalidates.

    ``periods`` in the order the actions were taken; readings sorted by station.
    """
    out = np.zeros(len(ts_us), np.bool_)
    for p in periods:
        lo, hi = np.searchsorted(station, [p.station, p.station + 1])
        if lo == hi:
            continue
        inside = (ts_us[lo:hi] >= p.start_us) & (ts_us[lo:hi] < p.end_us)
        if p.parameter >= 0:
            inside &= parameter[lo:hi] == p.parameter
        out[lo:hi][inside] = p.invalid
    return out


def verified_mask(periods: Sequence[Period], station: IntArray, start_us: IntArray) -> BoolArray:
    """Rows (station, start time) that begin inside one of the station's verified periods."""
    out = np.zeros(len(start_us), np.bool_)
    for p in periods:
        out |= (station == p.station) & (start_us >= p.start_us) & (start_us < p.end_us)
    return out


@dataclass(frozen=True)
class HourlyMeans:
    """Columns of hourly rows (see storage/hourly.py for their meaning)."""

    station: IntArray
    parameter: IntArray
    hour: IntArray  # hour numbers (hours since the epoch of the readings' times)
    mean: FloatArray  # NaN: no valid reading
    n_valid: IntArray
    n_flagged: IntArray
    removed: dict[str, IntArray]  # REMOVAL_COLUMNS value → counts

    def __len__(self) -> int:
        return len(self.hour)


def hourly_means(
    station: IntArray,
    parameter: IntArray,
    ts_us: IntArray,
    value: FloatArray,
    flags: npt.NDArray[np.uint16],
    keep: BoolArray,
) -> HourlyMeans:
    """Hourly means of readings sorted by station, parameter and time.

    ``keep`` selects the readings whose hours are written; manually invalidated readings
    (the ``manual`` bit) make no row.
    """
    first = first_rule(flags)
    manual_position = [code for _, code in RULE_CODES].index("manual")
    counted = keep & (first != manual_position)
    # A station-hour has a row if any reading other than an invalidated one lies in it.
    # The manual readings of such hours are counted too (they are inside its hour).
    hour_all = ts_us // US_PER_HOUR
    sel = np.flatnonzero(keep)
    s, p, h = station[sel], parameter[sel], hour_all[sel]
    new_group = np.ones(len(sel), np.bool_)
    new_group[1:] = (s[1:] != s[:-1]) | (p[1:] != p[:-1]) | (h[1:] != h[:-1])
    group = np.cumsum(new_group) - 1
    n_groups = int(group[-1]) + 1 if len(group) else 0
    has_row = np.bincount(group, counted[sel], n_groups) > 0
    f = first[sel]
    valid = f == -1
    n_valid = np.bincount(group, valid, n_groups).astype(np.int64)
    sums = np.bincount(group, np.where(valid, value[sel], 0.0), n_groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n_valid > 0, sums / np.maximum(n_valid, 1), np.nan)
    codes = [code for _, code in RULE_CODES]
    status_positions = (codes.index("calibration"), codes.index("instrument_fault"))
    n_flagged = np.bincount(group, np.isin(f, status_positions), n_groups).astype(np.int64)
    removed = {
        column: np.bincount(group, f == codes.index(code), n_groups).astype(np.int64)[has_row]
        for code, column in REMOVAL_COLUMNS.items()
    }
    starts = np.flatnonzero(new_group)[has_row]
    return HourlyMeans(
        station=s[starts],
        parameter=p[starts],
        hour=h[starts],
        mean=mean[has_row],
        n_valid=n_valid[has_row],
        n_flagged=n_flagged[has_row],
        removed=removed,
    )
