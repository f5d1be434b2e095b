"""Unit spellings stations use, and conversion into each parameter's normalised unit.

Gas mixing ratios (ppb, ppm) become µg/m³ at 25 °C and 1 atm through ``aqi.units``,
the project's one place for molar masses and the molar volume.
"""

from __future__ import annotations

from collections.abc import Callable

from aqi import units as gas_units

# Spelling (lower-cased, spaces removed) → canonical unit symbol.
UNIT_SPELLINGS: dict[str, str] = {
    "ug/m3": "µg/m³",
    "µg/m3": "µg/m³",
    "µg/m³": "µg/m³",
    "ug/nm3": "µg/m³",
    "µg/nm3": "µg/m³",
    "µg/nm³": "µg/m³",
    "ug/m^3": "µg/m³",
    "ugm-3": "µg/m³",
    "μg/m3": "µg/m³",
    "μg/m³": "µg/m³",
    "mg/m3": "mg/m³",
    "mg/m³": "mg/m³",
    "mg/nm3": "mg/m³",
    "mg/nm³": "mg/m³",
    "ppb": "ppb",
    "ppm": "ppm",
    "cel": "°C",
    "°c": "°C",
    "oc": "°C",
    "degc": "°C",
    "c": "°C",
    "độc": "°C",
    "%": "%",
    "%rh": "%",
    "rh": "%",
    "hpa": "hPa",
    "mbar": "hPa",
    "kpa": "kPa",
    "m/s": "m/s",
    "mps": "m/s",
    "°": "°",
    "deg": "°",
    "độ": "°",
    "mm": "mm",
}

Converter = Callable[[float], float]


def canonical_unit(raw: str) -> str | None:
    return UNIT_SPELLINGS.get(raw.strip().lower().replace(" ", ""))


def converter(parameter: str, unit: str, target: str) -> Converter | None:
    """A function turning ``unit`` into ``target`` for ``parameter``, or None if incompatible."""
    if unit == target:
        return _identity
    if target == "µg/m³":
        if unit == "mg/m³":
            return _times(1000.0)
        if unit in {"ppb", "ppm"} and parameter in gas_units.MOLAR_MASS_G_PER_MOL:
            per_ppb = float(gas_units.ppb_to_ugm3(1.0, parameter)[()])
            return _times(per_ppb if unit == "ppb" else per_ppb * 1000.0)
    if target == "hPa" and unit == "kPa":
        return _times(10.0)
    return None


def _identity(value: float) -> float:
    return value


def _times(factor: float) -> Converter:
    def convert(value: float) -> float:
        return value * factor

    return convert
