"""The station catalogue: which stations exist, where they stand and what they measure.

The catalogue is a YAML file kept under version control (``AQM_STATIONS_FILE``; the
format is described in ``docs/stations.md``). It is the one source of truth for the
registry: ``aqm stations sync`` copies it into the ``stations`` table, and
``aqm stations credentials`` derives the broker's users and ACL from it.

Validation is as strict as the database's CHECK constraints and adds the rules an
officer would otherwise find out about months later:

* Circular 10/2021/TT-BTNMT Art. 29–31: only automatic ambient stations may publish an
  AQI; low-cost sensors and mobile units are reference stations (concentrations only).
* Decision 1459/QĐ-TCMT: no AQI without PM2.5 or PM10, so a station that publishes an
  AQI must measure one of them.
* Hourly completeness counts ``3600 / report_interval_s`` expected samples, so the
  interval must divide the hour.
* A retired station keeps its entry (its readings stay in reports) with the date.
* Circular 10/2021 text carries no zone: ``timezone`` names the IANA zone a station's
  datalogger clock keeps (a logger set to UTC), checked against the IANA database;
  without it ingest reads the station's text in ``AQM_TIMEZONE``.
* The file is YAML 1.2 (``on`` and ``5:00`` are text, ``0020`` is 20): an unquoted
  number, yes/no value or date where text is expected is refused (put it in quotes),
  and so is text or a yes/no value where a number is expected; coordinates written as
  degrees:minutes:seconds get their decimal degrees in the message.
"""

from __future__ import annotations

import difflib
import math
import re
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from ruamel.yaml.nodes import ScalarNode

from aqm_core.errors import AqmError
from aqm_core.parameters import PARAMETERS, canonical_parameter
from stations.located_yaml import LocatedDocument, YamlSourceError, dotted, load_located

# Same pattern as the CHECK on stations.station_id: the id is also the MQTT username and
# a topic level, so it may not hold '/', '+', '#' or spaces.
STATION_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
StationType = Literal["fixed_automatic", "mobile", "low_cost_sensor"]
StationStatus = Literal["active", "retired"]

# Vietnam including the Hoàng Sa and Trường Sa archipelagos. A station outside this box
# is a typo (a dropped minus sign, swapped or truncated digits), not a real site.
VIETNAM_LATITUDE = (6.0, 23.5)
VIETNAM_LONGITUDE = (102.0, 118.0)

# The AQI of Decision 1459 needs PM2.5 or PM10.
AQI_REQUIRED_ANY = ("pm25", "pm10")


class StationRuleError(AqmError, ValueError):
    """Cross-field rules a station breaks, each tied to the field an editor must change."""

    def __init__(self, problems: Sequence[tuple[str, str]]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(f"{name}: {message}" for name, message in self.problems))


def _text(value: object) -> object:
    # Vietnamese typed on different keyboards arrives composed or decomposed; store one
    # form so names compare equal in SQL and Grafana variables.
    if isinstance(value, bool | int | float | date):
        raise ValueError(f"must be text, but YAML reads it as {_read_as(value)}; "
                         "put it in quotes")
    if isinstance(value, str):
        value = unicodedata.normalize("NFC", value.strip())
        return value or None
    return value


def _one_line(value: str | None) -> str | None:
    # Names end up in one-line places: Grafana legends, CSV cells, comments in the ACL.
    if value is not None and any(ch in value for ch in "\r\n\t\x00"):
        raise ValueError("must be one line of text")
    return value


def _read_as(value: object) -> str:
    if isinstance(value, bool):
        return f"the yes/no value {str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {value}"
    return f"the date {value}"


def _station_id(value: object) -> object:
    if isinstance(value, bool | int | float | date):
        return _text(value)  # refuses it
    if value is not None and not isinstance(value, str):
        raise ValueError(
            f"must be text, but YAML read {value!r} ({type(value).__name__}); put it in quotes"
        )
    return value


def _number(value: object) -> object:
    if isinstance(value, bool | date):  # pydantic would take True as 1
        raise ValueError(f"must be a number, but YAML reads it as {_read_as(value)}")
    return value


def _degrees(value: object) -> object:
    # Coordinates copied as degrees:minutes:seconds are text to YAML 1.2.
    if isinstance(value, str) and ":" in value:
        hint = _decimal_degrees(value)
        if hint is not None:
            raise ValueError(f"{value} is not decimal degrees; write {hint} for {value} as "
                             "degrees:minutes:seconds")
    return _number(value)


def _decimal_degrees(text: str) -> str | None:
    """``21.186111`` for ``21:11:10`` read as degrees:minutes:seconds."""
    sign = -1 if text.startswith("-") else 1
    parts = text.lstrip("+-").replace("_", "").split(":")
    if len(parts) > 3:
        return None
    try:
        degrees = sum(float(part) / 60**power for power, part in enumerate(parts))
    except ValueError:
        return None
    return f"{sign * degrees:.6f}"


def _date(value: object) -> object:
    if isinstance(value, bool | int | float):  # pydantic would count seconds since 1970
        raise ValueError(f"must be a date written YYYY-MM-DD, but YAML reads it as "
                         f"{_read_as(value)}")
    return value


def _parameter_name(value: str) -> str:
    if value in PARAMETERS:
        return value
    known = canonical_parameter(value)
    if known is not None:
        raise ValueError(f"{value!r} is a datalogger name; write the canonical name {known!r}")
    raise ValueError(f"{value!r} is not a parameter aqm knows ({', '.join(PARAMETERS)})")


def _instrument_range(value: object) -> object:
    # [min, max] in the parameter's normalised unit (µg/m³ for gases and particles).
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise ValueError(f"must be [min, max], two numbers, not {value!r}")
    for bound, name in zip(value, ("min", "max"), strict=True):
        if isinstance(bound, bool) or not isinstance(bound, int | float):
            raise ValueError(f"{name} must be a number, not {bound!r}")
        if not math.isfinite(bound):
            raise ValueError(f"{name} must be a finite number, not {bound}")
    low, high = float(value[0]), float(value[1])
    if low >= high:
        raise ValueError(f"min {value[0]} must be below max {value[1]}")
    return (low, high)


def _alias_name(value: str) -> str:
    if not value.strip():
        raise ValueError("an alias may not be empty")
    if value in PARAMETERS:
        raise ValueError(f"{value!r} is already a canonical parameter name")
    return value


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


# "+07:00", "UTC+7", "GMT+07:00": an offset, not a zone.
_OFFSET_NAME = re.compile(r"(UTC|GMT)?\s*[+-]\s*\d{1,2}(:?\d{2})?", re.IGNORECASE)


def _zone_name(value: str | None) -> str | None:
    if value is None:
        return None
    if value in _zone_names():
        try:
            ZoneInfo(value)
            return value
        except (ZoneInfoNotFoundError, ValueError):
            pass
    if _OFFSET_NAME.fullmatch(value):
        raise ValueError(
            f"{value!r} is an offset, not an IANA time zone; write the zone of the place "
            "(Asia/Ho_Chi_Minh for UTC+7) or UTC for a clock kept in UTC"
        )
    close = difflib.get_close_matches(value, sorted(_zone_names()), n=1, cutoff=0.7)
    folded = [z for z in _zone_names() if z.casefold() == value.casefold()]
    hint = folded[0] if folded else close[0] if close else None
    suggestion = f"; did you mean {hint!r}?" if hint else " (e.g. Asia/Ho_Chi_Minh or UTC)"
    raise ValueError(f"{value!r} is not an IANA time zone{suggestion}")


OptionalText = Annotated[str | None, BeforeValidator(_text)]
OptionalLine = Annotated[str | None, BeforeValidator(_text), AfterValidator(_one_line)]
ParameterName = Annotated[str, AfterValidator(_parameter_name)]
AliasName = Annotated[str, AfterValidator(_alias_name)]
InstrumentRange = Annotated[tuple[float, float], BeforeValidator(_instrument_range)]
Number = Annotated[float, BeforeValidator(_number)]
Degrees = Annotated[float, BeforeValidator(_degrees)]
OptionalDate = Annotated[date | None, BeforeValidator(_date)]
ZoneName = Annotated[str | None, BeforeValidator(_text), AfterValidator(_zone_name)]

class StationClass(BaseModel):
    """A station's class from a date on (``classes`` entries; stations/eligibility.py)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    valid_from: date = Field(alias="from")
    station_type: StationType
    public_aqi: bool = False

    @model_validator(mode="after")
    def _reference_stations_publish_no_aqi(self) -> StationClass:
        if self.public_aqi and self.station_type != "fixed_automatic":
            raise ValueError(f"a {self.station_type} station is a reference station (Circular "
                             "10/2021 Art. 29-31): public_aqi must be false")
        return self


class Station(BaseModel):
    """One monitoring station as the catalogue declares it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    station_id: Annotated[str, BeforeValidator(_station_id)] = Field(pattern=STATION_ID_PATTERN)
    name: Annotated[str, BeforeValidator(_text), AfterValidator(_one_line)] = Field(min_length=1)
    ward: OptionalLine = None
    district: OptionalLine = None
    latitude: Degrees = Field(ge=-90, le=90, allow_inf_nan=False)
    longitude: Degrees = Field(ge=-180, le=180, allow_inf_nan=False)
    elevation_m: Number | None = Field(default=None, allow_inf_nan=False)
    station_type: StationType
    public_aqi: bool = False
    status: StationStatus = "active"
    installed_on: OptionalDate = None
    retired_on: OptionalDate = None
    report_interval_s: Annotated[int, BeforeValidator(_number)] = Field(default=300, ge=1,
                                                                        le=3600)
    parameters: tuple[ParameterName, ...] = Field(min_length=1)
    # Datalogger names this station writes that the global alias table does not know,
    # e.g. {"BUI PM2.5": pm25}; passed to aqm_core.parameters.canonical_parameter.
    aliases: dict[AliasName, ParameterName] = Field(default_factory=dict)
    # IANA zone of the datalogger's clock (Circular 10/2021 text has none); None: the
    # deployment's AQM_TIMEZONE.
    timezone: ZoneName = None
    notes: OptionalText = None
    # Class history (Circular 10/2021 Art. 29-30), oldest first; the last entry is the
    # class in force now and must agree with station_type and public_aqi above.
    classes: tuple[StationClass, ...] = ()
    # A low-cost sensor's PM2.5 correction (stations/pm25_correction.py), e.g. us_epa_2021.
    pm25_correction: Literal["us_epa_2021"] | None = None
    # The measuring range of this station's instrument per parameter, [min, max] in the
    # parameter's normalised unit (µg/m³; docs/stations.md). The automatic range rule
    # (qaqc/rules.py) uses it instead of the rules file's range_max.
    instrument_ranges: dict[ParameterName, InstrumentRange] = Field(default_factory=dict)

    @field_validator("parameters")
    @classmethod
    def _one_of_each_in_canonical_order(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        repeated = sorted({p for p in value if value.count(p) > 1})
        if repeated:
            raise ValueError(f"listed more than once: {', '.join(repeated)}")
        # Canonical order, so reordering the YAML list is not a change to the registry.
        order = list(PARAMETERS)
        return tuple(sorted(value, key=order.index))

    @model_validator(mode="after")
    def _rules(self) -> Station:
        problems: list[tuple[str, str]] = []
        if self.status == "retired" and self.retired_on is None:
            problems.append(("retired_on", "a retired station needs the date it stopped"))
        if self.status == "active" and self.retired_on is not None:
            problems.append(("status", "has retired_on, so write status: retired"))
        if self.installed_on and self.retired_on and self.retired_on < self.installed_on:
            problems.append(("retired_on", f"{self.retired_on} is before installed_on "
                                           f"{self.installed_on}"))
        if 3600 % self.report_interval_s:
            problems.append(("report_interval_s", f"{self.report_interval_s} s does not divide "
                                                  "the hour (e.g. 60, 300, 600, 900, 3600)"))
        if self.public_aqi and self.station_type != "fixed_automatic":
            problems.append(("public_aqi", f"a {self.station_type} station is a reference "
                                           "station (Circular 10/2021 Art. 29-31): it may "
                                           "publish concentrations, not an AQI"))
        if self.public_aqi and not set(AQI_REQUIRED_ANY) & set(self.parameters):
            problems.append(("public_aqi", "an AQI needs PM2.5 or PM10 (Decision 1459), and "
                                           "parameters lists neither"))
        lat_lo, lat_hi = VIETNAM_LATITUDE
        if not lat_lo <= self.latitude <= lat_hi:
            problems.append(("latitude", f"{self.latitude} is outside Vietnam "
                                         f"({lat_lo}..{lat_hi} °N)"))
        lon_lo, lon_hi = VIETNAM_LONGITUDE
        if not lon_lo <= self.longitude <= lon_hi:
            problems.append(("longitude", f"{self.longitude} is outside Vietnam "
                                          f"({lon_lo}..{lon_hi} °E)"))
        problems += self._class_problems()
        folded: dict[str, str] = {}
        for alias, target in self.aliases.items():
            key = alias.upper().replace(" ", "")
            if key in folded:
                problems.append(("aliases", f"{alias!r} and {folded[key]!r} are the same name "
                                            "(case and spaces are ignored)"))
            folded[key] = alias
            if target not in self.parameters:
                problems.append(("aliases", f"{alias!r} maps to {target!r}, which parameters "
                                            "does not list"))
        for parameter in self.instrument_ranges:
            if parameter not in self.parameters:
                problems.append(("instrument_ranges", f"{parameter!r} has a range, but "
                                                      "parameters does not list it"))
        if problems:
            raise StationRuleError(problems)
        return self

    def _class_problems(self) -> list[tuple[str, str]]:
        problems: list[tuple[str, str]] = []
        starts = [c.valid_from for c in self.classes]
        if starts != sorted(set(starts)):
            problems.append(("classes", "entries must be in date order, one per date"))
        if self.classes:
            last = max(self.classes, key=lambda c: c.valid_from)
            if (last.station_type, last.public_aqi) != (self.station_type, self.public_aqi):
                problems.append(("classes", f"the latest entry (from {last.valid_from}) must "
                                            "match station_type and public_aqi, the class in "
                                            "force now"))
        if self.pm25_correction is not None and "pm25" not in self.parameters:
            problems.append(("pm25_correction", "parameters does not list pm25"))
        if self.pm25_correction is not None and "humidity" not in self.parameters:
            problems.append(("pm25_correction", "the correction needs relative humidity, and "
                                                "parameters does not list humidity"))
        return problems

    @property
    def active(self) -> bool:
        return self.status == "active"


class CatalogueDocument(BaseModel):
    """The whole YAML file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1] = 1
    province: OptionalLine = None
    stations: tuple[Station, ...]

    @field_validator("stations")
    @classmethod
    def _not_empty(cls, value: tuple[Station, ...]) -> tuple[Station, ...]:
        # Checked here, not with min_length, which pydantic would also report whenever
        # a single station fails.
        if not value:
            raise ValueError("the catalogue lists no station")
        return value


@dataclass(frozen=True)
class Catalogue:
    """A validated catalogue, looked up by station id."""

    path: Path
    province: str | None
    stations: tuple[Station, ...]
    _by_id: Mapping[str, Station] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {s.station_id: s for s in self.stations})

    def __iter__(self) -> Iterator[Station]:
        return iter(self.stations)

    def __len__(self) -> int:
        return len(self.stations)

    def get(self, station_id: str) -> Station | None:
        return self._by_id.get(station_id)

    def active(self) -> tuple[Station, ...]:
        """Stations that may send readings now."""
        return tuple(s for s in self.stations if s.active)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the catalogue, located for the person editing it."""

    path: Path
    line: int | None
    where: str
    message: str

    def __str__(self) -> str:
        place = f"{self.path}:{self.line}" if self.line is not None else str(self.path)
        where = f"{self.where}: " if self.where else ""
        return f"{place}: {where}{self.message}"


class CatalogueError(AqmError, ValueError):
    """The catalogue cannot be used; ``problems`` lists every fault found, by line."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(sorted(problems, key=lambda p: (p.line or 0, p.where)))
        super().__init__("\n".join(str(p) for p in self.problems))


def load_catalogue(path: Path) -> Catalogue:
    """Read and validate the catalogue at ``path``; raises :class:`CatalogueError`."""
    try:
        doc = load_located(path)
    except YamlSourceError as exc:
        partial = LocatedDocument(exc.path, None, exc.root)
        raise CatalogueError([Problem(exc.path, exc.line, _describe(exc.location, partial),
                                      exc.message)]) from exc
    if not isinstance(doc.data, dict):
        found = "nothing" if doc.data is None else type(doc.data).__name__
        raise CatalogueError([Problem(path, doc.line_of(()), "",
                                      f"expected a mapping with a 'stations' list, found {found}")])
    # Repeated ids are looked for in the raw entries, so they are reported together with
    # every other fault rather than only once the rest is fixed.
    problems = _repeated_ids(doc)
    # Top-level "x-" keys hold YAML anchors shared by several stations (as in Compose files).
    data = {k: v for k, v in doc.data.items() if not str(k).startswith("x-")}
    try:
        parsed = CatalogueDocument.model_validate(data)
    except ValidationError as exc:
        problems += _problems_from(exc, doc)
    if problems:
        raise CatalogueError(problems)
    return Catalogue(path=path, province=parsed.province, stations=parsed.stations)


def _problems_from(exc: ValidationError, doc: LocatedDocument) -> list[Problem]:
    problems: list[Problem] = []
    for error in exc.errors():
        loc = tuple(error["loc"])
        cause = (error.get("ctx") or {}).get("error")
        if isinstance(cause, StationRuleError):
            for field_name, message in cause.problems:
                where_loc = (*loc, field_name)
                problems.append(Problem(doc.path, doc.line_of(where_loc),
                                        _describe(where_loc, doc), message))
            continue
        problems.append(Problem(doc.path, doc.line_of(loc), _describe(loc, doc), _message(error)))
    return problems


def _message(error: Mapping[str, object]) -> str:
    kind = error["type"]
    loc = error["loc"]
    assert isinstance(loc, tuple)
    if kind == "extra_forbidden":
        name = str(loc[-1])
        model: type[BaseModel] = Station if len(loc) > 2 else CatalogueDocument
        close = difflib.get_close_matches(name, list(model.model_fields), n=1)
        if close:
            return f"unknown field; did you mean {close[0]!r}?"
        return f"unknown field; fields are: {', '.join(model.model_fields)}"
    if kind == "missing":
        return "required field is missing"
    message = str(error["msg"])
    return message.removeprefix("Value error, ")


def _describe(loc: Sequence[str | int], doc: LocatedDocument) -> str:
    """``station BN-01: latitude`` rather than pydantic's ``stations.0.latitude``."""
    if len(loc) >= 2 and loc[0] == "stations" and isinstance(loc[1], int):
        label = f"stations[{loc[1]}]"
        # Read from the node tree, which a document that failed to load still has.
        node = doc.node_at(("stations", loc[1], "station_id"))
        if (isinstance(node, ScalarNode) and node.tag == "tag:yaml.org,2002:str"
                and isinstance(node.value, str) and node.value):
            label = f"station {node.value}"
        rest = _dotted(loc[2:])
        return f"{label}: {rest}" if rest else label
    return _dotted(loc)


def _dotted(loc: Sequence[str | int]) -> str:
    # "[key]" is pydantic's marker for a fault in a mapping key, not its value.
    return dotted(part for part in loc if part != "[key]")


def _repeated_ids(doc: LocatedDocument) -> list[Problem]:
    # Ids differing only in case are refused too: they would be two broker users and two
    # topics for what an officer reads as one station.
    entries = doc.data.get("stations") if isinstance(doc.data, dict) else None
    if not isinstance(entries, list):
        return []
    problems: list[Problem] = []
    first: dict[str, tuple[str, int | None]] = {}
    for index, entry in enumerate(entries):
        station_id = entry.get("station_id") if isinstance(entry, dict) else None
        if not isinstance(station_id, str):
            continue
        loc = ("stations", index, "station_id")
        line = doc.line_of(loc)
        key = station_id.casefold()
        if key not in first:
            first[key] = (station_id, line)
            continue
        other_id, other_line = first[key]
        if other_id == station_id:
            message = f"{station_id!r} is already used on line {other_line}"
        else:
            message = f"{station_id!r} differs only in case from {other_id!r} on line {other_line}"
        problems.append(Problem(doc.path, line, _describe(loc, doc), message))
    return problems
