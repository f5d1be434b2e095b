"""May this station's AQI be published on this day? One answer for every consumer.

Circular 10/2021/TT-BTNMT Art. 29 lets only ambient stations that meet Art. 30(1)(a),
30(2) and 31 publish an AQI; every other station (reference stations, low-cost sensors,
mobile units) publishes concentrations only. aqm reads this as:

* the station's class on that day is ``fixed_automatic`` (Art. 30(2): automatic,
  continuous, fixed);
* the catalogue declares ``public_aqi: true`` for that day — the officer's statement
  that the instruments meet Art. 31 (FEM/FRM, MCERTS or TÜV certified);
* the station measures PM2.5, O3 and one of NO2, SO2, CO (Art. 30(1)(a)).

A station can change class (a low-cost site upgraded to an automatic station, an
automatic station whose certification lapses): the catalogue's optional ``classes``
list records ``{from: DATE, station_type: ..., public_aqi: ...}`` entries. An entry is
in force from its date until the next one; before the first entry the first entry's
class applies; without entries the station's ``station_type`` and ``public_aqi`` apply
throughout. The SQL function ``aqi_publishable(station_id, day)`` of migration 0015
implements the same rule for the database, so reports, dashboards and the public page
all ask the same question; ``tests/stations/test_eligibility.py`` proves they agree.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Final

import numpy as np
import numpy.typing as npt

PUBLISHING_TYPE: Final = "fixed_automatic"
"""The only station type that may publish an AQI (Circular 10/2021 Art. 29-30)."""

ART30_REQUIRED: Final = ("pm25", "o3")
"""Parameters an AQI-publishing station must measure (Circular 10/2021 Art. 30(1)(a))."""

ART30_ONE_OF: Final = ("no2", "so2", "co")
"""...and at least one of these (Art. 30(1)(a))."""


@dataclass(frozen=True)
class ClassPeriod:
    """A station's class from ``valid_from`` on (until the next period starts)."""

    valid_from: date
    station_type: str
    public_aqi: bool


def measures_art30_parameters(parameters: Iterable[str]) -> bool:
    """Whether ``parameters`` cover PM2.5, O3 and one of NO2/SO2/CO (Art. 30(1)(a))."""
    measured = set(parameters)
    return all(p in measured for p in ART30_REQUIRED) and any(p in measured for p in ART30_ONE_OF)


def class_on(
    day: date, station_type: str, public_aqi: bool, classes: Sequence[ClassPeriod] = ()
) -> tuple[str, bool]:
    """The (station_type, public_aqi) in force on ``day``; see the module docstring."""
    if not classes:
        return station_type, public_aqi
    ordered = sorted(classes, key=lambda c: c.valid_from)
    current = ordered[0]
    for period in ordered[1:]:
        if period.valid_from <= day:
            current = period
    return current.station_type, current.public_aqi


def aqi_publishable(
    day: date,
    station_type: str,
    public_aqi: bool,
    parameters: Iterable[str],
    classes: Sequence[ClassPeriod] = (),
) -> bool:
    """May the station's AQI of ``day`` be published (and count in province AQI
    statistics, QCVN compliance and worst-day lists)? Circular 10/2021 Art. 29-31."""
    kind, declared = class_on(day, station_type, public_aqi, classes)
    return kind == PUBLISHING_TYPE and declared and measures_art30_parameters(parameters)


def publishable_days(
    days: Sequence[date],
    station_type: str,
    public_aqi: bool,
    parameters: Iterable[str],
    classes: Sequence[ClassPeriod] = (),
) -> npt.NDArray[np.bool_]:
    """:func:`aqi_publishable` for each of ``days`` (a year of days in one call)."""
    if not measures_art30_parameters(parameters):
        return np.zeros(len(days), dtype=bool)
    return np.array(
        [_eligible_class(d, station_type, public_aqi, classes) for d in days], dtype=bool
    )


def _eligible_class(
    day: date, station_type: str, public_aqi: bool, classes: Sequence[ClassPeriod]
) -> bool:
    kind, declared = class_on(day, station_type, public_aqi, classes)
    return kind == PUBLISHING_TYPE and declared


def class_periods_from_json(entries: object) -> tuple[ClassPeriod, ...]:
    """The ``stations.classes`` JSON column (a list of objects) as :class:`ClassPeriod`."""
    if not isinstance(entries, list):
        return ()
    periods = []
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        periods.append(ClassPeriod(
            valid_from=date.fromisoformat(str(entry["from"])),
            station_type=str(entry["station_type"]),
            public_aqi=bool(entry["public_aqi"]),
        ))  # fmt: skip
    return tuple(sorted(periods, key=lambda c: c.valid_from))
