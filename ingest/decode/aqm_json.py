"""The aqm JSON payload: one observation object or an array of them.

``{"station": "BN-01", "ts": "2025-03-01T08:05:00+07:00", "values": {"pm25": 41.3},
"units": {"no2": "ppb"}, "status": "00"}`` — ``units`` and ``status`` are optional.
The JSON Schema published in docs/ is generated from ``Observation``.

Values are JSON numbers or null, never booleans or strings. A ``units`` key names the
``values`` key it applies to: the same key, or failing that a key equal to it ignoring
case and spaces, or naming the same canonical parameter (``NO2`` and ``no2``, ``PM2.5``
and ``pm25``). A ``units`` key that matches no ``values`` key rejects its observation,
and a value two ``units`` keys claim with different units is rejected: a unit is never
guessed.
"""

from __future__ import annotations

import json
import math
import re
from typing import Annotated, Any

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
)

from aqm_core.parameters import canonical_parameter
from ingest.decode.json_objects import repeated_key
from ingest.decode.timestamps import time_problem
from ingest.model import Decoded, RawReading, Reason, Rejection, SourceFormat

MAX_OBSERVATIONS = 10_000

# ISO 8601 / RFC 3339 date and time with its offset, as text. pydantic alone would also
# read a number, or digits in a string, as seconds or milliseconds since 1970: a guess.
_ISO_DATE_TIME = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}([.,]\d+)?)?([Zz]|[+-]\d{2}(:?\d{2})?)",
    re.ASCII,
)


def _date_time_text(value: object) -> object:
    if not isinstance(value, str) or _ISO_DATE_TIME.fullmatch(value) is None:
        raise ValueError(
            "must be an ISO 8601 date and time with its UTC offset, e.g. 2025-03-01T08:05:00+07:00"
        )
    return value


class Observation(BaseModel):
    """One station's values at one measurement time."""

    model_config = ConfigDict(extra="forbid", title="aqm observation")

    station: str = Field(min_length=1, max_length=64, description="Station id, e.g. BN-01")
    ts: Annotated[AwareDatetime, BeforeValidator(_date_time_text)] = Field(
        description="Measurement time, ISO 8601 with UTC offset (at most ±15:59)"
    )
    # Strict: a JSON number (integers included) or null; pydantic's lax mode would read
    # true as 1.0 and "41.3" as 41.3.
    values: dict[str, Annotated[float, Strict()] | None] = Field(
        min_length=1, description="Parameter → value; pollutants default to µg/m³"
    )
    units: dict[str, str] = Field(
        default_factory=dict, description="Optional unit per parameter: ug/m3, mg/m3, ppb, ppm, …"
    )
    status: str = Field(
        default="00",
        pattern=r"^\d{2}$",
        description="Circular 10/2021 status: 00 measuring, 01 calibrating, 02 device error",
    )


def _first_error(exc: ValidationError) -> str:
    err = exc.errors(include_url=False)[0]
    where = ".".join(str(p) for p in err["loc"]) or "object"
    got = err.get("input")
    if isinstance(got, bool | str | int | float):  # a scalar: say what was sent
        return f"{where}: {err['msg']}, got {json.dumps(got)[:40]}"
    return f"{where}: {err['msg']}"


def _fold(key: str) -> str:
    return key.strip().upper().replace(" ", "")


def _resolve_units(obs: Observation) -> tuple[dict[str, str | None], dict[str, str], str | None]:
    """Each value's unit, the values whose unit is ambiguous (→ why), and the first
    ``units`` key that matches no ``values`` key (None when every key matches one).
    """
    # A units key spelled exactly like a values key belongs to that value alone; the
    # others are matched by folded spelling or canonical parameter, through two indexes
    # (a dict walk, not a units × values product: payloads can hold thousands of keys).
    loose = [k for k in obs.units if k not in obs.values]
    by_fold: dict[str, list[str]] = {}
    by_parameter: dict[str, list[str]] = {}
    for key in loose:
        by_fold.setdefault(_fold(key), []).append(key)
        canonical = canonical_parameter(key)
        if canonical is not None:
            by_parameter.setdefault(canonical, []).append(key)
    matched: set[str] = set()
    units: dict[str, str | None] = {}
    ambiguous: dict[str, str] = {}
    for name in obs.values:
        canonical = canonical_parameter(name)
        keys = set(by_fold.get(_fold(name), []))
        keys.update(by_parameter.get(canonical, []) if canonical is not None else [])
        matched |= keys
        if name in obs.units:
            keys.add(name)
        claims = {k: obs.units[k] for k in keys}
        if len(set(claims.values())) > 1:
            ambiguous[name] = ", ".join(f"{k!r}: {u!r}" for k, u in sorted(claims.items()))
        units[name] = next(iter(claims.values()), None)
    unmatched = next((k for k in loose if k not in matched), None)
    return units, ambiguous, unmatched


def decode(document: Any, *, repeats: bool = True) -> Decoded:
    """Read an aqm JSON document; ``repeats=False`` says no object in it repeats a key."""
    items = document if isinstance(document, list) else [document]
    if len(items) > MAX_OBSERVATIONS:
        return Decoded(
            None,
            [],
            [
                Rejection(
                    Reason.MALFORMED_RECORD,
                    f"{len(items)} observations in one message (max {MAX_OBSERVATIONS})",
                )
            ],
        )
    readings: list[RawReading] = []
    rejections: list[Rejection] = []
    index = 0
    for position, item in enumerate(items):
        repeated = repeated_key(item) if repeats else None
        if repeated is not None:
            rejections.append(
                Rejection(Reason.MALFORMED_RECORD, f"observation {position}: {repeated}", index)
            )
            index += 1
            continue
        try:
            obs = Observation.model_validate(item)
        except ValidationError as exc:
            rejections.append(
                Rejection(
                    Reason.MALFORMED_RECORD, f"observation {position}: {_first_error(exc)}", index
                )
            )
            index += 1
            continue
        bad_time = time_problem(obs.ts)
        if bad_time is not None:
            rejections.append(
                Rejection(Reason.BAD_TIMESTAMP, f"observation {position}: ts: {bad_time}", index)
            )
            index += 1
            continue
        units, ambiguous, unmatched = _resolve_units(obs)
        if unmatched is not None:
            rejections.append(
                Rejection(
                    Reason.MALFORMED_RECORD,
                    f"observation {position}: units key {unmatched[:64]!r}"
                    " matches no key of values",
                    index,
                )
            )
            index += 1
            continue
        for name, value in obs.values.items():
            if name in ambiguous:
                rejections.append(
                    Rejection(
                        Reason.MALFORMED_RECORD,
                        f"observation {position}: {name[:64]!r} has conflicting units"
                        f" ({ambiguous[name][:200]})",
                        index,
                    )
                )
            elif value is None or not math.isfinite(value):
                rejections.append(
                    Rejection(
                        Reason.NOT_FINITE, f"observation {position}: {name} is {value}", index
                    )
                )
            else:
                readings.append(
                    RawReading(obs.station, name, value, units[name], obs.ts, obs.status, index)
                )
            index += 1
    return Decoded(SourceFormat.AQM_JSON, readings, rejections)


def json_schema() -> dict[str, Any]:
    """The published JSON Schema of the payload (docs/aqm-json.schema.json)."""
    from pydantic import TypeAdapter

    schema = TypeAdapter(Observation | list[Observation]).json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://aqm.example/schemas/aqm-json-v1.json",
        "title": "aqm JSON payload (one observation or an array)",
        **schema,
    }


if __name__ == "__main__":
    import json
    import sys

    sys.stdout.write(json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n")
