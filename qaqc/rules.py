"""Automatic QA/QC rules: readings in, one flag word per reading out (pure numpy).

Decision 1459/QĐ-TCMT §2.1 asks that data pass QA/QC (outliers removed) before an AQI
is computed; the Law on Environmental Protection 2020 Art. 106 makes the publisher
answer for the data. The rules below are the automatic screening that trusted networks
run before a person ratifies the data (UK AURN "provisional", EEA validity flags, US EPA
AQS null-data codes; docs/qaqc.md). Raw readings are never changed: the flags live
beside them and every aggregate reads only what the flags allow.

Each reading gets a bit per rule that fired. Rules run in order, and a rule only looks
at the readings that passed the rules before it, so the first bit of a reading is the
rule that removed it (:func:`first_rule`), which is how ``hourly`` counts removals:

==========  ==================  ===========================================================
bit         code                rule (thresholds per parameter from ``qaqc/rules.toml``)
==========  ==================  ===========================================================
``MANUAL``  ``manual``          inside a period an officer invalidated (``aqm qc``); such
                                readings are treated as never measured: no other rule
                                sees them
``CALIB``   ``calibration``     datalogger status 01 (Circular 10/2021/TT-BTNMT Art. 39)
``FAULT``   ``instrument_fault`` datalogger status 02 (idem)
``RANGE``   ``out_of_range``    outside the instrument's measuring range: above the
                                station's ``instrument_ranges`` maximum from the
                                catalogue, else above ``range_max``; below a positive
                                catalogue minimum by more than the noise allowance
                                (``−negative_below``)
``NEG``     ``negative``        below ``negative_below`` (beyond instrument noise)
``FLAT``    ``flat_line``       part of ``flat_line_n`` or more identical consecutive values
``SPIKE``   ``spike``           above or below both neighbours by more than ``spike``
                                (US IOOS QARTOD spike test)
``PM``      ``pm25_gt_pm10``    the station-hour's PM2.5 mean exceeds its PM10 mean by more
                                than the tolerance: every PM2.5 and PM10 reading of the hour
==========  ==================  ===========================================================

Neighbours (flat line, spike) are the previous and next reading of the same station and
parameter that passed the status, range and negative rules, at most ``max_gap_minutes``
apart; a longer gap ends a run and leaves a reading without that neighbour.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from aqm_core.errors import AqmError
from qaqc import kernels

RULES_FILE: Final = Path(__file__).with_name("rules.toml")

MANUAL: Final = 1 << 0
CALIB: Final = 1 << 1
FAULT: Final = 1 << 2
RANGE: Final = 1 << 3
NEG: Final = 1 << 4
FLAT: Final = 1 << 5
SPIKE: Final = 1 << 6
PM: Final = 1 << 7

RULE_CODES: Final[tuple[tuple[int, str], ...]] = (
    (MANUAL, "manual"),
    (CALIB, "calibration"),
    (FAULT, "instrument_fault"),
    (RANGE, "out_of_range"),
    (NEG, "negative"),
    (FLAT, "flat_line"),
    (SPIKE, "spike"),
    (PM, "pm25_gt_pm10"),
)
"""Bits in rule order, with the codes stored and shown (docs/qaqc.md)."""

US_PER_HOUR: Final = 3_600_000_000

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
FlagArray = npt.NDArray[np.uint16]


class RulesError(AqmError, ValueError):
    """The rules file is missing a value or holds a wrong one (named in the message)."""


@dataclass(frozen=True)
class ParameterRules:
    negative_below: float
    range_max: float
    flat_line_n: int
    spike: float


@dataclass(frozen=True)
class RuleSet:
    """The automatic rules of one version of ``rules.toml``."""

    version: str
    max_gap_minutes: float
    pm_tolerance_ug_m3: float
    pm_tolerance_fraction: float
    parameters: Mapping[str, ParameterRules]

    def context_hours(self) -> int:
        """Hours on either side of a changed hour whose flags a change there can alter.

        A flat-line run that a new (or removed) reading joins or splits reaches at most
        ``flat_line_n − 1`` readings either way (both parts were shorter than ``n``), and
        linked readings are at most ``max_gap_minutes`` apart; a spike looks one reading
        away. The worker recomputes this many hours around each changed one, reading as
        many more for context, so flags never depend on where a batch begins.
        """
        n = max((p.flat_line_n for p in self.parameters.values()), default=0)
        reach_s = max(n - 1, 1) * self.max_gap_minutes * 60
        return max(1, math.ceil(reach_s / 3600))


def load_rules(path: Path = RULES_FILE) -> RuleSet:
    """Read and check a rules file; errors name the file and the key at fault."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise RulesError(f"{path}: {exc}") from exc

    def number(table: Mapping[str, object], key: str, where: str) -> float:
        value = table.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise RulesError(f"{path}: {where}{key} must be a number, not {value!r}")
        return float(value)

    version = data.get("version")
    if not isinstance(version, str) or not version:
        raise RulesError(f"{path}: version must be a non-empty string")
    pm = data.get("pm_ratio", {})
    params = data.get("parameters", {})
    if not isinstance(pm, dict) or not isinstance(params, dict):
        raise RulesError(f"{path}: [pm_ratio] and [parameters.*] must be tables")
    parameters: dict[str, ParameterRules] = {}
    for name, table in params.items():
        where = f"parameters.{name}."
        if not isinstance(table, dict):
            raise RulesError(f"{path}: [parameters.{name}] must be a table")
        n = number(table, "flat_line_n", where)
        if n == 1 or n < 0 or n != int(n):
            raise RulesError(f"{path}: {where}flat_line_n must be 0 (off) or a whole number ≥ 2")
        spike = number(table, "spike", where)
        if spike <= 0:
            raise RulesError(f"{path}: {where}spike must be positive")
        parameters[name] = ParameterRules(
            negative_below=number(table, "negative_below", where),
            range_max=number(table, "range_max", where),
            flat_line_n=int(n),
            spike=spike,
        )
    gap = number(data, "max_gap_minutes", "")
    if gap <= 0:
        raise RulesError(f"{path}: max_gap_minutes must be positive")
    return RuleSet(
        version=version,
        max_gap_minutes=gap,
        pm_tolerance_ug_m3=number(pm, "tolerance_ug_m3", "pm_ratio."),
        pm_tolerance_fraction=number(pm, "tolerance_fraction", "pm_ratio."),
        parameters=parameters,
    )


def evaluate(
    rules: RuleSet,
    parameters: Sequence[str],
    station: npt.ArrayLike,
    parameter: npt.ArrayLike,
    ts_us: npt.ArrayLike,
    value: npt.ArrayLike,
    status: npt.ArrayLike,
    manual: npt.ArrayLike | None = None,
    bounds: tuple[npt.ArrayLike, npt.ArrayLike] | None = None,
) -> FlagArray:
    """Flag words of readings sorted by station, parameter and time.

    Parameters
    ----------
    rules : RuleSet
    parameters : sequence of str
        Names behind the codes of ``parameter``; parameters without rules get only the
        manual and status bits.
    station, parameter : array_like of int
        Station code and parameter code (index into ``parameters``) of each reading.
    ts_us : array_like of int
        Measurement times in microseconds (any epoch; whole hours must fall on multiples
        of 3,600,000,000, true of the Unix and PostgreSQL epochs).
    value : array_like of float
    status : array_like of int
        Datalogger status 0, 1 or 2 (Circular 10/2021/TT-BTNMT Art. 39: 00 measuring,
        01 calibrating, 02 device error).
    manual : array_like of bool, optional
        Inside a period invalidated by an officer.
    bounds : (array_like of float, array_like of float), optional
        Per reading, the lowest and highest value the range rule lets through (from
        :func:`range_bounds`, which applies the stations' instrument ranges); without
        them every reading gets its parameter's ``range_max`` and no lower limit.

    Returns
    -------
    ndarray of uint16
        The bits of :data:`RULE_CODES` that fired for each reading.
    """
    st = _integers(station)
    par = _integers(parameter)
    ts = np.asarray(ts_us, np.int64)
    v = np.asarray(value, np.float64)
    status_code = _integers(status)
    n = len(v)
    if not (len(st) == len(par) == len(ts) == len(status_code) == n):
        raise ValueError("reading arrays differ in length")
    if n == 0:
        return np.zeros(0, np.uint16)
    table = _thresholds(rules, parameters)
    lo: FloatArray | None = None
    hi: FloatArray | None = None
    if bounds is not None:
        lo, hi = (np.asarray(b, np.float64) for b in bounds)
        if not (len(lo) == len(hi) == n):
            raise ValueError("bounds differ in length from the readings")
    if kernels.wanted(n):
        names = list(parameters)
        return kernels.run(
            st, par, ts, v, status_code,
            None if manual is None else np.asarray(manual, np.bool_), table, lo, hi,
            int(rules.max_gap_minutes * 60_000_000),
            names.index("pm25") if "pm25" in names else -1,
            names.index("pm10") if "pm10" in names else -1,
            rules.pm_tolerance_ug_m3, rules.pm_tolerance_fraction,
        )  # fmt: skip
    flags = np.zeros(n, np.uint16)
    if manual is not None:
        flags[np.asarray(manual, np.bool_)] |= MANUAL
    flags[status_code == 1] |= CALIB
    flags[status_code == 2] |= FAULT

    neg_below, range_max, flat_n, spike = (t[par] for t in table)
    alive = flags == 0
    with np.errstate(invalid="ignore"):
        if hi is None or lo is None:
            flags[alive & (v > range_max)] |= RANGE
        else:
            flags[alive & ((v > hi) | (v < lo))] |= RANGE
        flags[alive & (v < neg_below)] |= NEG
    alive = flags == 0

    # Neighbours: consecutive surviving readings of one series, close enough in time.
    idx = np.flatnonzero(alive)
    if len(idx) > 1:
        gap_us = int(rules.max_gap_minutes * 60_000_000)
        s_st, s_par, s_ts, s_v = st[idx], par[idx], ts[idx], v[idx]
        linked = (
            (s_st[1:] == s_st[:-1]) & (s_par[1:] == s_par[:-1]) & (s_ts[1:] - s_ts[:-1] <= gap_us)
        )
        _flat_line(flags, idx, linked, s_v, flat_n[idx])
        _spikes(flags, idx, linked, s_v, spike[idx])
    _pm_ratio(rules, parameters, flags, st, par, ts, v)
    return flags


def range_bounds(
    rules: RuleSet,
    parameters: Sequence[str],
    station: npt.ArrayLike,
    parameter: npt.ArrayLike,
    instrument_ranges: Mapping[tuple[int, int], tuple[float, float]],
) -> tuple[FloatArray, FloatArray] | None:
    """Per-reading bounds of the range rule, for :func:`evaluate`'s ``bounds``.

    ``instrument_ranges`` maps (station code, parameter code) to the instrument's
    measuring range [min, max] (the catalogue's ``instrument_ranges``, µg/m³). Such a
    reading is out of range above max, or below a positive min by more than the
    parameter's noise allowance (``min + negative_below``; a min at or below zero leaves
    negatives to the negative rule). Every other reading keeps the rules file's
    ``range_max`` and no lower limit. None when no range is given (the rules' defaults).

    The bounds are looked up in a small (station × parameter) table, one gather per
    reading.
    """
    if not instrument_ranges:
        return None
    st = _integers(station)
    par = _integers(parameter)
    neg_below, range_max, _, _ = _thresholds(rules, parameters)
    n_stations = max(*(s for s, _ in instrument_ranges), int(st.max(initial=-1))) + 1
    lo_table = np.full((n_stations, len(parameters)), -np.inf)
    hi_table = np.tile(range_max, (n_stations, 1))
    for (s, p), (low, high) in instrument_ranges.items():
        if not 0 <= p < len(parameters) or s < 0:
            raise ValueError(f"no station {s} or parameter {p} to give a range")
        hi_table[s, p] = high
        if low > 0:
            allowance = neg_below[p] if math.isfinite(neg_below[p]) else 0.0
            lo_table[s, p] = low + min(allowance, 0.0)
    return lo_table[st, par], hi_table[st, par]


def _integers(values: npt.ArrayLike) -> npt.NDArray[np.integer[Any]]:
    """Integer codes as given (any integer dtype: no copy), others converted."""
    array = np.asarray(values)
    return array if np.issubdtype(array.dtype, np.integer) else array.astype(np.int64)


def _thresholds(
    rules: RuleSet, parameters: Sequence[str]
) -> tuple[FloatArray, FloatArray, IntArray, FloatArray]:
    """Per parameter code: negative floor, range top, flat-line length, spike bound."""
    none = ParameterRules(-math.inf, math.inf, 0, math.inf)
    found = [rules.parameters.get(name, none) for name in parameters]
    off = np.iinfo(np.int64).max  # flat_line_n 0: the rule is off
    return (
        np.array([p.negative_below for p in found], np.float64),
        np.array([p.range_max for p in found], np.float64),
        np.array([p.flat_line_n or off for p in found], np.int64),
        np.array([p.spike for p in found], np.float64),
    )


def _flat_line(
    flags: FlagArray, idx: IntArray, linked: BoolArray, v: FloatArray, n_needed: IntArray
) -> None:
    """Flag runs of at least ``n_needed`` identical linked values."""
    same = linked & (v[1:] == v[:-1])
    starts = np.ones(len(v), np.bool_)
    starts[1:] = ~same
    run = np.cumsum(starts) - 1
    length = np.bincount(run)[run]
    flags[idx[length >= n_needed]] |= FLAT


def _spikes(
    flags: FlagArray, idx: IntArray, linked: BoolArray, v: FloatArray, bound: FloatArray
) -> None:
    """QARTOD spike test: |v − (v₋ + v₊)/2| − |(v₊ − v₋)/2| > bound, both neighbours linked."""
    if len(v) < 3:
        return
    before, here, after = v[:-2], v[1:-1], v[2:]
    test = np.abs(here - (before + after) / 2) - np.abs((after - before) / 2)
    hit = linked[:-1] & linked[1:] & (test > bound[1:-1])
    flags[idx[1:-1][hit]] |= SPIKE


def _pm_ratio(
    rules: RuleSet,
    parameters: Sequence[str],
    flags: FlagArray,
    st: npt.NDArray[np.integer[Any]],
    par: npt.NDArray[np.integer[Any]],
    ts: IntArray,
    v: FloatArray,
) -> None:
    """Flag every surviving PM2.5 and PM10 reading of station-hours where PM2.5 > PM10."""
    if "pm25" not in parameters or "pm10" not in parameters:
        return
    code25, code10 = list(parameters).index("pm25"), list(parameters).index("pm10")
    is25, is10 = par == code25, par == code10
    pm = np.flatnonzero((flags == 0) & (is25 | is10))
    if len(pm) == 0:
        return
    hour = ts[pm] // US_PER_HOUR
    key = st[pm].astype(np.int64) * (1 << 32) + (hour - hour.min())
    keys, group = np.unique(key, return_inverse=True)
    clipped = np.maximum(v[pm], 0.0)  # small negatives count as 0, as in the AQI
    w25, w10 = is25[pm].astype(np.float64), is10[pm].astype(np.float64)
    n25 = np.bincount(group, w25, len(keys))
    n10 = np.bincount(group, w10, len(keys))
    with np.errstate(invalid="ignore", divide="ignore"):
        mean25 = np.bincount(group, clipped * w25, len(keys)) / n25
        mean10 = np.bincount(group, clipped * w10, len(keys)) / n10
        bad = (
            (n25 > 0)
            & (n10 > 0)
            & (mean25 > mean10 * (1 + rules.pm_tolerance_fraction) + rules.pm_tolerance_ug_m3)
        )
    flags[pm[bad[group]]] |= PM


def first_rule(flags: npt.ArrayLike) -> npt.NDArray[np.int8]:
    """Position in :data:`RULE_CODES` of the first rule that fired, −1 for none."""
    f = np.asarray(flags, np.uint16)
    out = np.full(f.shape, -1, np.int8)
    for position, (bit, _) in reversed(list(enumerate(RULE_CODES))):
        out[(f & bit) != 0] = position
    return out


def codes_of(flags: int) -> list[str]:
    """The rule codes of one flag word, in rule order."""
    return [code for bit, code in RULE_CODES if flags & bit]
