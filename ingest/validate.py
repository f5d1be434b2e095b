"""Judge each raw reading alone: known active station, known parameter and unit,
plausible value, believable time, valid status. Good readings become ``Reading``s;
the rest become ``Rejection``s with a stable reason code.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from aqm_core.parameters import PARAMETERS, canonical_parameter
from ingest.model import Decoded, RawReading, Reading, Reason, Rejection, SourceFormat
from ingest.units import canonical_unit, converter

STATUSES = {"00", "01", "02"}  # Circular 10/2021: measuring, calibrating, device error


@dataclass(frozen=True)
class StationInfo:
    active: bool
    aliases: Mapping[str, str] = field(default_factory=dict)
    # IANA zone of the station's Circular 10/2021 text (catalogue ``timezone``);
    # None: the deployment's AQM_TIMEZONE.
    timezone: str | None = None


@dataclass(frozen=True)
class ValidationPolicy:
    future_tolerance: timedelta = timedelta(minutes=5)
    past_horizon: timedelta = timedelta(days=400)


@dataclass
class Judgement:
    readings: list[Reading]
    rejections: list[Rejection]


def judge(
    decoded: Decoded,
    topic_station: str | None,
    registry: Mapping[str, StationInfo],
    policy: ValidationPolicy,
    now: datetime,
) -> Judgement:
    """Validate everything a decoder produced for a message published on ``topic_station``."""
    out = Judgement([], list(decoded.rejections))
    if decoded.source_format is None:
        return out
    if topic_station is None:
        out.rejections += [
            Rejection(Reason.BAD_TOPIC, "topic does not name a station", r.index)
            for r in decoded.readings
        ]
        return out
    for raw in decoded.readings:
        result = _judge_one(raw, decoded.source_format, topic_station, registry, policy, now)
        if isinstance(result, Reading):
            out.readings.append(result)
        else:
            out.rejections.append(result)
    return out


def _judge_one(
    raw: RawReading,
    fmt: SourceFormat,
    topic_station: str,
    registry: Mapping[str, StationInfo],
    policy: ValidationPolicy,
    now: datetime,
) -> Reading | Rejection:
    def reject(code: Reason, message: str) -> Rejection:
        return Rejection(code, message, raw.index)

    if raw.station_id is not None and raw.station_id != topic_station:
        return reject(
            Reason.STATION_MISMATCH,
            f"payload names station {raw.station_id!r}"
            f" but was published on {topic_station!r}'s topic",
        )
    station = registry.get(topic_station)
    if station is None:
        return reject(Reason.UNKNOWN_STATION, f"station {topic_station!r} is not in the registry")
    if not station.active:
        return reject(Reason.INACTIVE_STATION, f"station {topic_station!r} is retired")
    parameter = canonical_parameter(raw.parameter, dict(station.aliases) or None)
    if parameter is None:
        return reject(Reason.UNKNOWN_PARAMETER, f"unknown parameter {raw.parameter[:64]!r}")
    spec = PARAMETERS[parameter]
    unit = spec.unit if raw.unit is None else canonical_unit(raw.unit)
    convert = converter(parameter, unit, spec.unit) if unit else None
    if unit is None or convert is None:
        return reject(
            Reason.UNKNOWN_UNIT,
            f"{parameter}: unit {str(raw.unit)[:32]!r} cannot be read as {spec.unit}",
        )
    if not math.isfinite(raw.value):
        return reject(Reason.NOT_FINITE, f"{parameter}: value {raw.value} is not a number")
    value = convert(raw.value)
    if not spec.min_plausible <= value <= spec.max_plausible:
        return reject(
            Reason.OUT_OF_RANGE,
            f"{parameter}: {value:g} {spec.unit} outside plausible"
            f" {spec.min_plausible:g}…{spec.max_plausible:g}",
        )
    if raw.ts > now + policy.future_tolerance:
        return reject(
            Reason.TS_IN_FUTURE, f"{parameter}: time {raw.ts.isoformat()} is in the future"
        )
    if raw.ts < now - policy.past_horizon:
        return reject(
            Reason.TS_TOO_OLD,
            f"{parameter}: time {raw.ts.isoformat()} is older than {policy.past_horizon.days} days",
        )
    if raw.status not in STATUSES:
        return reject(Reason.BAD_STATUS, f"{parameter}: status {raw.status!r} is not 00, 01 or 02")
    return Reading(
        topic_station,
        parameter,
        raw.ts,
        value,
        raw.value,
        raw.unit or spec.unit,
        raw.status,
        fmt,
        raw.index,
    )
