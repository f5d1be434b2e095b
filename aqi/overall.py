"""The overall AQI from sub-indices, and the result structure of the engine.

AQI = max of the available sub-indices, rounded half-up; the dominant pollutant is the
argmax, ties broken in the order PM2.5, PM10, O3, NO2, SO2, CO; no AQI without a PM2.5 or
PM10 sub-index (1459 §2.1).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from aqi.categories import Category, categories, category_index
from aqi.pollutants import PM_POLLUTANTS, POLLUTANTS, check_pollutant
from aqi.rounding import round_half_up

FloatArray = npt.NDArray[np.float64]
CountArray = npt.NDArray[np.int16]
Int8Array = npt.NDArray[np.int8]
BoolArray = npt.NDArray[np.bool_]


class MissingReason(IntEnum):
    """Why ``aqi`` is NaN (``NONE`` when it is not)."""

    NONE = 0
    NO_DATA = 1
    """No valid value of any pollutant for the hour (window) or day."""
    NO_PM = 2
    """Other pollutants present, but no PM2.5 or PM10 value at all."""
    INSUFFICIENT_DATA = 3
    """PM values present, but too few for a NowCast (2 of 3) or a 24-h mean (18 of 24)."""


MISSING_REASON_NAMES: Final[tuple[str, ...]] = ("", "no_data", "no_pm", "insufficient_data")
"""Text stored for each :class:`MissingReason` value."""


@dataclass(frozen=True, eq=False)
class AqiResult:
    """Hourly or daily AQI of every station and period, as arrays of one shape.

    ``shape`` is ``(stations, hours)`` for :func:`aqi.hourly_aqi` and ``(stations, days)``
    for :func:`aqi.daily_aqi` (1-D when one station was passed as 1-D arrays).

    Attributes
    ----------
    method : str
        Method id: ``vn_1459_2019``, ``us_epa_2024`` or ``us_epa_2012``.
    period : str
        ``hour`` or ``day``.
    aqi : ndarray of float64
        AQI rounded half-up (whole numbers), NaN when not computable.
    aqi_unrounded : ndarray of float64
        Largest sub-index before rounding.
    category : ndarray of int8
        Index into :attr:`categories` (0 … 5), -1 when ``aqi`` is NaN.
    dominant : ndarray of int8
        Index into :data:`aqi.pollutants.POLLUTANTS`, -1 when ``aqi`` is NaN.
    subindex : dict of str to ndarray of float64
        Unrounded sub-index per pollutant key present in the input (NaN = none).
    components : dict of str to ndarray of float64
        For pollutants with several scales (VN daily O3: ``o3_1h`` and ``o3_8h``; US O3),
        the sub-index of each scale; ``subindex[p]`` is their maximum.
    concentration : dict of str to ndarray of float64
        The concentration behind each sub-index, µg/m³, keyed ``<pollutant>_<statistic>``:
        ``pm25_nowcast``, ``o3_1h``, ``co_8h`` (hourly); ``pm25_24h``, ``o3_1h_max``,
        ``o3_8h_max``, ``no2_1h_max``, ``so2_24h`` (daily).
    n_valid : dict of str to ndarray of int16
        Valid hours behind each concentration (NowCast window, 8-h window, day); for
        ``*_8h_max`` the number of valid 8-h windows of the day.
    missing_reason : ndarray of int8
        :class:`MissingReason` value; text in :data:`MISSING_REASON_NAMES`.
    beyond_index : ndarray of bool
        AQI above 500 (US "beyond the AQI", extrapolated); never true for VN.
    """

    method: str
    period: str
    aqi: FloatArray
    aqi_unrounded: FloatArray
    category: Int8Array
    dominant: Int8Array
    subindex: dict[str, FloatArray]
    components: dict[str, FloatArray]
    concentration: dict[str, FloatArray]
    n_valid: dict[str, CountArray]
    missing_reason: Int8Array
    beyond_index: BoolArray

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.aqi.shape)

    @property
    def categories(self) -> tuple[Category, ...]:
        """Categories of :attr:`method` (what :attr:`category` indexes)."""
        return categories(self.method)

    @property
    def nowcast(self) -> dict[str, FloatArray]:
        """PM NowCast concentrations used (hourly results; empty for daily ones)."""
        suffix = "_nowcast"
        return {
            key.removesuffix(suffix): value
            for key, value in self.concentration.items()
            if key.endswith(suffix) and key.split("_")[0] in PM_POLLUTANTS
        }

    @property
    def subindex_rounded(self) -> dict[str, FloatArray]:
        """Sub-indices rounded half-up (for display and storage next to the unrounded)."""
        return {key: round_half_up(value) for key, value in self.subindex.items()}

    def category_names(self, language: str = "vi") -> npt.NDArray[np.str_]:
        """Category names (``vi`` or ``en``), ``""`` where there is no AQI."""
        attr = {"vi": "name_vi", "en": "name_en"}[language]
        names = np.array([getattr(c, attr) for c in self.categories] + [""])
        return names[self.category]

    def dominant_names(self) -> npt.NDArray[np.str_]:
        """Dominant pollutant keys, ``""`` where there is no AQI."""
        return np.array([*POLLUTANTS, ""])[self.dominant]

    def missing_reason_names(self) -> npt.NDArray[np.str_]:
        """Missing reasons as text (``""``, ``no_data``, ``no_pm``, ``insufficient_data``)."""
        return np.array(MISSING_REASON_NAMES)[self.missing_reason]

    def map_arrays(self, transform: Callable[[npt.NDArray[Any]], npt.NDArray[Any]]) -> AqiResult:
        """A copy with ``transform`` applied to every array (e.g. slicing stations)."""
        changes: dict[str, Any] = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if isinstance(value, np.ndarray):
                changes[field.name] = transform(value)
            elif isinstance(value, dict):
                changes[field.name] = {k: transform(v) for k, v in value.items()}
        return dataclasses.replace(self, **changes)


def combine_subindices(
    subindex: Mapping[str, FloatArray], shape: tuple[int, ...]
) -> tuple[FloatArray, Int8Array, BoolArray]:
    """Largest sub-index, its pollutant, and whether a PM sub-index exists.

    Parameters
    ----------
    subindex : mapping of str to ndarray
        Unrounded sub-index per pollutant key (NaN = none).
    shape : tuple of int
        Shape of the arrays (used when ``subindex`` is empty).

    Returns
    -------
    best : ndarray of float64
        Max sub-index (NaN when none, or when there is no PM sub-index).
    dominant : ndarray of int8
        Index into :data:`~aqi.pollutants.POLLUTANTS` of the first pollutant, in
        that order, reaching ``best``; -1 when ``best`` is NaN.
    has_pm : ndarray of bool
        A PM2.5 or PM10 sub-index exists.

    References
    ----------
    .. [1] Quyết định 1459/QĐ-TCMT §2.1 (AQI = max AQIx; PM2.5 or PM10 required).
    """
    best = np.full(shape, -np.inf)
    dominant = np.full(shape, -1, dtype=np.int8)
    has_pm = np.zeros(shape, dtype=bool)
    for position, pollutant in enumerate(POLLUTANTS):
        if pollutant not in subindex:
            continue
        values = subindex[pollutant]
        # Strictly greater: an equal later pollutant never takes over (tie order).
        higher = values > best
        np.copyto(best, values, where=higher)
        np.copyto(dominant, position, where=higher)
        if pollutant in PM_POLLUTANTS:
            has_pm |= ~np.isnan(values)
    # copyto(where=) rather than boolean indexing: the same values, without gathering
    # the positions first.
    no_aqi = ~has_pm
    np.copyto(best, np.nan, where=no_aqi)
    np.copyto(dominant, -1, where=no_aqi)
    return best, dominant, has_pm


def build_result(
    *,
    method: str,
    period: str,
    subindex: dict[str, FloatArray],
    components: dict[str, FloatArray],
    concentration: dict[str, FloatArray],
    n_valid: dict[str, CountArray],
    shape: tuple[int, ...],
) -> AqiResult:
    """Assemble an :class:`AqiResult`: overall AQI, category, dominant pollutant, reason."""
    ordered = {p: subindex[p] for p in POLLUTANTS if p in subindex}
    best, aqi, category, dominant, reason, beyond = _summarise(ordered, n_valid, shape)
    return AqiResult(
        method=method,
        period=period,
        aqi=aqi,
        aqi_unrounded=best,
        category=category,
        dominant=dominant,
        subindex=ordered,
        components=components,
        concentration=concentration,
        n_valid=n_valid,
        missing_reason=reason,
        beyond_index=beyond,
    )


_Summary = tuple[FloatArray, FloatArray, Int8Array, Int8Array, Int8Array, BoolArray]
"""Unrounded AQI, AQI, category, dominant pollutant, missing reason, beyond-500 flag."""


def _summarise(
    subindex: dict[str, FloatArray], n_valid: dict[str, CountArray], shape: tuple[int, ...]
) -> _Summary:
    best, dominant, has_pm = combine_subindices(subindex, shape)
    aqi = round_half_up(best)
    pm_seen = np.zeros(shape, dtype=bool)
    any_seen = np.zeros(shape, dtype=bool)
    for key, counts in n_valid.items():
        seen = counts > 0
        any_seen |= seen
        if check_pollutant(key.split("_")[0]) in PM_POLLUTANTS:
            pm_seen |= seen
    # NO_DATA (1), + 1 = NO_PM (2) where any pollutant was seen, + 1 more =
    # INSUFFICIENT_DATA (3) where PM was seen (PM is one of them); NONE (0) with an AQI.
    # Arithmetic on small ints instead of masked writes.
    reason = any_seen.astype(np.int8)
    reason += pm_seen
    reason += MissingReason.NO_DATA
    reason *= ~has_pm
    return best, aqi, category_index(aqi), dominant, reason, best > 500.0


def compute_in_station_blocks(
    compute: Callable[[dict[str, FloatArray]], AqiResult],
    conc: dict[str, FloatArray],
    block_cells: int | None,
) -> AqiResult:
    """Run ``compute`` on blocks of stations and assemble one result.

    Stations are independent, so splitting them keeps every temporary array small
    (cache-resident, bounded memory) without changing any value. ``block_cells`` None:
    all stations at once.
    """
    n_stations, n_hours = next(iter(conc.values())).shape
    rows = n_stations if block_cells is None else max(1, block_cells // max(n_hours, 1))
    if rows >= n_stations:
        return compute(conc)
    first = compute({key: value[:rows] for key, value in conc.items()})
    full = first.map_arrays(lambda a: np.empty((n_stations, *a.shape[1:]), dtype=a.dtype))
    _copy_rows(full, first, 0)
    for start in range(rows, n_stations, rows):
        block = compute({key: value[start : start + rows] for key, value in conc.items()})
        _copy_rows(full, block, start)
    return full


def _copy_rows(full: AqiResult, block: AqiResult, start: int) -> None:
    for field in dataclasses.fields(full):
        target = getattr(full, field.name)
        source = getattr(block, field.name)
        if isinstance(target, np.ndarray):
            target[start : start + len(source)] = source
        elif isinstance(target, dict):
            for key, array in target.items():
                array[start : start + len(source[key])] = source[key]
