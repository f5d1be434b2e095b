"""QCVN 05:2023/BTNMT limits laid on the report's day grid.

The values and their dates of validity live in :mod:`aqi.limits` (one source of truth);
this room only asks it which limit was in force on each day of the report, so a change
within the year (PM10 24 h on 12/09/2023, PM2.5 24 h on 01/01/2026) is applied per day.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import numpy as np

from aqi import limits as qcvn
from reports.annual.statistics import FloatArray


def limit_on(parameter: str, averaging: str, day: date) -> float | None:
    """The limit (µg/m³) for ``parameter`` over ``averaging`` in force on ``day``."""
    if parameter not in qcvn.LIMIT_POLLUTANTS:
        return None
    limit = qcvn.limit_in_force(parameter, averaging, day)
    return None if limit is None else float(limit.value)


def limits_per_day(parameter: str, averaging: str, days: Sequence[date]) -> FloatArray:
    """The limit in force on each day (NaN: no limit for that parameter and period)."""
    values = [limit_on(parameter, averaging, day) for day in days]
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def annual_limit(parameter: str, year: int) -> float | None:
    """The annual limit applied to ``year``: the one in force on its last day."""
    return limit_on(parameter, "year", date(year, 12, 31))


def regulations_of_year(year: int) -> str:
    """The regulation(s) whose limits the report applies in ``year``, for titles and text:
    ``QCVN 05:2013/BTNMT`` before 12/09/2023, both in 2023, ``QCVN 05:2023/BTNMT`` after."""
    return " và ".join(qcvn.regulations_in_force(date(year, 1, 1), date(year, 12, 31)))


def annual_regulation(year: int) -> str:
    """The regulation of the annual limits applied to ``year`` (in force on its last day)."""
    return qcvn.regulations_in_force(date(year, 12, 31), date(year, 12, 31))[-1]


def has_limit(parameter: str, averaging: str, days: Sequence[date]) -> bool:
    """Whether ``parameter`` has a limit over ``averaging`` on any of ``days``."""
    return any(limit_on(parameter, averaging, day) is not None for day in days)
