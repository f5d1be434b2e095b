"""The SensorThings entity sets over aqm's tables: their SQL, ids, properties and links.

Every set is a fixed SQL query (``source``) over the tables ``aqm_reader`` reads; requests
only add conditions with placeholders to it. Ids are strings built from natural keys:

* Thing, Location: the station id (``BN01``);
* Sensor: the instrument of a station and parameter (``BN01.pm25``), or the VN_AQI
  calculation of Decision 1459/QĐ-TCMT (``vn_1459_2019``);
* ObservedProperty: the parameter (``pm25``) or ``vn_aqi``;
* Datastream: station, quantity and aggregation (``BN01.pm25.hourly``); aggregations are
  ``raw`` (readings as measured), ``hourly`` (valid hourly means), and for VN_AQI
  ``hourly`` and ``daily``;
* Observation: its datastream and the start of its phenomenon time
  (``BN01.pm25.hourly.2025-01-01T00:00:00Z``).

VN_AQI is served only where it may be published (Circular 10/2021/TT-BTNMT Art. 29-31,
the rule of stations/eligibility.py): a station has VN_AQI datastreams if it may publish
on some day, and they hold the values of the days it may (``station_class_periods``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from psycopg import sql

from aqm_core.errors import AqmError

Row = Mapping[str, Any]
Kind = Literal["text", "number", "time"]

AQI_QUANTITY: Final = "vn_aqi"
AQI_STANDARD: Final = "vn_1459_2019"
AQI_SENSOR: Final = AQI_STANDARD

MEASUREMENT: Final = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"


class IdError(AqmError, ValueError):
    """An id that cannot name an entity of the set."""


# ---- ids ---------------------------------------------------------------------------------


def format_time(value: dt.datetime) -> str:
    """ISO 8601 in UTC with ``Z``; seconds always, microseconds only when not zero."""
    text = value.astimezone(dt.UTC).isoformat()
    return text[:-6] + "Z"  # isoformat of a UTC time ends in +00:00


def parse_time(text: str) -> dt.datetime:
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise IdError(f"{text!r} is not a time like 2025-01-01T00:00:00Z") from None
    if value.tzinfo is None:
        raise IdError(f"{text!r} has no time zone (end it with Z)")
    return value


def datastream_key(text: str) -> tuple[str, str, str]:
    parts = text.split(".")
    if len(parts) != 3 or not all(parts):
        raise IdError(f"{text!r} is not a Datastream id like 'BN01.pm25.hourly'")
    return parts[0], parts[1], parts[2]


# An Observation's key in the order of its tables' primary keys (station, parameter,
# time) with the aggregation last: listing every Observation then merges index ranges
# instead of sorting them all. observation_key returns its parts in this order.
OBSERVATION_KEY: Final = ("station_id", "quantity", "t_start", "aggregation")


def observation_key(text: str) -> tuple[str, str, dt.datetime, str]:
    parts = text.split(".", 3)
    if len(parts) != 4 or not all(parts):
        raise IdError(
            f"{text!r} is not an Observation id like 'BN01.pm25.hourly.2025-01-01T00:00:00Z'"
        )
    return parts[0], parts[1], parse_time(parts[3]), parts[2]


# ---- entity descriptions -----------------------------------------------------------------


@dataclass(frozen=True)
class Property:
    """A property usable in ``$filter`` and ``$orderby``: SQL columns of the source and how
    a literal becomes their values (an id literal may stand for several key columns)."""

    columns: tuple[str, ...]
    kind: Kind
    decode: Callable[[object], tuple[object, ...]] | None = None


@dataclass(frozen=True)
class Navigation:
    """From a row of one set to the rows of ``target`` whose ``columns`` equal ``values``."""

    target: str
    many: bool
    columns: tuple[str, ...]
    values: Callable[[Row], tuple[object, ...]]


@dataclass(frozen=True)
class EntitySet:
    name: str
    source: sql.Composable
    key: tuple[str, ...]
    id_of: Callable[[Row], str]
    decode_id: Callable[[str], tuple[object, ...]]
    properties: Mapping[str, Property]
    to_json: Callable[[Row], dict[str, Any]]
    navigation: Mapping[str, Navigation]
    json_names: tuple[str, ...]
    filters: Mapping[str, Property] = field(default_factory=dict)
    # a source made of branches (UNION ALL): those that can hold rows when conditions
    # hold some columns constant
    branches: Callable[[Mapping[str, object]], tuple[sql.Composable, ...]] | None = None
    # computed for the rows of a page only (the source's row is ``e``)
    page_columns: sql.Composable | None = None

    def property(self, name: str) -> Property | None:
        return self.properties.get(name) or self.filters.get(name)

    def branches_for(self, fixed: Mapping[str, object]) -> tuple[sql.Composable, ...]:
        return (self.source,) if self.branches is None else self.branches(fixed)

    def source_for(self, fixed: Mapping[str, object]) -> sql.Composable:
        return sql.SQL("\n    UNION ALL\n").join(self.branches_for(fixed))


def _text_id(text: str) -> tuple[object, ...]:
    return (text,)


def _literal_id(
    decode: Callable[[str], tuple[object, ...]],
) -> Callable[[object], tuple[object, ...]]:
    def convert(value: object) -> tuple[object, ...]:
        if not isinstance(value, str):
            raise IdError(f"ids are strings in quotes, not {value!r}")
        return decode(value)

    return convert


def _id_property(decode: Callable[[str], tuple[object, ...]], columns: tuple[str, ...]) -> Property:
    return Property(columns, "text", _literal_id(decode))


# ---- Things and Locations ------------------------------------------------------------------

_STATION_KIND_VI: Final = {
    "fixed_automatic": "Trạm quan trắc không khí tự động cố định",
    "mobile": "Trạm quan trắc không khí di động (chỉ thị)",
    "low_cost_sensor": "Cảm biến chi phí thấp (chỉ thị)",
}

_STATIONS = sql.SQL("""
    SELECT s.station_id AS id, s.name, s.ward, s.district, s.station_type, s.public_aqi,
           s.status, s.parameters, s.installed_on, s.retired_on, s.latitude, s.longitude,
           s.elevation_m
    FROM stations s
""")


def _place(row: Row) -> str:
    return ", ".join(p for p in (row["ward"], row["district"]) if p)


def _thing_json(row: Row) -> dict[str, Any]:
    kind = _STATION_KIND_VI.get(row["station_type"], row["station_type"])
    place = _place(row)
    return {
        "name": row["name"],
        "description": f"{kind} — {place}" if place else kind,
        "properties": {
            "stationType": row["station_type"],
            "publicAqi": row["public_aqi"],
            "status": row["status"],
            "ward": row["ward"],
            "district": row["district"],
            "parameters": list(row["parameters"]),
            "installedOn": row["installed_on"].isoformat() if row["installed_on"] else None,
            "retiredOn": row["retired_on"].isoformat() if row["retired_on"] else None,
        },
    }


def _location_json(row: Row) -> dict[str, Any]:
    coordinates = [row["longitude"], row["latitude"]]
    if row["elevation_m"] is not None:
        coordinates.append(row["elevation_m"])
    place = _place(row)
    return {
        "name": row["name"],
        "description": place or row["name"],
        "encodingType": "application/geo+json",
        "location": {"type": "Point", "coordinates": coordinates},
    }


# ---- ObservedProperties and Sensors --------------------------------------------------------

_OBSERVED_PROPERTIES = sql.SQL("""
    SELECT parameter AS id, name_en, name_vi, unit, is_pollutant FROM parameters
    UNION ALL
    SELECT 'vn_aqi', 'VN_AQI', 'Chỉ số chất lượng không khí Việt Nam (VN_AQI)', NULL, false
""")


def _observed_property_json(row: Row) -> dict[str, Any]:
    if row["id"] == AQI_QUANTITY:
        description = (
            "Vietnam Air Quality Index, Decision 1459/QĐ-TCMT (2019); hourly and daily values"
        )
    else:
        description = f"{row['name_en']} ({row['unit']})"
    return {
        "name": row["name_en"],
        "definition": f"urn:aqm:def:observedProperty:{row['id']}",
        "description": description,
        "properties": {"nameVi": row["name_vi"], "pollutant": row["is_pollutant"]},
    }


_SENSORS = sql.SQL("""
    SELECT s.station_id || '.' || m.parameter AS id, s.station_id, m.parameter,
           s.name AS station_name, coalesce(p.name_en, m.parameter) AS parameter_name,
           s.instrument_ranges -> m.parameter AS instrument_range
    FROM stations s
    CROSS JOIN LATERAL unnest(s.parameters) AS m(parameter)
    LEFT JOIN parameters p ON p.parameter = m.parameter
    UNION ALL
    SELECT 'vn_1459_2019', NULL, 'vn_aqi', NULL, 'VN_AQI', NULL
""")


def _sensor_json(row: Row) -> dict[str, Any]:
    if row["id"] == AQI_SENSOR:
        return {
            "name": "VN_AQI, Decision 1459/QĐ-TCMT",
            "description": (
                "Hourly and daily VN_AQI computed by aqm from the station's valid hourly "
                "means by the method of Decision 1459/QĐ-TCMT (2019)"
            ),
            "encodingType": "text/plain",
            "metadata": "Decision 1459/QĐ-TCMT (2019) of the Vietnam Environment Administration",
            "properties": {"standard": AQI_STANDARD},
        }
    return {
        "name": f"{row['parameter_name']} instrument at {row['station_name']}",
        "description": f"The {row['parameter_name']} instrument of station {row['station_id']}",
        "encodingType": "text/plain",
        "metadata": f"station {row['station_id']}, parameter {row['parameter']}",
        "properties": {"measuringRange": row["instrument_range"]},
    }


# ---- Datastreams ---------------------------------------------------------------------------

_DATASTREAMS = sql.SQL("""
    SELECT s.station_id || '.' || m.parameter || '.' || a.aggregation AS id,
           s.station_id, m.parameter AS quantity, a.aggregation,
           s.station_id || '.' || m.parameter AS sensor_id,
           s.name AS station_name, coalesce(p.name_en, m.parameter) AS quantity_name,
           p.unit
    FROM stations s
    CROSS JOIN LATERAL unnest(s.parameters) AS m(parameter)
    LEFT JOIN parameters p ON p.parameter = m.parameter
    CROSS JOIN (VALUES ('raw'), ('hourly')) AS a(aggregation)
    UNION ALL
    SELECT s.station_id || '.vn_aqi.' || a.aggregation, s.station_id, 'vn_aqi', a.aggregation,
           'vn_1459_2019', s.name, 'VN_AQI', NULL
    FROM stations s
    CROSS JOIN (VALUES ('hourly'), ('daily')) AS a(aggregation)
    WHERE EXISTS (SELECT FROM station_class_periods c
                  WHERE c.station_id = s.station_id AND c.aqi_publishable)
""")

# unit as stored (aqm_core/parameters.py) -> name and UCUM code
_UNITS: Final = {
    "µg/m³": ("microgram per cubic metre", "ug/m3"),
    "°C": ("degree Celsius", "Cel"),
    "%": ("percent", "%"),
    "hPa": ("hectopascal", "hPa"),
    "m/s": ("metre per second", "m/s"),
    "°": ("degree (angle)", "deg"),
    "mm": ("millimetre", "mm"),
}

_AGGREGATION_TEXT: Final = {
    ("raw", False): ("readings as measured", None),
    ("hourly", False): ("valid hourly means", "PT1H"),
    ("hourly", True): ("hourly VN_AQI", "PT1H"),
    ("daily", True): ("daily VN_AQI", "P1D"),
}


def unit_of_measurement(quantity: str, unit: str | None) -> dict[str, str]:
    if quantity == AQI_QUANTITY:
        return {
            "name": "VN_AQI (dimensionless index)",
            "symbol": "VN_AQI",
            "definition": "urn:ogc:def:uom:UCUM::1",
        }
    name, code = _UNITS.get(unit or "", (unit or "unknown", unit or ""))
    return {"name": name, "symbol": unit or "", "definition": f"urn:ogc:def:uom:UCUM::{code}"}


def _datastream_json(row: Row) -> dict[str, Any]:
    is_aqi = row["quantity"] == AQI_QUANTITY
    what, period = _AGGREGATION_TEXT.get((row["aggregation"], is_aqi), (row["aggregation"], None))
    name = f"{row['station_name']} — {row['quantity_name']}, {what}"
    return {
        "name": name,
        "description": f"{row['quantity_name']} at station {row['station_id']}: {what}",
        "observationType": MEASUREMENT,
        "unitOfMeasurement": unit_of_measurement(row["quantity"], row["unit"]),
        "properties": {
            "aggregation": row["aggregation"],
            "averagingPeriod": period,
            "stationId": row["station_id"],
            "parameter": row["quantity"],
        },
    }


# ---- Observations --------------------------------------------------------------------------


# One branch per kind of Observation, each reading one table through its primary key
# and returning plain columns only. A request naming one datastream reads only its branch
# (``branches_for``), so its time order comes from the index; a listing of several takes
# each branch's first rows in key order from its index and merges them (sqlbuild's
# ``select_query``). What costs per row (times as text, a raw reading's verification and
# flags) is computed by ``_PAGE_COLUMNS`` on the page's rows only, after the order and
# the limit. Local days are Asia/Ho_Chi_Minh days, as everywhere in aqm
# (storage/migrations/0001_core.sql).
_RAW_READINGS = sql.SQL("""
    SELECT r.station_id, r.parameter AS quantity, 'raw'::text AS aggregation,
           r.ts AS t_start, NULL::timestamptz AS t_end, r.value AS result,
           r.ts AS result_time, NULL::text AS data_level, r.status,
           NULL::double precision AS completeness, NULL::integer AS n_valid,
           NULL::integer AS n_expected, NULL::text AS standard, NULL::smallint AS category,
           NULL::text AS band, NULL::text AS dominant
    FROM readings r
""")

_HOURLY_MEANS = sql.SQL("""
    SELECT h.station_id, h.parameter AS quantity, 'hourly'::text AS aggregation,
           h.hour AS t_start, h.hour + INTERVAL '1 hour' AS t_end, h.mean AS result,
           h.computed_at AS result_time, h.data_level, NULL::text AS status,
           h.completeness, h.n_valid, h.n_expected,
           NULL::text AS standard, NULL::smallint AS category, NULL::text AS band,
           NULL::text AS dominant
    FROM hourly h
    WHERE h.valid AND h.mean IS NOT NULL
""")

_HOURLY_AQI = sql.SQL("""
    SELECT a.station_id, 'vn_aqi'::text AS quantity, 'hourly'::text AS aggregation,
           a.hour AS t_start, a.hour + INTERVAL '1 hour' AS t_end,
           a.aqi::double precision AS result, a.computed_at AS result_time, a.data_level,
           NULL::text AS status, NULL::double precision AS completeness,
           NULL::integer AS n_valid, NULL::integer AS n_expected, a.standard, a.category,
           k.name_vi AS band, a.dominant
    FROM aqi_hourly a
    JOIN station_class_periods p
      ON p.station_id = a.station_id AND p.aqi_publishable
     AND (p.valid_from IS NULL OR p.valid_from <= (a.hour AT TIME ZONE 'Asia/Ho_Chi_Minh')::date)
     AND (p.valid_to IS NULL OR (a.hour AT TIME ZONE 'Asia/Ho_Chi_Minh')::date < p.valid_to)
    LEFT JOIN aqi_categories k ON k.standard = a.standard AND k.level = a.category
    WHERE a.standard = 'vn_1459_2019' AND a.aqi IS NOT NULL
""")

_DAILY_AQI = sql.SQL("""
    SELECT a.station_id, 'vn_aqi'::text AS quantity, 'daily'::text AS aggregation,
           a.day::timestamp AT TIME ZONE 'Asia/Ho_Chi_Minh' AS t_start,
           (a.day + 1)::timestamp AT TIME ZONE 'Asia/Ho_Chi_Minh' AS t_end,
           a.aqi::double precision AS result, a.computed_at AS result_time, a.data_level,
           NULL::text AS status, NULL::double precision AS completeness,
           NULL::integer AS n_valid, NULL::integer AS n_expected, a.standard, a.category,
           k.name_vi AS band, a.dominant
    FROM aqi_daily a
    JOIN station_class_periods p
      ON p.station_id = a.station_id AND p.aqi_publishable
     AND (p.valid_from IS NULL OR p.valid_from <= a.day)
     AND (p.valid_to IS NULL OR a.day < p.valid_to)
    LEFT JOIN aqi_categories k ON k.standard = a.standard AND k.level = a.category
    WHERE a.standard = 'vn_1459_2019' AND a.aqi IS NOT NULL
""")


def _iso(column: str) -> str:
    """SQL for format_time: the ISO 8601 text of a timestamptz in UTC, formatted by the
    database (in Python it took most of a page's time); one ``to_char`` with the
    microseconds, which are left out where they are zero."""
    return (
        f"replace(to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),"
        " '.000000Z', 'Z')"
    )


# Computed for the rows of a page (alias ``e``): the times as text, and for raw readings
# the level (verified inside an officer's verified period) and the automatic flags.
_PAGE_COLUMNS = sql.SQL(f"""
    {_iso("e.t_start")} AS start_text,
    {_iso("e.t_end")} AS end_text,
    {_iso("e.result_time")} AS result_time_text,
    CASE WHEN e.aggregation <> 'raw' THEN e.data_level
         WHEN EXISTS (SELECT FROM qc_actions v
                      WHERE v.action = 'verify' AND v.station_id = e.station_id
                        AND v.period_start <= e.t_start AND e.t_start < v.period_end)
         THEN 'verified' ELSE 'provisional' END AS level,
    CASE WHEN e.aggregation = 'raw' THEN
        ARRAY(SELECT c.code FROM qc_flags f JOIN qc_rule_codes c ON f.flags & c.bit <> 0
              WHERE f.station_id = e.station_id AND f.parameter = e.quantity
                AND f.ts = e.t_start ORDER BY c.bit)
    END AS qc_flags
""")


_NOTHING = sql.SQL("SELECT * FROM ({}) AS nothing WHERE false").format(_HOURLY_MEANS)

# (quantity is VN_AQI, aggregation) -> the branch holding those Observations
_BRANCHES: Final = {
    (False, "raw"): _RAW_READINGS,
    (False, "hourly"): _HOURLY_MEANS,
    (True, "hourly"): _HOURLY_AQI,
    (True, "daily"): _DAILY_AQI,
}


def _observation_branches(fixed: Mapping[str, object]) -> tuple[sql.Composable, ...]:
    """The branches a quantity and/or aggregation held constant leave: a request naming
    one Datastream reads one table."""
    quantity, aggregation = fixed.get("quantity"), fixed.get("aggregation")
    found = tuple(
        branch
        for (is_aqi, branch_aggregation), branch in _BRANCHES.items()
        if (quantity is None or (quantity == AQI_QUANTITY) == is_aqi)
        and (aggregation is None or aggregation == branch_aggregation)
    )
    return found or (_NOTHING,)


def _observation_id(row: Row) -> str:
    return f"{row['station_id']}.{row['quantity']}.{row['aggregation']}.{row['start_text']}"


def _observation_json(row: Row) -> dict[str, Any]:
    quality: dict[str, Any] = {"dataLevel": row["level"]}
    end = row["end_text"]
    body: dict[str, Any] = {
        "phenomenonTime": row["start_text"] if end is None else f"{row['start_text']}/{end}",
        "resultTime": row["result_time_text"],
        "result": row["result"],
        "resultQuality": quality,
    }
    if row["aggregation"] == "raw":
        quality["status"] = row["status"]
        quality["qcFlags"] = row["qc_flags"]
    elif row["quantity"] == AQI_QUANTITY:
        body["result"] = round(row["result"])
        body["parameters"] = {
            "standard": row["standard"],
            "category": row["category"],
            "band": row["band"],
            "dominantPollutant": row["dominant"],
        }
    else:
        quality["completeness"] = row["completeness"]
        quality["validSamples"] = row["n_valid"]
        quality["expectedSamples"] = row["n_expected"]
    return body


def _datastream_of_observation(row: Row) -> tuple[object, ...]:
    return row["station_id"], row["quantity"], row["aggregation"]


def _observation_id_property() -> Property:
    return _id_property(observation_key, OBSERVATION_KEY)


_ID_NAMES: Final = ("id", "@iot.id")


def _with_ids(prop: Property) -> dict[str, Property]:
    return dict.fromkeys(_ID_NAMES, prop)


ENTITY_SETS: Final[Mapping[str, EntitySet]] = {
    "Things": EntitySet(
        name="Things",
        source=_STATIONS,
        key=("id",),
        id_of=lambda row: str(row["id"]),
        decode_id=_text_id,
        properties={
            **_with_ids(_id_property(_text_id, ("id",))),
            "name": Property(("name",), "text"),
        },
        to_json=_thing_json,
        navigation={
            "Locations": Navigation("Locations", True, ("id",), lambda r: (r["id"],)),
            "Datastreams": Navigation("Datastreams", True, ("station_id",), lambda r: (r["id"],)),
        },
        json_names=("name", "description", "properties"),
    ),
    "Locations": EntitySet(
        name="Locations",
        source=_STATIONS,
        key=("id",),
        id_of=lambda row: str(row["id"]),
        decode_id=_text_id,
        properties={
            **_with_ids(_id_property(_text_id, ("id",))),
            "name": Property(("name",), "text"),
        },
        to_json=_location_json,
        navigation={"Things": Navigation("Things", True, ("id",), lambda r: (r["id"],))},
        json_names=("name", "description", "encodingType", "location"),
    ),
    "Sensors": EntitySet(
        name="Sensors",
        source=_SENSORS,
        key=("id",),
        id_of=lambda row: str(row["id"]),
        decode_id=_text_id,
        properties=_with_ids(_id_property(_text_id, ("id",))),
        to_json=_sensor_json,
        navigation={
            "Datastreams": Navigation("Datastreams", True, ("sensor_id",), lambda r: (r["id"],))
        },
        json_names=("name", "description", "encodingType", "metadata", "properties"),
    ),
    "ObservedProperties": EntitySet(
        name="ObservedProperties",
        source=_OBSERVED_PROPERTIES,
        key=("id",),
        id_of=lambda row: str(row["id"]),
        decode_id=_text_id,
        properties={
            **_with_ids(_id_property(_text_id, ("id",))),
            "name": Property(("name_en",), "text"),
        },
        to_json=_observed_property_json,
        navigation={
            "Datastreams": Navigation("Datastreams", True, ("quantity",), lambda r: (r["id"],))
        },
        json_names=("name", "definition", "description", "properties"),
    ),
    "Datastreams": EntitySet(
        name="Datastreams",
        source=_DATASTREAMS,
        key=("id",),
        id_of=lambda row: str(row["id"]),
        decode_id=_text_id,
        properties=_with_ids(_id_property(_text_id, ("id",))),
        filters={
            f"{target}/{name}": _id_property(_text_id, (column,))
            for target, column in (
                ("Thing", "station_id"),
                ("Sensor", "sensor_id"),
                ("ObservedProperty", "quantity"),
            )
            for name in _ID_NAMES
        },
        to_json=_datastream_json,
        navigation={
            "Thing": Navigation("Things", False, ("id",), lambda r: (r["station_id"],)),
            "Sensor": Navigation("Sensors", False, ("id",), lambda r: (r["sensor_id"],)),
            "ObservedProperty": Navigation(
                "ObservedProperties", False, ("id",), lambda r: (r["quantity"],)
            ),
            "Observations": Navigation(
                "Observations",
                True,
                ("station_id", "quantity", "aggregation"),
                lambda r: (r["station_id"], r["quantity"], r["aggregation"]),
            ),
        },
        json_names=(
            "name",
            "description",
            "observationType",
            "unitOfMeasurement",
            "properties",
        ),
    ),
    "Observations": EntitySet(
        name="Observations",
        source=sql.SQL("\n    UNION ALL\n").join(_BRANCHES.values()),
        branches=_observation_branches,
        page_columns=_PAGE_COLUMNS,
        key=OBSERVATION_KEY,
        id_of=_observation_id,
        decode_id=observation_key,
        properties={
            **_with_ids(_observation_id_property()),
            "phenomenonTime": Property(("t_start",), "time"),
            "resultTime": Property(("result_time",), "time"),
            "result": Property(("result",), "number"),
        },
        filters={
            f"Datastream/{name}": _id_property(
                datastream_key, ("station_id", "quantity", "aggregation")
            )
            for name in _ID_NAMES
        },
        to_json=_observation_json,
        navigation={
            "Datastream": Navigation(
                "Datastreams",
                False,
                ("station_id", "quantity", "aggregation"),
                _datastream_of_observation,
            )
        },
        json_names=(
            "phenomenonTime",
            "resultTime",
            "result",
            "resultQuality",
            "parameters",
        ),
    ),
}
