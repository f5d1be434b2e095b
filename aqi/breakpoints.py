"""Breakpoint tables of every supported AQI method, as data.

One :class:`BreakpointTable` per (method, scale). A *scale* is a pollutant with an
averaging period, e.g. ``pm25_24h`` or ``o3_8h``; its rows are the lines of the
standard's table: ``(conc_low, conc_high, index_low, index_high)``.

Methods (the id stored with every computed index):

``vn_1459_2019``
    Decision 1459/QĐ-TCMT (12/11/2019), Table 2; all values µg/m³, continuous
    breakpoints, no truncation, capped at 500, O3 8-h undefined above 400 µg/m³.
``us_epa_2024``
    EPA-454/B-24-002 (May 2024) Table 6: 2024 PM2.5 revision, merged Hazardous row,
    concentrations truncated, index extrapolated above 500 ("beyond the AQI").
``us_epa_2012``
    The tables in use before 06/05/2024 (40 CFR 58 App. G as corrected 2009/2012):
    2012 PM2.5 rows, split Hazardous rows (301–400, 401–500), 2015 O3 8-h rows.

References
----------
.. [1] Quyết định 1459/QĐ-TCMT, Bảng 2.
.. [2] US EPA, EPA-454/B-24-002, Technical Assistance Document for the Reporting of
   Daily Air Quality – the AQI, May 2024, Table 6.
.. [3] 40 CFR 58 Appendix G (2012 PM2.5 table).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

METHODS: Final[tuple[str, ...]] = ("vn_1459_2019", "us_epa_2024", "us_epa_2012")
"""Method ids, stored with every computed index."""

AboveTop = Literal["cap", "extrapolate", "undefined"]
"""What a concentration above the last row gets: the top index, the last row's line
extended, or no index (NaN)."""

Row = tuple[float, float, float, float]


@dataclass(frozen=True)
class BreakpointTable:
    """One column of a breakpoint table.

    Attributes
    ----------
    method : str
        Method id (see :data:`METHODS`).
    scale : str
        ``<pollutant>_<averaging>``, e.g. ``pm25_24h``, ``o3_8h``, ``no2_1h``.
    pollutant : str
        Pollutant key.
    averaging_hours : int
        Averaging period the rows are defined for (PM NowCast uses the 24-h rows).
    unit : str
        Unit of the concentrations in ``rows``: ``µg/m³``, ``ppb`` or ``ppm``.
    rows : tuple of (conc_low, conc_high, index_low, index_high)
        Lines of the table, increasing. VN rows are continuous (one row's high is the
        next row's low); EPA rows have gaps (9.0 / 9.1) closed by truncation.
    truncation_decimals : int or None
        EPA truncation before interpolation (digits kept), None = full precision (VN).
    above_top : {'cap', 'extrapolate', 'undefined'}
        Rule above ``rows[-1]``'s high end.
    """

    method: str
    scale: str
    pollutant: str
    averaging_hours: int
    unit: str
    rows: tuple[Row, ...]
    truncation_decimals: int | None
    above_top: AboveTop

    @property
    def conc_points(self) -> tuple[float, ...]:
        """Abscissae for piecewise-linear interpolation (shared VN breakpoints once)."""
        return tuple(x for x, _ in self._points())

    @property
    def index_points(self) -> tuple[float, ...]:
        """Ordinates matching :attr:`conc_points`."""
        return tuple(y for _, y in self._points())

    @property
    def bottom(self) -> float:
        """Lowest concentration with an index (0, or 0.125 ppm for EPA O3 1-h)."""
        return self.rows[0][0]

    @property
    def top(self) -> float:
        """Highest concentration of the last row."""
        return self.rows[-1][1]

    def _points(self) -> list[tuple[float, float]]:
        points: list[tuple[float, float]] = []
        for c_lo, c_hi, i_lo, i_hi in self.rows:
            if not points or points[-1] != (c_lo, i_lo):
                points.append((c_lo, i_lo))
            points.append((c_hi, i_hi))
        return points


def _rows(concs: tuple[float, ...], indices: tuple[float, ...]) -> tuple[Row, ...]:
    """Rows of a continuous table given its breakpoints BP1…BPn and I1…In."""
    return tuple(
        (float(concs[i]), float(concs[i + 1]), indices[i], indices[i + 1])
        for i in range(len(concs) - 1)
    )


_VN_I: Final = (0.0, 50.0, 100.0, 150.0, 200.0, 300.0, 400.0, 500.0)


def _vn(scale: str, pollutant: str, hours: int, concs: tuple[float, ...]) -> BreakpointTable:
    # Level 8 is written "≥ BP8" in the decision: at and above it the index is 500 (cap).
    # O3 8-h stops at level 6 (400 µg/m³ ↔ 300) and is not computed above.
    return BreakpointTable(
        method="vn_1459_2019",
        scale=scale,
        pollutant=pollutant,
        averaging_hours=hours,
        unit="µg/m³",
        rows=_rows(concs, _VN_I[: len(concs)]),
        truncation_decimals=None,
        above_top="undefined" if scale == "o3_8h" else "cap",
    )


VN_1459_2019: Final[dict[str, BreakpointTable]] = {
    t.scale: t
    for t in (
        _vn("pm25_24h", "pm25", 24, (0, 25, 50, 80, 150, 250, 350, 500)),
        _vn("pm10_24h", "pm10", 24, (0, 50, 150, 250, 350, 420, 500, 600)),
        _vn("o3_1h", "o3", 1, (0, 160, 200, 300, 400, 800, 1000, 1200)),
        _vn("o3_8h", "o3", 8, (0, 100, 120, 170, 210, 400)),
        _vn("no2_1h", "no2", 1, (0, 100, 200, 700, 1200, 2350, 3100, 3850)),
        _vn("so2_1h", "so2", 1, (0, 125, 350, 550, 800, 1600, 2100, 2630)),
        _vn("co_1h", "co", 1, (0, 10_000, 30_000, 45_000, 60_000, 90_000, 120_000, 150_000)),
    )
}
"""Decision 1459/QĐ-TCMT Table 2, µg/m³ ([1]_). PM rows serve NowCast and 24-h means."""


_GOOD_TO_HAZARDOUS: Final = ((0, 50), (51, 100), (101, 150), (151, 200), (201, 300), (301, 500))
_SPLIT_HAZARDOUS: Final = (
    (0, 50), (51, 100), (101, 150), (151, 200), (201, 300), (301, 400), (401, 500),
)  # fmt: skip


def _us(
    method: str,
    scale: str,
    pollutant: str,
    hours: int,
    unit: str,
    decimals: int,
    concs: tuple[tuple[float, float], ...],
    indices: tuple[tuple[int, int], ...] = _GOOD_TO_HAZARDOUS,
    above_top: AboveTop = "extrapolate",
) -> BreakpointTable:
    # Tables with blank cells at the bottom (O3 1-h) take the index rows from the end.
    indices = indices[len(indices) - len(concs) :] if scale == "o3_1h" else indices
    return BreakpointTable(
        method=method,
        scale=scale,
        pollutant=pollutant,
        averaging_hours=hours,
        unit=unit,
        rows=tuple(
            (float(c_lo), float(c_hi), float(i_lo), float(i_hi))
            for (c_lo, c_hi), (i_lo, i_hi) in zip(concs, indices[: len(concs)], strict=True)
        ),
        truncation_decimals=decimals,
        above_top=above_top,
    )


def _us_common(method: str, split: bool) -> list[BreakpointTable]:
    """Rows that only differ between 2012 and 2024 in the Hazardous split."""
    idx = _SPLIT_HAZARDOUS if split else _GOOD_TO_HAZARDOUS

    def hazardous(*rows: tuple[float, float]) -> tuple[tuple[float, float], ...]:
        return rows if split else ((rows[0][0], rows[-1][1]),)

    return [
        _us(method, "pm10_24h", "pm10", 24, "µg/m³", 0,
            ((0, 54), (55, 154), (155, 254), (255, 354), (355, 424),
             *hazardous((425, 504), (505, 604))), idx),
        # 8-h O3 does not define AQI ≥ 301: above 0.200 ppm the 8-h sub-index is reported
        # as 300 and the 1-h value decides (TAD).
        _us(method, "o3_8h", "o3", 8, "ppm", 3,
            ((0.0, 0.054), (0.055, 0.070), (0.071, 0.085), (0.086, 0.105), (0.106, 0.200)),
            idx, above_top="cap"),
        # 1-h O3 below 0.125 ppm has no index (blank cells of the table).
        _us(method, "o3_1h", "o3", 1, "ppm", 3,
            ((0.125, 0.164), (0.165, 0.204), (0.205, 0.404),
             *hazardous((0.405, 0.504), (0.505, 0.604))),
            idx),
        _us(method, "co_8h", "co", 8, "ppm", 1,
            ((0.0, 4.4), (4.5, 9.4), (9.5, 12.4), (12.5, 15.4), (15.5, 30.4),
             *hazardous((30.5, 40.4), (40.5, 50.4))), idx),
        # 1-h SO2 ends at 304 ppb (AQI 200); above it the 24-h rows or the 200 rule apply.
        _us(method, "so2_1h", "so2", 1, "ppb", 0,
            ((0, 35), (36, 75), (76, 185), (186, 304)), idx, above_top="undefined"),
        _us(method, "so2_24h", "so2", 24, "ppb", 0,
            ((305, 604), *hazardous((605, 804), (805, 1004))),
            idx[4:]),
        _us(method, "no2_1h", "no2", 1, "ppb", 0,
            ((0, 53), (54, 100), (101, 360), (361, 649), (650, 1249),
             *hazardous((1250, 1649), (1650, 2049))), idx),
    ]  # fmt: skip


US_EPA_2024: Final[dict[str, BreakpointTable]] = {
    t.scale: t
    for t in (
        _us("us_epa_2024", "pm25_24h", "pm25", 24, "µg/m³", 1,
            ((0.0, 9.0), (9.1, 35.4), (35.5, 55.4), (55.5, 125.4), (125.5, 225.4),
             (225.5, 325.4))),
        *_us_common("us_epa_2024", split=False),
    )
}  # fmt: skip
"""US EPA AQI breakpoints, May 2024 TAD Table 6 ([2]_); units per table (µg/m³, ppm, ppb)."""

US_EPA_2012: Final[dict[str, BreakpointTable]] = {
    t.scale: t
    for t in (
        _us("us_epa_2012", "pm25_24h", "pm25", 24, "µg/m³", 1,
            ((0.0, 12.0), (12.1, 35.4), (35.5, 55.4), (55.5, 150.4), (150.5, 250.4),
             (250.5, 350.4), (350.5, 500.4)), _SPLIT_HAZARDOUS),
        *_us_common("us_epa_2012", split=True),
    )
}  # fmt: skip
"""US EPA AQI breakpoints before 06/05/2024, split Hazardous rows ([3]_)."""

TABLES: Final[dict[str, dict[str, BreakpointTable]]] = {
    "vn_1459_2019": VN_1459_2019,
    "us_epa_2024": US_EPA_2024,
    "us_epa_2012": US_EPA_2012,
}
"""All tables: ``TABLES[method][scale]``."""


def check_method(method: str) -> str:
    """Return ``method`` if it is a known method id, else raise ``ValueError``."""
    if method not in TABLES:
        raise ValueError(f"unknown method {method!r}; expected one of {', '.join(METHODS)}")
    return method


def breakpoint_table(method: str, scale: str) -> BreakpointTable:
    """The table of ``scale`` (e.g. ``'pm25_24h'``) in ``method``; ``ValueError`` if absent."""
    tables = TABLES[check_method(method)]
    try:
        return tables[scale]
    except KeyError:
        raise ValueError(
            f"method {method!r} has no scale {scale!r}; it has {', '.join(tables)}"
        ) from None
