"""Simulated stations: a reproducible stream of the messages real stations would publish.

``generate`` turns the catalogue's active stations and a time range into
:class:`Publication` s — topic, payload bytes, and the exact readings the payload
carries — in time order across stations. It needs no broker: tests and benchmarks use
it directly; ``stations.publisher`` sends the stream to Mosquitto (``aqm simulate``).

Around the typical levels of ``stations.air_model`` each station gets:

* a station factor (0.85–1.2; low-cost sensors read PM high in humid air, as optical
  sensors do), a province-wide "weather" factor shared by all stations (slow sinusoids
  with periods of 2–9 days: pollution episodes come and go together) and a station's
  own autocorrelated noise (3-hour memory), so PM2.5, PM10 and TSP move together and
  PM2.5 < PM10 < TSP always holds;
* gaps (the station sends nothing), calibration periods (status ``01``: gas analysers
  read their span gas) and faults (status ``02``: values stuck at the last good ones),
  each an on/off process whose long-run share of samples is the configured rate;
* a constant clock offset of up to ``max_clock_skew_s`` seconds (dataloggers are not
  NTP-disciplined), applied to the timestamps the station writes;
* a payload format per station (one for all, or ``mixed``: the station's position in
  the catalogue picks aqm JSON, Circular 10/2021 text, SenML in turn).

The same ``seed`` and arguments give the same bytes, on any machine.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Literal
from zoneinfo import ZoneInfo

from aqi import units as gas_units
from aqm_core.defaults import DEFAULT_TIMEZONE
from aqm_core.parameters import PARAMETERS
from ingest.topics import TopicLayout
from stations.air_model import expected_levels
from stations.catalogue import Catalogue, Station
from stations.payload_formats import (
    FORMATS,
    GASES,
    PayloadFormat,
    SimulatedReading,
    decimals,
    encode,
    unit_sent,
)

__all__ = [
    "DEFAULT_PARAMETERS",
    "FormatChoice",
    "Publication",
    "Realism",
    "SimulatedReading",
    "generate",
    "simulated_stations",
]

FormatChoice = Literal["aqm_json", "tt10_text", "senml", "mixed"]
LOCAL_TZ = ZoneInfo(DEFAULT_TIMEZONE)
# Parameters of a station named only by its id (no catalogue entry).
DEFAULT_PARAMETERS = ("pm25", "pm10", "no2", "so2", "o3", "co", "temperature", "humidity")
DEFAULT_INTERVAL_S = 300
DEFAULT_TOPICS = TopicLayout()

# Span gas an analyser reads while it calibrates (about 200 ppb, or 15 ppm of CO), µg/m³.
SPAN_GAS = {"no2": 376.0, "so2": 524.0, "o3": 392.0, "co": 17_200.0}
# Province-wide episodes: (period in days, amplitude of log concentration).
WEATHER_CYCLES = ((2.3, 0.18), (3.7, 0.2), (5.9, 0.16), (8.8, 0.14))
NOISE_MEMORY_S = 3 * 3600
NOISE_SD = 0.2  # of the station's log-noise, stationary
SAMPLE_NOISE_SD = 0.05
RAIN_MEAN_MM_PER_H = 2.5


@dataclass(frozen=True)
class Realism:
    """How imperfect the simulated stations are. Rates are long-run shares of samples."""

    gap_rate: float = 0.02
    gap_mean_samples: float = 6.0
    calibration_rate: float = 0.01
    calibration_mean_samples: float = 3.0
    fault_rate: float = 0.005
    fault_mean_samples: float = 12.0
    max_clock_skew_s: int = 90

    def __post_init__(self) -> None:
        for name in ("gap_rate", "calibration_rate", "fault_rate"):
            rate = getattr(self, name)
            if not 0 <= rate < 1:
                raise ValueError(f"{name} must be in [0, 1), not {rate}")
        for name in ("gap_mean_samples", "calibration_mean_samples", "fault_mean_samples"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if not 0 <= self.max_clock_skew_s <= 240:
            # ingest refuses readings more than 5 minutes in the future
            raise ValueError("max_clock_skew_s must be within 0..240 s")


@dataclass(frozen=True, slots=True)
class Publication:
    """One MQTT message and the readings it carries, exactly as sent."""

    topic: str
    payload: bytes
    readings: list[SimulatedReading]
    measured_at: datetime  # true time of the sample (UTC), before the station's clock skew
    format: PayloadFormat


@dataclass(frozen=True)
class SimulatedStation:
    """What the simulator needs of a station."""

    station_id: str
    parameters: tuple[str, ...]
    interval_s: int
    low_cost: bool = False
    names: dict[str, str] = field(default_factory=dict)  # datalogger names (aliases)
    timezone: str | None = None  # the datalogger clock's zone (catalogue); None: local_tz


def simulated_stations(
    stations: Catalogue | Iterable[Station | str], interval_s: int | None = None
) -> list[SimulatedStation]:
    """The active stations of a catalogue, or stations named by id with default parameters."""
    chosen: list[SimulatedStation] = []
    source = stations.active() if isinstance(stations, Catalogue) else stations
    for item in source:
        if isinstance(item, str):
            chosen.append(SimulatedStation(item, DEFAULT_PARAMETERS,
                                           interval_s or DEFAULT_INTERVAL_S))
            continue
        if not item.active:
            continue
        # A datalogger name written with a decimal comma is one the decoder splits on.
        names = {target: alias for alias, target in item.aliases.items()
                 if "\t" not in alias and " " not in alias}
        chosen.append(SimulatedStation(item.station_id, item.parameters,
                                       interval_s or item.report_interval_s,
                                       item.station_type == "low_cost_sensor", names,
                                       item.timezone))
    return chosen


def generate(
    stations: Catalogue | Iterable[Station | str],
    start: datetime,
    end: datetime | None,
    interval_s: int | None = None,
    fmt: FormatChoice = "aqm_json",
    seed: int = 0,
    *,
    realism: Realism = Realism(),
    topics: TopicLayout = DEFAULT_TOPICS,
    local_tz: tzinfo = LOCAL_TZ,
) -> Iterator[Publication]:
    """Publications of every station from ``start`` (inclusive) to ``end`` (exclusive).

    ``end=None`` never stops. ``interval_s`` overrides every station's
    ``report_interval_s``. Samples fall on multiples of the interval since the epoch,
    so two runs over overlapping ranges agree on their common samples' times.
    """
    if start.tzinfo is None or (end is not None and end.tzinfo is None):
        raise ValueError("start and end must be timezone-aware")
    chosen = simulated_stations(stations, interval_s)
    if fmt != "mixed" and fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)} or mixed")
    weather = _Weather(seed)
    streams = []
    for position, station in enumerate(chosen):
        station_fmt: PayloadFormat = FORMATS[position % len(FORMATS)] if fmt == "mixed" else fmt
        streams.append(_station_stream(station, position, station_fmt, start, end, seed,
                                       realism, topics, local_tz, weather))
    # Time order across stations; ties in catalogue order.
    for _key, publication in heapq.merge(*streams, key=lambda item: item[0]):
        yield publication


class _Weather:
    """The province-wide factor: smooth, reproducible, the same for every station."""

    def __init__(self, seed: int) -> None:
        rng = random.Random(f"{seed}:weather")
        self.cycles = [(period * 86400, amplitude, rng.uniform(0, 2 * math.pi))
                       for period, amplitude in WEATHER_CYCLES]

    def log_factor(self, t: float) -> float:
        return sum(a * math.sin(2 * math.pi * t / p + phase) for p, a, phase in self.cycles)


class _Episodes:
    """An on/off process: on for ``mean`` samples on average, on ``rate`` of the time."""

    def __init__(self, rng: random.Random, rate: float, mean: float) -> None:
        self.rng = rng
        self.end_p = 1 / mean
        self.start_p = rate * self.end_p / (1 - rate) if rate > 0 else 0.0
        self.on = rate > 0 and rng.random() < rate  # start in the long-run distribution

    def step(self) -> bool:
        draw = self.rng.random()
        self.on = draw >= self.end_p if self.on else draw < self.start_p
        return self.on


def _first_sample(start: datetime, interval_s: int) -> datetime:
    epoch = math.ceil(start.timestamp() / interval_s) * interval_s
    return datetime.fromtimestamp(epoch, UTC)


def _station_stream(
    station: SimulatedStation,
    position: int,
    fmt: PayloadFormat,
    start: datetime,
    end: datetime | None,
    seed: int,
    realism: Realism,
    topics: TopicLayout,
    local_tz: tzinfo,
    weather: _Weather,
) -> Iterator[tuple[tuple[datetime, int], Publication]]:
    rng = random.Random(f"{seed}:{station.station_id}")
    station_factor = rng.uniform(0.85, 1.2)
    skew = timedelta(seconds=rng.randint(-realism.max_clock_skew_s, realism.max_clock_skew_s))
    gases_in_ppb = fmt == "aqm_json" and rng.random() < 0.5
    gaps = _Episodes(rng, realism.gap_rate, realism.gap_mean_samples)
    calibrating = _Episodes(rng, realism.calibration_rate, realism.calibration_mean_samples)
    faulty = _Episodes(rng, realism.fault_rate, realism.fault_mean_samples)
    step = timedelta(seconds=station.interval_s)
    memory = math.exp(-station.interval_s / NOISE_MEMORY_S)
    innovation = NOISE_SD * math.sqrt(1 - memory**2)
    pm_noise, gas_noise = rng.gauss(0, NOISE_SD), rng.gauss(0, NOISE_SD)
    last_good: dict[str, float] = {}
    topic = topics.readings(station.station_id)
    clock_tz = ZoneInfo(station.timezone) if station.timezone else local_tz

    t = _first_sample(start, station.interval_s)
    while end is None or t < end:
        pm_noise = memory * pm_noise + rng.gauss(0, innovation)
        gas_noise = memory * gas_noise + rng.gauss(0, innovation)
        values = _sample(station, t.astimezone(local_tz), rng, station_factor,
                         weather.log_factor(t.timestamp()), pm_noise, gas_noise)
        gap, cal, fault = gaps.step(), calibrating.step(), faulty.step()
        status = "02" if fault else "01" if cal else "00"
        if fault and last_good:
            values = dict(last_good)  # a hung analyser repeats its last value
        elif status == "00":
            last_good = values
        elif cal:
            values = values | {g: SPAN_GAS[g] for g in GASES if g in values}
        # SenML cannot say a value is a calibration or a fault, so such a station is silent.
        if not gap and not (fmt == "senml" and status != "00"):
            readings = _as_sent(station, values, t + skew, status, fmt, gases_in_ppb)
            payload = encode(fmt, readings, clock_tz, station.names)
            yield (t, position), Publication(topic, payload, readings, t, fmt)
        t += step


def _sample(
    station: SimulatedStation,
    local: datetime,
    rng: random.Random,
    station_factor: float,
    weather: float,
    pm_noise: float,
    gas_noise: float,
) -> dict[str, float]:
    """Every parameter the station measures at one time, normalised units, unrounded."""
    typical = expected_levels(local)

    def jitter() -> float:
        return math.exp(rng.gauss(0, SAMPLE_NOISE_SD))

    humidity = min(100.0, max(30.0, typical["humidity"] + 6 * rng.gauss(0, 1) - 20 * weather))
    pm_factor = station_factor * math.exp(weather + pm_noise)
    if station.low_cost:
        # Optical sensors count swollen droplets as particles above ~70 % humidity.
        pm_factor *= 1 + 0.4 * max(0.0, humidity - 70) / 30
    pm25 = min(900.0, max(1.0, typical["pm25"] * pm_factor * jitter()))
    pm10 = max(pm25 / 0.85, typical["pm10"] * pm_factor * jitter())
    gas_factor = station_factor * math.exp(0.6 * weather + gas_noise)
    rain_chance = typical["rain"] * station.interval_s / 3600
    values = {
        "pm25": pm25,
        "pm10": pm10,
        "tsp": pm10 * typical["tsp"] / typical["pm10"] * jitter(),
        "no2": typical["no2"] * gas_factor * jitter(),
        "so2": typical["so2"] * gas_factor * jitter(),
        "co": typical["co"] * gas_factor * jitter(),
        # Ozone is titrated by NO where traffic is heavy: it moves against the others.
        "o3": typical["o3"] / math.sqrt(gas_factor) * jitter(),
        "temperature": typical["temperature"] + rng.gauss(0, 0.6),
        "humidity": humidity,
        "pressure": typical["pressure"] + rng.gauss(0, 0.5),
        "wind_speed": typical["wind_speed"] * rng.gammavariate(4, 0.25),
        "wind_direction": (typical["wind_direction"] + rng.gauss(0, 40)) % 360,
        "rain": (rng.expovariate(1 / RAIN_MEAN_MM_PER_H) * station.interval_s / 3600
                 if rng.random() < rain_chance else 0.0),
    }
    return {p: values[p] for p in station.parameters}


def _as_sent(
    station: SimulatedStation,
    values: dict[str, float],
    ts: datetime,
    status: str,
    fmt: PayloadFormat,
    gases_in_ppb: bool,
) -> list[SimulatedReading]:
    """Values converted to the units the station writes, rounded as it writes them."""
    readings = []
    written: dict[str, float] = {}
    for parameter, value in values.items():
        unit = unit_sent(fmt, parameter, gases_in_ppb)
        converted = _to_unit(parameter, value, unit)
        rounded = round(converted, decimals(unit))
        spec = PARAMETERS[parameter]
        low, high = spec.min_plausible, spec.max_plausible
        if spec.unit == "µg/m³" and unit not in (None, "ug/m3"):
            low, high = (_to_unit(parameter, low, unit), _to_unit(parameter, high, unit))
        rounded = min(max(rounded, math.ceil(low)), math.floor(high))
        # PM2.5 < PM10 < TSP must survive rounding.
        step = 10.0 ** -decimals(unit)
        if parameter == "pm10" and "pm25" in written:
            rounded = max(rounded, round(written["pm25"] + step, decimals(unit)))
        if parameter == "tsp" and "pm10" in written:
            rounded = max(rounded, round(written["pm10"] + step, decimals(unit)))
        if parameter == "wind_direction" and rounded >= 360:
            rounded = 0.0
        written[parameter] = rounded
        readings.append(SimulatedReading(station.station_id, parameter, ts, float(rounded),
                                         unit, status))
    return readings


def _to_unit(parameter: str, value: float, unit: str | None) -> float:
    if unit == "mg/m3":
        return value / 1000
    if unit == "ppb":
        return float(gas_units.convert(value, parameter, "µg/m³", "ppb"))
    return value

