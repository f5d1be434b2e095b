"""The public JSON documents, built from database rows by pure functions.

What may be published follows Circular 10/2021/TT-BTNMT Art. 29-31 (the database function
``aqi_publishable``): a station whose AQI may be published shows its hourly VN_AQI with the
band, colour and advice of Decision 1459/QĐ-TCMT (Tables 1, 4 and 5, which its Table 3
requires on every website); every other station shows concentrations only, labelled as
indicative, never an AQI. A missing value stays ``null``, never 0.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from aqi.categories import VN_CATEGORIES, Category
from aqi.pollutants import DISPLAY_NAMES, POLLUTANTS
from aqi.rounding import round_half_up

STANDARD: Final = "vn_1459_2019"
HOUR: Final = timedelta(hours=1)
SILENT_AFTER: Final = timedelta(hours=2)
"""A station whose newest data ended longer ago than this is shown as silent."""

STATION_TYPE_LABELS: Final[dict[str, str]] = {
    "fixed_automatic": "Trạm quan trắc tự động cố định",
    "low_cost_sensor": "Cảm biến giá rẻ",
    "mobile": "Trạm quan trắc di động",
}
INDICATIVE_LABEL: Final = "Số liệu tham khảo, không phải chỉ số VN_AQI"
PROVISIONAL_LABEL: Final = "Số liệu tạm thời, chưa được kiểm định"
VERIFIED_LABEL: Final = "Số liệu đã được kiểm định"
SENSITIVE_GROUPS: Final = "người cao tuổi, trẻ em, người mắc bệnh đường hô hấp hoặc tim mạch"


def band(level: int) -> Category:
    """The Decision 1459 band of a stored category level (1…6)."""
    return VN_CATEGORIES[level - 1]


def bands_document() -> list[dict[str, Any]]:
    """The six bands with colour, range and advice: the page's legend and advice text."""
    return [
        {
            "level": c.index + 1,
            "name": c.name_vi,
            "lower": c.lower,
            "upper": c.upper,
            "color": c.hex,
            "text_color": "#000000" if c.index < 3 else "#FFFFFF",
            "health_effect": c.health_effect_vi,
            "advice_general": c.advice_vi,
            "advice_sensitive": c.advice_sensitive_vi,
        }
        for c in VN_CATEGORIES
    ]


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _aqi_integer(value: float | None) -> int | None:
    """A sub-index as Decision 1459 publishes it: rounded half up to an integer."""
    return None if value is None else int(round_half_up([value])[0])


def _round1(value: float | None) -> float | None:
    return None if value is None else round(float(value), 1)


@dataclass(frozen=True)
class StationRow:
    """One station of the current-AQI query."""

    station_id: str
    name: str
    ward: str | None
    district: str | None
    latitude: float
    longitude: float
    station_type: str
    eligible_today: bool
    aqi_hour: datetime | None
    aqi: int | None
    category: int | None
    dominant: str | None
    sub_indices: Mapping[str, float | None]
    data_level: str | None
    aqi_publishable: bool
    last_data_hour: datetime | None
    concentration_hour: datetime | None
    concentrations: Sequence[tuple[str, float, str]]  # parameter, value, unit


def station_feature(row: StationRow, now: datetime, zone: ZoneInfo) -> dict[str, Any]:
    """A GeoJSON feature for one station at ``now``."""
    last_end = None if row.last_data_hour is None else row.last_data_hour + HOUR
    silent = last_end is None or now - last_end > SILENT_AFTER
    shows_aqi = row.eligible_today
    aqi: dict[str, Any] | None = None
    if shows_aqi and row.aqi_hour is not None and row.aqi is not None and row.aqi_publishable:
        category = band(int(row.category or 1))
        end = row.aqi_hour + HOUR
        aqi = {
            "value": row.aqi,
            "level": category.index + 1,
            "band": category.name_vi,
            "color": category.hex,
            "hour_start": _iso(row.aqi_hour),
            "hour_end": _iso(end),
            "hour_local": hour_label(row.aqi_hour, zone),
            "stale": now - end > SILENT_AFTER,
            "data_level": row.data_level,
            "data_level_label": VERIFIED_LABEL
            if row.data_level == "verified"
            else PROVISIONAL_LABEL,
            "dominant": row.dominant,
            "dominant_label": DISPLAY_NAMES.get(row.dominant or "", None),
            "sub_indices": [
                {
                    "pollutant": p,
                    "label": DISPLAY_NAMES[p],
                    "value": _aqi_integer(row.sub_indices[p]),
                }
                for p in POLLUTANTS
                if row.sub_indices.get(p) is not None
            ],
        }
    concentrations = None
    if not shows_aqi and row.concentration_hour is not None and row.concentrations:
        concentrations = {
            "label": INDICATIVE_LABEL,
            "hour_start": _iso(row.concentration_hour),
            "hour_end": _iso(row.concentration_hour + HOUR),
            "hour_local": hour_label(row.concentration_hour, zone),
            "values": [
                {
                    "parameter": p,
                    "label": DISPLAY_NAMES.get(p, p),
                    "value": _round1(v),
                    "unit": unit,
                }
                for p, v, unit in sorted(row.concentrations, key=_pollutant_order)
            ],
        }
    kind = "aqi" if shows_aqi else "indicative"
    return {
        "type": "Feature",
        "id": row.station_id,
        "geometry": {"type": "Point", "coordinates": [row.longitude, row.latitude]},
        "properties": {
            "station_id": row.station_id,
            "name": row.name,
            "place": ", ".join(p for p in (row.ward, row.district) if p),
            "kind": kind,
            "station_type": row.station_type,
            "station_type_label": STATION_TYPE_LABELS.get(row.station_type, row.station_type),
            "kind_label": "Trạm công bố VN_AQI" if shows_aqi else INDICATIVE_LABEL,
            "aqi": aqi,
            "concentrations": concentrations,
            "last_data_end": _iso(last_end),
            "silent": silent,
        },
    }


def _pollutant_order(item: tuple[str, float, str]) -> tuple[int, str]:
    parameter = item[0]
    return (POLLUTANTS.index(parameter) if parameter in POLLUTANTS else len(POLLUTANTS), parameter)


def hour_label(hour_start: datetime, zone: ZoneInfo) -> str:
    """``13:00–14:00 07/12/2026``: the local hour (Decision 1459 names it by its end)."""
    start = hour_start.astimezone(zone)
    end = (hour_start + HOUR).astimezone(zone)
    end_text = "24:00" if end.hour == 0 else end.strftime("%H:%M")
    return f"{start:%H:%M}–{end_text} {start:%d/%m/%Y}"


def current_document(
    rows: Iterable[StationRow], now: datetime, zone: ZoneInfo, source: str, province: str
) -> dict[str, Any]:
    """The current-AQI document: a GeoJSON FeatureCollection of every active station."""
    features = [station_feature(r, now, zone) for r in rows]
    features.sort(key=lambda f: (f["properties"]["kind"] != "aqi", f["properties"]["name"]))
    return {
        "type": "FeatureCollection",
        "generated_at": now.isoformat(),
        "province": province,
        "standard": "VN_AQI, Quyết định 1459/QĐ-TCMT",
        "timezone": zone.key,
        "source": source,
        "sensitive_groups": SENSITIVE_GROUPS,
        "bands": bands_document(),
        "features": features,
    }


@dataclass(frozen=True)
class HourPoint:
    hour: datetime
    aqi: int | None
    category: int | None
    data_level: str | None
    publishable: bool
    pm25: float | None


@dataclass(frozen=True)
class DayPoint:
    day: date
    aqi: int | None
    category: int | None
    data_level: str | None
    publishable: bool
    pm25: float | None


def hourly_series(
    station_id: str, eligible: bool, points: Sequence[HourPoint], zone: ZoneInfo
) -> dict[str, Any]:
    """The last hours of one station: VN_AQI where it may be published, else PM2.5."""
    values = []
    for p in points:
        entry: dict[str, Any] = {
            "hour_start": p.hour.isoformat(),
            "hour_local": hour_label(p.hour, zone),
        }
        if eligible:
            ok = p.publishable and p.aqi is not None
            entry |= {
                "value": p.aqi if ok else None,
                "level": p.category if ok else None,
                "data_level": p.data_level if ok else None,
            }
        else:
            entry["value"] = _round1(p.pm25)
        values.append(entry)
    return _series(station_id, eligible, "hourly", values)


def daily_series(station_id: str, eligible: bool, points: Sequence[DayPoint]) -> dict[str, Any]:
    """The last days of one station: daily VN_AQI where it may be published, else PM2.5."""
    values = []
    for p in points:
        entry: dict[str, Any] = {"day": p.day.isoformat()}
        if eligible:
            ok = p.publishable and p.aqi is not None
            entry |= {
                "value": p.aqi if ok else None,
                "level": p.category if ok else None,
                "data_level": p.data_level if ok else None,
            }
        else:
            entry["value"] = _round1(p.pm25)
        values.append(entry)
    return _series(station_id, eligible, "daily", values)


def _series(
    station_id: str, eligible: bool, period: str, values: list[dict[str, Any]]
) -> dict[str, Any]:
    if eligible:
        quantity = {"quantity": "VN_AQI", "unit": None}
    else:
        quantity = {"quantity": "PM2.5", "unit": "µg/m³", "label": INDICATIVE_LABEL}
    return {
        "station_id": station_id,
        "period": period,
        **quantity,
        "missing": "null",
        "values": values,
    }
