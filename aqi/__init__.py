"""aqi: the AQI engine of aqm — pure functions, numpy arrays in and out, no I/O.

VN_AQI per Decision 1459/QĐ-TCMT (method ``vn_1459_2019``) and the US EPA AQI
(``us_epa_2024``, and ``us_epa_2012`` for comparison with older tools).

Entry points::

    from aqi import hourly_aqi, daily_aqi, AqiResult
    result = hourly_aqi({"pm25": pm25, "no2": no2}, "vn_1459_2019", hours_before=12)
    result.aqi, result.category, result.dominant, result.subindex["pm25"]

Modules, one per thing computed: :mod:`aqi.breakpoints` (tables),
:mod:`aqi.categories` (bands, colours, advice), :mod:`aqi.units` (ppb/ppm ↔ µg/m³),
:mod:`aqi.rounding`, :mod:`aqi.subindex`, :mod:`aqi.nowcast`, :mod:`aqi.averaging`,
:mod:`aqi.overall` (max, dominant, result), :mod:`aqi.hourly`, :mod:`aqi.daily`,
:mod:`aqi.limits` (QCVN 05:2023). This package imports nothing outside numpy and the
standard library. Developer documentation: docs/aqi-engine.md.
"""

from aqi.breakpoints import METHODS, TABLES, BreakpointTable, breakpoint_table
from aqi.categories import CATEGORIES, US_CATEGORIES, VN_CATEGORIES, Category
from aqi.daily import daily_aqi
from aqi.hourly import CompletenessRules, hourly_aqi
from aqi.nowcast import nowcast
from aqi.overall import MISSING_REASON_NAMES, AqiResult, MissingReason
from aqi.pollutants import POLLUTANTS
from aqi.rounding import round_half_up
from aqi.subindex import subindex

__all__ = [
    "CATEGORIES",
    "METHODS",
    "MISSING_REASON_NAMES",
    "POLLUTANTS",
    "TABLES",
    "US_CATEGORIES",
    "VN_CATEGORIES",
    "AqiResult",
    "BreakpointTable",
    "Category",
    "CompletenessRules",
    "MissingReason",
    "breakpoint_table",
    "daily_aqi",
    "hourly_aqi",
    "nowcast",
    "round_half_up",
    "subindex",
]
