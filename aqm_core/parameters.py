"""The parameters aqm stores: canonical names, normalised units, plausible ranges, aliases.

One place for these facts: the ingest validator, the station registry, the simulator and
``aqm db migrate`` (which seeds the ``parameters`` table) all read them from here.
Pollutants are stored in µg/m³ (CO included, as Decision 1459's Table 2 is in µg/m³).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True)
class Parameter:
    name: str
    unit: str
    min_plausible: float
    max_plausible: float
    name_vi: str
    name_en: str
    is_pollutant: bool


def _table(*params: Parameter) -> MappingProxyType[str, Parameter]:
    return MappingProxyType({p.name: p for p in params})


# Plausible ranges reject physically impossible values, not high pollution: the upper
# bounds sit well above the top breakpoints of Decision 1459 (e.g. PM2.5 ≥ 500 → AQI 500).
# Pollutant floors are slightly negative: analysers and beta-attenuation PM monitors read
# small negative values around zero, which are data (stored as measured, counted as 0 by
# the AQI engine); only values below that instrument noise are invalid
# (keep raw values; flag only values below the negative detection limit as invalid).
# Floors: PM −15 µg/m³ (beta-attenuation noise near zero), NO2/SO2/O3 −20 µg/m³
# (≈ −10 ppb), CO −1,000 µg/m³ (≈ −0.9 ppm).
PARAMETERS = _table(
    Parameter("pm25", "µg/m³", -15.0, 2000.0, "Bụi PM2.5", "PM2.5", True),
    Parameter("pm10", "µg/m³", -15.0, 3000.0, "Bụi PM10", "PM10", True),
    Parameter(
        "tsp", "µg/m³", -15.0, 5000.0, "Tổng bụi lơ lửng (TSP)", "Total suspended particles", True
    ),
    Parameter("no2", "µg/m³", -20.0, 10000.0, "NO2", "Nitrogen dioxide", True),
    Parameter("so2", "µg/m³", -20.0, 10000.0, "SO2", "Sulphur dioxide", True),
    Parameter("o3", "µg/m³", -20.0, 5000.0, "O3", "Ozone", True),
    Parameter("co", "µg/m³", -1000.0, 500000.0, "CO", "Carbon monoxide", True),
    Parameter("temperature", "°C", -20.0, 60.0, "Nhiệt độ", "Temperature", False),
    Parameter("humidity", "%", 0.0, 100.0, "Độ ẩm", "Relative humidity", False),
    Parameter("pressure", "hPa", 850.0, 1100.0, "Áp suất", "Air pressure", False),
    Parameter("wind_speed", "m/s", 0.0, 75.0, "Tốc độ gió", "Wind speed", False),
    Parameter("wind_direction", "°", 0.0, 360.0, "Hướng gió", "Wind direction", False),
    Parameter("rain", "mm", 0.0, 500.0, "Lượng mưa", "Rainfall", False),
)

# Names dataloggers write (Circular 10/2021 files, SenML records), matched after
# upper-casing and removing spaces. A station can extend this in the catalogue.
PARAMETER_ALIASES: MappingProxyType[str, str] = MappingProxyType(
    {
        "PM25": "pm25",
        "PM2.5": "pm25",
        "PM-2-5": "pm25",
        "PM2_5": "pm25",
        "PM-2.5": "pm25",
        "PM2,5": "pm25",  # Circular 10/2021 Table 34 writes the symbol with a decimal comma
        "PM-2,5": "pm25",
        "PM10": "pm10",
        "PM-10": "pm10",
        "TSP": "tsp",
        "BUI": "tsp",
        "DUST": "tsp",
        "NO2": "no2",
        "SO2": "so2",
        "O3": "o3",
        "CO": "co",
        "TEMP": "temperature",
        "TEMPERATURE": "temperature",
        "NHIETDO": "temperature",
        "T": "temperature",
        "HUMIDITY": "humidity",
        "HUMI": "humidity",
        "RH": "humidity",
        "DOAM": "humidity",
        "PRESSURE": "pressure",
        "PRESS": "pressure",
        "AP": "pressure",
        "BP": "pressure",
        "P": "pressure",  # Circular 10/2021 Table 34
        "WS": "wind_speed",
        "WINDSPEED": "wind_speed",
        "WIND_SPEED": "wind_speed",
        "WD": "wind_direction",
        "WINDDIRECTION": "wind_direction",
        "WIND_DIRECTION": "wind_direction",
        "RAIN": "rain",
        "RAINFALL": "rain",
    }
)


def canonical_parameter(raw: str, extra_aliases: dict[str, str] | None = None) -> str | None:
    """The canonical name for a parameter as a station wrote it, or None if unknown."""
    key = raw.strip()
    if key in PARAMETERS:
        return key
    folded = key.upper().replace(" ", "")
    if extra_aliases:
        for alias, name in extra_aliases.items():
            if alias.upper().replace(" ", "") == folded:
                return name
    return PARAMETER_ALIASES.get(folded) or (key.lower() if key.lower() in PARAMETERS else None)
