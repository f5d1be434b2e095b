"""Corrections that turn a low-cost sensor's PM2.5 into an estimate of the reference value.

Low-cost optical sensors over-read PM2.5 in humid air. Where the catalogue names a
correction for a station (``pm25_correction``), the corrected value is computed beside
the raw one — the raw value is never replaced — and every value says which was used.

``us_epa_2021`` — the US EPA nationwide PurpleAir correction (Barkjohn, Gantt & Clements
2021, "Development and application of a United States-wide correction for PM2.5 data
collected with the PurpleAir sensor", Atmos. Meas. Tech. 14, 4617-4637):

    PM2.5 = 0.524 · PA_cf1 − 0.0862 · RH + 5.75        (PA_cf1 < 30 µg/m³)

fitted on 24-h means of PA_cf1 (CF=1 channel, µg/m³) and relative humidity (%). Above
30 µg/m³ the US EPA extended it for smoke (Barkjohn et al. 2022, Sensors 22, 9669), as
the AirNow Fire and Smoke Map applies it; the pieces join continuously at 30, 50, 210
and 260 µg/m³:

    30 ≤ PA < 50:   [0.786·a + 0.524·(1 − a)]·PA − 0.0862·RH + 5.75,  a = PA/20 − 3/2
    50 ≤ PA < 210:  0.786·PA − 0.0862·RH + 5.75
    210 ≤ PA < 260: [0.69·b + 0.786·(1 − b)]·PA − 0.0862·RH·(1 − b) + 2.966·b
                    + 5.75·(1 − b) + 8.84·10⁻⁴·PA²·b,                  b = PA/50 − 21/5
    PA ≥ 260:       2.966 + 0.69·PA + 8.84·10⁻⁴·PA²

Validity limits (where the correction is not applied and the raw value is used):
relative humidity missing or outside 0-100 %, PA_cf1 missing or negative. The result is
floored at 0 (the intercept and the RH term can take a clean-air value below zero).
The SQL function ``pm25_us_epa_2021(pa, rh)`` of migration 0015 is the same formula for
the ``hourly_pm25_corrected`` view; ``tests/stations/test_pm25_correction.py`` proves
both against numbers worked out from the papers' coefficients.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

US_EPA_2021: Final = "us_epa_2021"
CORRECTIONS: Final = (US_EPA_2021,)
"""Names the catalogue's ``pm25_correction`` may take."""

USED_CORRECTED: Final = "corrected"
USED_RAW: Final = "raw"


@dataclass(frozen=True)
class CorrectedPm25:
    """Corrected PM2.5 beside the raw value, and which of the two is to be used."""

    raw: FloatArray
    corrected: FloatArray
    """NaN where the correction's validity limits exclude the value."""
    applied: npt.NDArray[np.bool_]
    """True where ``corrected`` is the value to use, False where the raw one is."""

    @property
    def value(self) -> FloatArray:
        """The value to use: corrected where applied, raw elsewhere."""
        return np.where(self.applied, self.corrected, self.raw)


def us_epa_2021(pa_cf1: npt.ArrayLike, rh: npt.ArrayLike) -> CorrectedPm25:
    """US EPA PurpleAir correction (module docstring), vectorised over any shape."""
    pa = np.asarray(pa_cf1, dtype=np.float64)
    humidity = np.asarray(rh, dtype=np.float64)
    pa, humidity = np.broadcast_arrays(pa, humidity)
    applied = ~np.isnan(pa) & ~np.isnan(humidity) & (pa >= 0) & (humidity >= 0) & (humidity <= 100)
    with np.errstate(invalid="ignore"):
        a = pa / 20.0 - 1.5
        b = pa / 50.0 - 21.0 / 5.0
        low = 0.524 * pa - 0.0862 * humidity + 5.75
        ramp = (0.786 * a + 0.524 * (1 - a)) * pa - 0.0862 * humidity + 5.75
        mid = 0.786 * pa - 0.0862 * humidity + 5.75
        smoke_ramp = ((0.69 * b + 0.786 * (1 - b)) * pa - 0.0862 * humidity * (1 - b)
                      + 2.966 * b + 5.75 * (1 - b) + 8.84e-4 * pa**2 * b)
        high = 2.966 + 0.69 * pa + 8.84e-4 * pa**2
        corrected = np.select(
            [pa < 30, pa < 50, pa < 210, pa < 260], [low, ramp, mid, smoke_ramp], high
        )
    corrected = np.where(applied, np.maximum(corrected, 0.0), np.nan)
    return CorrectedPm25(raw=pa.copy(), corrected=corrected, applied=applied)


def correct_pm25(name: str, pa_cf1: npt.ArrayLike, rh: npt.ArrayLike) -> CorrectedPm25:
    """Apply the correction named ``name`` (one of :data:`CORRECTIONS`)."""
    if name == US_EPA_2021:
        return us_epa_2021(pa_cf1, rh)
    raise ValueError(f"unknown PM2.5 correction {name!r}; known: {', '.join(CORRECTIONS)}")
