"""Small negative concentrations are data, not errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from aqi import hourly_aqi
from ingest.decode import decode
from ingest.model import Reason
from ingest.validate import StationInfo, ValidationPolicy, judge

NOW = datetime(2025, 3, 1, 2, 0, tzinfo=UTC)
REGISTRY = {"BN-01": StationInfo(active=True)}


def verdict(values: dict[str, float]) -> tuple[dict[str, float], list[Reason]]:
    body = {"station": "BN-01", "ts": "2025-03-01T08:00:00+07:00", "values": values}
    decoded = decode(json.dumps(body).encode(), ZoneInfo("Asia/Ho_Chi_Minh"), NOW, 1_000_000)
    result = judge(decoded, "BN-01", REGISTRY, ValidationPolicy(), NOW)
    stored = {r.parameter: r.value for r in result.readings}
    return stored, [r.code for r in result.rejections]


def test_noise_around_zero_is_stored_as_measured() -> None:
    stored, reasons = verdict({"pm25": -3.0, "pm10": -15.0, "no2": -8.5, "o3": -20.0, "co": -900.0})
    assert reasons == []
    assert stored == {"pm25": -3.0, "pm10": -15.0, "no2": -8.5, "o3": -20.0, "co": -900.0}


@pytest.mark.parametrize(
    ("parameter", "value"),
    [("pm25", -15.1), ("pm10", -400.0), ("no2", -20.5), ("so2", -100.0), ("co", -1000.5)],
)
def test_values_below_the_instrument_noise_are_rejected(parameter: str, value: float) -> None:
    stored, reasons = verdict({parameter: value})
    assert stored == {} and reasons == [Reason.OUT_OF_RANGE]


def test_a_stored_negative_hour_counts_as_zero_in_the_aqi() -> None:
    # NO2 1-h sub-index of 0 µg/m³ is 0 (Decision 1459, Bảng 2); PM2.5 10 µg/m³ for 12 h
    # gives NowCast 10 → 10 / 25 × 50 = 20. A -8.5 hour is neither missing nor negative.
    result = hourly_aqi({"pm25": np.full(12, 10.0), "no2": np.full(12, -8.5)})
    assert result.subindex["no2"][-1] == 0.0 and result.n_valid["no2_1h"][-1] == 1
    assert result.aqi[-1] == 20.0
