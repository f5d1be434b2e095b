"""QCVN 05:2023/BTNMT ambient-air limit values (and the 2013 values they replaced), as data.

Reports and dashboards compare concentrations with the limit *in force on the date of the
averaging period*: PM10 24-h was 150 µg/Nm³ until 11/09/2023 (QCVN 05:2013) and is 100
from 12/09/2023 (QCVN 05:2023); PM2.5 24-h is 50 until 31/12/2025 and 45 from 01/01/2026.
Units are µg/Nm³ (25 °C, 760 mmHg), the same reference as the AQI tables.

Only the regimes relevant to aqm are modelled: QCVN 05:2013 applies to every date before
12/09/2023 (its own start date and older regulations are not modelled).

Exceedance (project policy): a value strictly greater than the limit.

References
----------
.. [1] QCVN 05:2023/BTNMT (Circular 01/2023/TT-BTNMT, effective 12/09/2023), Tables 1–2;
   QCVN 05:2013/BTNMT.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final

QCVN_05_2023_START: Final = dt.date(2023, 9, 12)
PM25_24H_2026_START: Final = dt.date(2026, 1, 1)

AVERAGING_PERIODS: Final[tuple[str, ...]] = ("1h", "8h", "24h", "year")
LIMIT_POLLUTANTS: Final[tuple[str, ...]] = (
    "so2", "co", "no2", "o3", "tsp", "pm10", "pm25", "pb",
)  # fmt: skip


@dataclass(frozen=True)
class LimitValue:
    """One limit value and the dates it applies to.

    Attributes
    ----------
    pollutant : str
        ``so2, co, no2, o3, tsp, pm10, pm25, pb``.
    averaging : str
        ``1h``, ``8h``, ``24h`` or ``year``.
    value : float
        Maximum limit, µg/Nm³.
    valid_from, valid_until : datetime.date or None
        First and last date (inclusive) of the averaging period it applies to; None = open.
    regulation : str
        ``QCVN 05:2013/BTNMT`` or ``QCVN 05:2023/BTNMT``.
    """

    pollutant: str
    averaging: str
    value: float
    valid_from: dt.date | None
    valid_until: dt.date | None
    regulation: str

    def applies_on(self, day: dt.date) -> bool:
        """Whether this limit is in force for an averaging period on ``day``."""
        return (self.valid_from is None or day >= self.valid_from) and (
            self.valid_until is None or day <= self.valid_until
        )


_Q2013: Final = "QCVN 05:2013/BTNMT"
_Q2023: Final = "QCVN 05:2023/BTNMT"
_END_2013: Final = QCVN_05_2023_START - dt.timedelta(days=1)
_END_PM25_50: Final = PM25_24H_2026_START - dt.timedelta(days=1)


def _both(pollutant: str, averaging: str, value: float) -> tuple[LimitValue, LimitValue]:
    """A value unchanged between QCVN 05:2013 and 05:2023 (two regulations, same number)."""
    return (
        LimitValue(pollutant, averaging, value, None, _END_2013, _Q2013),
        LimitValue(pollutant, averaging, value, QCVN_05_2023_START, None, _Q2023),
    )


QCVN_LIMITS: Final[tuple[LimitValue, ...]] = (
    *_both("so2", "1h", 350),
    *_both("so2", "24h", 125),
    *_both("so2", "year", 50),
    *_both("co", "1h", 30_000),
    *_both("co", "8h", 10_000),
    *_both("no2", "1h", 200),
    *_both("no2", "24h", 100),
    *_both("no2", "year", 40),
    *_both("o3", "1h", 200),
    *_both("o3", "8h", 120),
    *_both("tsp", "1h", 300),
    *_both("tsp", "24h", 200),
    *_both("tsp", "year", 100),
    LimitValue("pm10", "24h", 150, None, _END_2013, _Q2013),
    LimitValue("pm10", "24h", 100, QCVN_05_2023_START, None, _Q2023),
    *_both("pm10", "year", 50),
    LimitValue("pm25", "24h", 50, None, _END_2013, _Q2013),
    LimitValue("pm25", "24h", 50, QCVN_05_2023_START, _END_PM25_50, _Q2023),
    LimitValue("pm25", "24h", 45, PM25_24H_2026_START, None, _Q2023),
    *_both("pm25", "year", 25),
    # Pb moved to Table 2 (toxic substances) in 2023; no annual value found in the 2023 text.
    *_both("pb", "24h", 1.5),
    LimitValue("pb", "year", 0.5, None, _END_2013, _Q2013),
)
"""Every limit value with its validity ([1]_)."""


def limit_in_force(pollutant: str, averaging: str, day: dt.date) -> LimitValue | None:
    """The limit applying to an averaging period on ``day``, or None if there is none.

    Parameters
    ----------
    pollutant : str
        ``so2, co, no2, o3, tsp, pm10, pm25, pb``.
    averaging : str
        ``1h``, ``8h``, ``24h`` or ``year`` (for ``year`` pass any date of the year).
    day : datetime.date
        Local date of the averaging period.

    Returns
    -------
    LimitValue or None
        ``.value`` is in µg/Nm³.

    References
    ----------
    .. [1] QCVN 05:2023/BTNMT Table 1 (PM2.5 24-h footnote: 45 from 01/01/2026).
    """
    if pollutant not in LIMIT_POLLUTANTS:
        raise ValueError(f"unknown pollutant {pollutant!r} for QCVN limits")
    if averaging not in AVERAGING_PERIODS:
        raise ValueError(f"unknown averaging {averaging!r}; expected one of {AVERAGING_PERIODS}")
    for limit in QCVN_LIMITS:
        if limit.pollutant == pollutant and limit.averaging == averaging and limit.applies_on(day):
            return limit
    return None


def regulations_in_force(first: dt.date, last: dt.date) -> tuple[str, ...]:
    """Names of the regulations whose limits apply to some day of ``first … last``, oldest
    first: ``('QCVN 05:2013/BTNMT',)`` for 2022, both for 2023, the 2023 one after."""
    names = {
        lim.regulation
        for lim in QCVN_LIMITS
        if (lim.valid_from is None or lim.valid_from <= last)
        and (lim.valid_until is None or lim.valid_until >= first)
    }
    return tuple(sorted(names))


def limits_in_force(day: dt.date) -> dict[tuple[str, str], LimitValue]:
    """All limits in force on ``day``, keyed by ``(pollutant, averaging)``."""
    return {(lim.pollutant, lim.averaging): lim for lim in QCVN_LIMITS if lim.applies_on(day)}
