"""How a simulated station writes its readings: the three payload formats ingest reads.

Each encoder is the mirror of a decoder in ``ingest/decode/`` and writes only what that
decoder reads back exactly (values are rounded before they are written, so the text
form and the float agree):

* ``aqm_json`` — ``{"station", "ts" (local ISO 8601 with offset), "values", "units",
  "status"}``; pollutants default to µg/m³, so their unit is left out unless a station
  reports gases in ppb; CO in mg/m³, temperature ``Cel``, humidity ``%RH``.
* ``tt10_text`` — Circular 10/2021 lines ``Name<TAB>Value<TAB>Unit<TAB>YYYYMMDDhhmmss
  <TAB>Status<CR><LF>`` in local time, datalogger names (``PM-2-5``, ``Temp``…).
* ``senml`` — an RFC 8428 pack with base name ``urn:aqm:station:<id>:`` and base time in
  epoch seconds. SenML has no status field, so a SenML station sends no sample while
  it calibrates or is faulty (the simulator leaves those out).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Literal

PayloadFormat = Literal["aqm_json", "tt10_text", "senml"]
FORMATS: tuple[PayloadFormat, ...] = ("aqm_json", "tt10_text", "senml")
GASES = ("no2", "so2", "o3", "co")

# Unit spellings per format; None: left out, the parameter's normalised unit applies.
_AQM_JSON_UNITS: dict[str, str | None] = {
    "pm25": None, "pm10": None, "tsp": None, "no2": None, "so2": None, "o3": None,
    "co": "mg/m3", "temperature": "Cel", "humidity": "%RH", "pressure": "hPa",
    "wind_speed": "m/s", "wind_direction": "deg", "rain": "mm",
}
_TT10_UNITS = {
    "pm25": "ug/m3", "pm10": "ug/m3", "tsp": "ug/m3", "no2": "ug/m3", "so2": "ug/m3",
    "o3": "ug/m3", "co": "mg/m3", "temperature": "oC", "humidity": "%", "pressure": "hPa",
    "wind_speed": "m/s", "wind_direction": "deg", "rain": "mm",
}
_SENML_UNITS = {
    "pm25": "ug/m3", "pm10": "ug/m3", "tsp": "ug/m3", "no2": "ug/m3", "so2": "ug/m3",
    "o3": "ug/m3", "co": "ug/m3", "temperature": "Cel", "humidity": "%RH", "pressure": "hPa",
    "wind_speed": "m/s", "wind_direction": "deg", "rain": "mm",
}
# Names Circular 10/2021 dataloggers write (all known to aqm_core.parameters' aliases).
TT10_NAMES = {
    "pm25": "PM-2-5", "pm10": "PM10", "tsp": "TSP", "no2": "NO2", "so2": "SO2", "o3": "O3",
    "co": "CO", "temperature": "Temp", "humidity": "Humidity", "pressure": "Pressure",
    "wind_speed": "WS", "wind_direction": "WD", "rain": "Rain",
}
# Decimals a datalogger writes, by the unit it writes in.
_DECIMALS = {"mg/m3": 3, "deg": 0}
DEFAULT_DECIMALS = 1


@dataclass(frozen=True, slots=True)
class SimulatedReading:
    """One value exactly as a simulated station sent it."""

    station_id: str
    parameter: str  # canonical name (aqm_core.parameters)
    ts: datetime  # aware, UTC: the station's clock, skew included
    value: float  # in ``unit``, rounded as written in the payload
    unit: str | None  # spelling sent; None: not stated (the normalised unit applies)
    status: str  # Circular 10/2021: 00 measuring, 01 calibrating, 02 device fault


def unit_sent(fmt: PayloadFormat, parameter: str, gases_in_ppb: bool = False) -> str | None:
    """The unit spelling a station using ``fmt`` writes for ``parameter``."""
    if fmt == "aqm_json":
        if gases_in_ppb and parameter in GASES and parameter != "co":
            return "ppb"
        return _AQM_JSON_UNITS[parameter]
    if fmt == "tt10_text":
        return _TT10_UNITS[parameter]
    return _SENML_UNITS[parameter]


def decimals(unit: str | None) -> int:
    return _DECIMALS.get(unit or "", DEFAULT_DECIMALS)


def encode(
    fmt: PayloadFormat,
    readings: Sequence[SimulatedReading],
    local_tz: tzinfo,
    names: Mapping[str, str] | None = None,
) -> bytes:
    """The payload of one station's readings at one time, in ``fmt``.

    ``names`` overrides the Circular 10/2021 name of a parameter (a station's aliases).
    """
    if not readings:
        raise ValueError("a payload needs at least one reading")
    first = readings[0]
    if any(r.ts != first.ts or r.station_id != first.station_id or r.status != first.status
           for r in readings):
        raise ValueError("one payload carries one station's readings at one time and status")
    if fmt == "aqm_json":
        return _aqm_json(readings, local_tz)
    if fmt == "tt10_text":
        return _tt10_text(readings, local_tz, names or {})
    return _senml(readings)


def _aqm_json(readings: Sequence[SimulatedReading], local_tz: tzinfo) -> bytes:
    first = readings[0]
    document: dict[str, object] = {
        "station": first.station_id,
        "ts": first.ts.astimezone(local_tz).isoformat(),
        "values": {r.parameter: r.value for r in readings},
    }
    units = {r.parameter: r.unit for r in readings if r.unit is not None}
    if units:
        document["units"] = units
    document["status"] = first.status
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def _tt10_text(
    readings: Sequence[SimulatedReading], local_tz: tzinfo, names: Mapping[str, str]
) -> bytes:
    lines = []
    for r in readings:
        stamp = r.ts.astimezone(local_tz).strftime("%Y%m%d%H%M%S")
        value = f"{r.value:.{decimals(r.unit)}f}"
        name = names.get(r.parameter, TT10_NAMES[r.parameter])
        lines.append(f"{name}\t{value}\t{r.unit}\t{stamp}\t{r.status}\r\n")
    return "".join(lines).encode()


def _senml(readings: Sequence[SimulatedReading]) -> bytes:
    first = readings[0]
    pack: list[dict[str, object]] = []
    for r in readings:
        record: dict[str, object] = {"n": r.parameter, "u": r.unit, "v": r.value}
        if not pack:
            record = {"bn": f"urn:aqm:station:{first.station_id}:",
                      "bt": int(first.ts.timestamp())} | record
        else:
            record["t"] = 0
        pack.append(record)
    return json.dumps(pack, separators=(",", ":")).encode()
