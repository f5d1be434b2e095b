"""The Circular 10/2021/TT-BTNMT file of one station and measurement time, built from
stored readings (for stations that deliver over MQTT): one tab-separated line per
parameter, ``symbol value unit yyyyMMddHHmmss status`` with CRLF, in local time, the
status code as stored (00 measuring, 01 calibrating, 02 device error).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, tzinfo

# The Circular's symbols (Table 34), and the unit each value is written in: stored
# pollutants are µg/m³; CO is written in mg/m³ as dataloggers do.
SYMBOLS: dict[str, tuple[str, str, float]] = {
    "pm25": ("PM2,5", "ug/m3", 1.0),
    "pm10": ("PM10", "ug/m3", 1.0),
    "tsp": ("TSP", "ug/m3", 1.0),
    "no2": ("NO2", "ug/m3", 1.0),
    "so2": ("SO2", "ug/m3", 1.0),
    "o3": ("O3", "ug/m3", 1.0),
    "co": ("CO", "mg/m3", 0.001),
    "temperature": ("Temp", "oC", 1.0),
    "humidity": ("RH", "%", 1.0),
    "pressure": ("P", "hPa", 1.0),
    "wind_speed": ("WS", "m/s", 1.0),
    "wind_direction": ("WD", "Deg", 1.0),
    "rain": ("Rain", "mm", 1.0),
}
ORDER = list(SYMBOLS)


def circular_file(
    measured_at: datetime,
    readings: Sequence[tuple[str, float, str]],
    local_tz: tzinfo,
) -> bytes:
    """``readings``: ``(parameter, value in the stored unit, status)``."""
    stamp = measured_at.astimezone(local_tz).strftime("%Y%m%d%H%M%S")
    lines = []
    for parameter, value, status in sorted(
        readings, key=lambda r: ORDER.index(r[0]) if r[0] in SYMBOLS else len(ORDER)
    ):
        symbol, unit, factor = SYMBOLS.get(parameter, (parameter, "", 1.0))
        lines.append(f"{symbol}\t{value * factor:.6g}\t{unit}\t{stamp}\t{status}\r\n")
    return "".join(lines).encode("ascii", "replace")
