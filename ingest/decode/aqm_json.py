"""The aqm JSON payload: one observation object or an array of them.

``{"station": "BN-01", "ts": "2025-03-01T08:05:00+07:00", "values": {"pm25": 41.3},
"units": {"no2": "ppb"}, "status": "00"}`` — ``units`` and ``status`` are optional.
The JSON Schema published in docs/ is generated from ``Observation``.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from ingest.model import Decoded, RawReading, Reason, Rejection, SourceFormat

MAX_OBSERVATIONS = 10_000


class Observation(BaseModel):
    """One station's values at one measurement time."""

    model_config = ConfigDict(extra="forbid", title="aqm observation")

    station: str = Field(min_length=1, max_length=64, description="Station id, e.g. BN-01")
    ts: AwareDatetime = Field(description="Measurement time, ISO 8601 with UTC offset")
    values: dict[str, float | None] = Field(
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
    return f"{where}: {err['msg']}"


def decode(document: Any) -> Decoded:
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
        for name, value in obs.values.items():
            if value is None or not math.isfinite(value):
                rejections.append(
                    Rejection(
                        Reason.NOT_FINITE, f"observation {position}: {name} is {value}", index
                    )
                )
            else:
                readings.append(
                    RawReading(
                        obs.station, name, value, obs.units.get(name), obs.ts, obs.status, index
                    )
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
