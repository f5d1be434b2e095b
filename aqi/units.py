"""Conversion between mass concentration (µg/m³, mg/m³) and mixing ratio (ppb, ppm).

The one place in aqm where molar masses and the molar volume live. Conditions are
25 °C and 1 atm, the reference of both QCVN 05:2023 (µg/Nm³ at 25 °C, 760 mmHg) and
the US EPA, so no temperature or pressure correction is applied.

References
----------
.. [1] US EPA, EPA-454/B-24-002 (May 2024), Technical Assistance Document for the
   Reporting of Daily Air Quality – the AQI: gas concentrations at 25 °C and 1 atm.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

from aqi.pollutants import GAS_POLLUTANTS

MOLAR_VOLUME_L_PER_MOL: Final[float] = 24.45
"""Molar volume of an ideal gas at 25 °C and 1 atm, in L/mol.

The conventional value used by the EPA and industry; the exact R·T/P is 24.465 L/mol.
The 0.06 % difference can move a truncated value by one unit at a breakpoint edge, so
this single constant is used everywhere ([1]_).
"""

MOLAR_MASS_G_PER_MOL: Final[dict[str, float]] = {
    "o3": 48.00,
    "no2": 46.0055,
    "so2": 64.066,
    "co": 28.010,
}
"""Molar masses of the gaseous pollutants, g/mol ([1]_)."""

UNITS: Final[tuple[str, ...]] = ("µg/m³", "mg/m³", "ppb", "ppm")

# Factor that turns a value in the unit into µg/m³ (mass units) or into ppb (mixing ratios).
_TO_BASE: Final[dict[str, float]] = {"µg/m³": 1.0, "mg/m³": 1000.0, "ppb": 1.0, "ppm": 1000.0}
_MASS_UNITS: Final[frozenset[str]] = frozenset({"µg/m³", "mg/m³"})


def _molar_mass(pollutant: str) -> float:
    try:
        return MOLAR_MASS_G_PER_MOL[pollutant]
    except KeyError:
        raise ValueError(
            f"no molar mass for {pollutant!r}; mixing ratios exist only for "
            f"{', '.join(GAS_POLLUTANTS)}"
        ) from None


def convert(
    conc: npt.ArrayLike, pollutant: str, from_unit: str, to_unit: str
) -> npt.NDArray[np.float64]:
    """Convert concentrations between µg/m³, mg/m³, ppb and ppm.

    Parameters
    ----------
    conc : array_like
        Concentrations in ``from_unit``. NaN stays NaN.
    pollutant : str
        Pollutant key (``o3``, ``no2``, ``so2``, ``co``; PM only between mass units).
    from_unit, to_unit : str
        One of ``µg/m³``, ``mg/m³``, ``ppb``, ``ppm``.

    Returns
    -------
    numpy.ndarray
        Concentrations in ``to_unit`` (float64).

    Notes
    -----
    µg/m³ = ppb × M / 24.45 and ppb = µg/m³ × 24.45 / M (M in g/mol) [1]_.

    References
    ----------
    .. [1] US EPA, EPA-454/B-24-002 (May 2024), at 25 °C and 1 atm.
    """
    for unit in (from_unit, to_unit):
        if unit not in _TO_BASE:
            raise ValueError(f"unknown unit {unit!r}; expected one of {', '.join(UNITS)}")
    values = np.asarray(conc, dtype=np.float64)
    factor = _TO_BASE[from_unit] / _TO_BASE[to_unit]
    from_mass = from_unit in _MASS_UNITS
    to_mass = to_unit in _MASS_UNITS
    if from_mass and not to_mass:
        factor *= MOLAR_VOLUME_L_PER_MOL / _molar_mass(pollutant)
    elif to_mass and not from_mass:
        factor *= _molar_mass(pollutant) / MOLAR_VOLUME_L_PER_MOL
    if factor == 1.0:
        return values.copy()
    result: npt.NDArray[np.float64] = values * factor
    return result


def ugm3_to_ppb(conc: npt.ArrayLike, pollutant: str) -> npt.NDArray[np.float64]:
    """µg/m³ → ppb at 25 °C, 1 atm (24.45 L/mol) (see :func:`convert`)."""
    return convert(conc, pollutant, "µg/m³", "ppb")


def ppb_to_ugm3(conc: npt.ArrayLike, pollutant: str) -> npt.NDArray[np.float64]:
    """ppb → µg/m³ at 25 °C, 1 atm (24.45 L/mol) (see :func:`convert`)."""
    return convert(conc, pollutant, "ppb", "µg/m³")


def ugm3_to_ppm(conc: npt.ArrayLike, pollutant: str) -> npt.NDArray[np.float64]:
    """µg/m³ → ppm at 25 °C, 1 atm (24.45 L/mol) (see :func:`convert`)."""
    return convert(conc, pollutant, "µg/m³", "ppm")


def ppm_to_ugm3(conc: npt.ArrayLike, pollutant: str) -> npt.NDArray[np.float64]:
    """ppm → µg/m³ at 25 °C, 1 atm (24.45 L/mol) (see :func:`convert`)."""
    return convert(conc, pollutant, "ppm", "µg/m³")
