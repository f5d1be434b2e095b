"""The simulator's stream without a broker: reproducible, realistic, and readable by ingest."""

from __future__ import annotations

import csv
import itertools
import statistics
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from aqm_core.parameters import PARAMETERS, canonical_parameter
from ingest.decode import decode
from ingest.topics import TopicLayout
from ingest.units import canonical_unit, converter
from ingest.validate import StationInfo, ValidationPolicy, judge
from stations.catalogue import Catalogue, load_catalogue
from stations.simulator import Publication, Realism, SimulatedReading, generate
from stations.stateair_replay import read_stateair, replay, shift_to_recent
from tests.reference_data import skip_without_reference_data

EXAMPLE = Path(__file__).resolve().parents[2] / "stations" / "catalogue.example.yaml"
HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
TOPIC_LAYOUT = TopicLayout("aqm/v1/stations")
ICT = timedelta(hours=7)  # written out, not taken from the code under test


@pytest.fixture(scope="module")
def example() -> Catalogue:
    return load_catalogue(EXAMPLE)


def normalised(reading: SimulatedReading) -> float:
    """The reading's value in its parameter's stored unit, as ingest converts it."""
    target = PARAMETERS[reading.parameter].unit
    unit = target if reading.unit is None else canonical_unit(reading.unit)
    assert unit is not None, reading
    convert = converter(reading.parameter, unit, target)
    assert convert is not None, reading
    return convert(reading.value)


def readings_of(publications: list[Publication]) -> list[SimulatedReading]:
    return [r for p in publications for r in p.readings]


def test_same_seed_same_bytes_other_seed_other_bytes(example: Catalogue) -> None:
    start = datetime(2025, 3, 1, tzinfo=UTC)
    end = start + timedelta(hours=6)
    first = list(generate(example, start, end, fmt="mixed", seed=7))
    again = list(generate(example, start, end, fmt="mixed", seed=7))
    other = list(generate(example, start, end, fmt="mixed", seed=8))
    assert [(p.topic, p.payload) for p in first] == [(p.topic, p.payload) for p in again]
    assert [p.payload for p in first] != [p.payload for p in other]
    # time order across stations, only the active ones, each on its own topic
    times = [p.measured_at for p in first]
    assert times == sorted(times)
    assert {p.topic for p in first} == {f"aqm/v1/stations/{s.station_id}/readings"
                                        for s in example.active()}
    assert all(p.topic.split("/")[3] == p.readings[0].station_id for p in first)


def test_samples_fall_on_the_interval_grid_and_skew_is_bounded(example: Catalogue) -> None:
    start = datetime(2025, 3, 1, 0, 2, 30, tzinfo=UTC)
    end = start + timedelta(days=1)
    pubs = list(generate(example, start, end, interval_s=600, seed=1,
                         realism=Realism(max_clock_skew_s=45, gap_rate=0)))
    per_station: dict[str, list[Publication]] = defaultdict(list)
    for p in pubs:
        per_station[p.readings[0].station_id].append(p)
    for station_id, items in per_station.items():
        assert items[0].measured_at == datetime(2025, 3, 1, 0, 10, tzinfo=UTC), station_id
        assert all(p.measured_at.timestamp() % 600 == 0 for p in items)
        skews = {r.ts - p.measured_at for p in items for r in p.readings}
        assert len(skews) == 1, station_id  # one clock per station
        assert abs(skews.pop()) <= timedelta(seconds=45)
        assert all(start <= p.measured_at < end for p in items)


@pytest.mark.parametrize("fmt", ["aqm_json", "tt10_text", "senml"])
def test_every_payload_decodes_to_exactly_the_readings_published(
    example: Catalogue, fmt: str
) -> None:
    start = datetime(2025, 1, 10, tzinfo=UTC)
    pubs = list(generate(example, start, start + timedelta(days=2), fmt=fmt, seed=3,  # type: ignore[arg-type]
                         realism=Realism(calibration_rate=0.05, fault_rate=0.05)))
    assert pubs
    registry = {s.station_id: StationInfo(s.active, s.aliases) for s in example}
    for pub in pubs:
        station = example.get(pub.readings[0].station_id)
        assert station is not None
        decoded = decode(pub.payload, HANOI, datetime.now(UTC), 1_048_576)
        assert decoded.rejections == [], pub.payload
        assert decoded.source_format is not None and decoded.source_format.value == fmt
        got = []
        for raw in decoded.readings:
            assert raw.station_id in (None, station.station_id)
            parameter = canonical_parameter(raw.parameter, station.aliases)
            assert parameter is not None, raw.parameter
            got.append((parameter, raw.ts.astimezone(UTC), raw.value, raw.unit, raw.status))
        sent = [(r.parameter, r.ts, r.value, r.unit, r.status) for r in pub.readings]
        assert got == sent
        # and ingest's validator accepts every one of them, in the stored unit
        judged = judge(decoded, TOPIC_LAYOUT.station_of(pub.topic), registry, ValidationPolicy(),
                       now=pub.measured_at + timedelta(minutes=1))
        assert judged.rejections == [], judged.rejections
        assert [(r.parameter, r.status) for r in judged.readings] == [
            (r.parameter, r.status) for r in pub.readings]
        assert [r.value for r in judged.readings] == pytest.approx(
            [normalised(r) for r in pub.readings])


def test_station_parameters_and_tt10_aliases_follow_the_catalogue(example: Catalogue) -> None:
    start = datetime(2025, 5, 1, tzinfo=UTC)
    pubs = list(generate(example, start, start + timedelta(hours=1), fmt="tt10_text"))
    for pub in pubs:
        station = example.get(pub.readings[0].station_id)
        assert station is not None
        assert tuple(r.parameter for r in pub.readings) == station.parameters
        text = pub.payload.decode()
        assert text.endswith("\r\n") and all(line.count("\t") == 4
                                             for line in text.split("\r\n")[:-1])
        if station.station_id == "BN-KINHBAC":
            assert text.startswith("PM2,5\t")  # the alias its datalogger writes
        else:
            assert text.startswith("PM-2-5\t")


def test_readings_are_realistic(example: Catalogue) -> None:
    pubs = []
    for month in (1, 7):
        start = datetime(2025, month, 1, tzinfo=UTC) - ICT
        pubs += list(generate(example, start, start + timedelta(days=31), interval_s=900,
                              seed=11))
    by_time: dict[tuple[str, datetime], dict[str, float]] = defaultdict(dict)
    for reading in readings_of(pubs):
        if reading.status == "00":
            by_time[reading.station_id, reading.ts][reading.parameter] = normalised(reading)

    pm_pairs = [(v["pm25"], v["pm10"]) for v in by_time.values() if "pm10" in v]
    assert len(pm_pairs) > 10_000
    assert all(pm25 < pm10 for pm25, pm10 in pm_pairs)
    # PM2.5 and PM10 move together
    assert statistics.correlation([a for a, _ in pm_pairs], [b for _, b in pm_pairs]) > 0.9

    def local(ts: datetime) -> datetime:
        return ts + ICT  # Vietnam has no daylight saving

    no2_rush = [v["no2"] for (_, ts), v in by_time.items()
                if "no2" in v and local(ts).hour in (7, 8, 17, 18)]
    no2_night = [v["no2"] for (_, ts), v in by_time.items()
                 if "no2" in v and local(ts).hour in (1, 2, 3, 4)]
    assert statistics.mean(no2_rush) > 1.5 * statistics.mean(no2_night)

    january = [v["pm25"] for (_, ts), v in by_time.items() if local(ts).month == 1]
    july = [v["pm25"] for (_, ts), v in by_time.items() if local(ts).month == 7]
    assert statistics.mean(january) > 2 * statistics.mean(july)
    # the levels of northern Vietnam, not of a clean-air city or of a fire
    assert 45 < statistics.mean(january) < 120 and 10 < statistics.mean(july) < 40

    o3_afternoon = [v["o3"] for (_, ts), v in by_time.items()
                    if "o3" in v and local(ts).hour in (13, 14)]
    o3_night = [v["o3"] for (_, ts), v in by_time.items()
                if "o3" in v and local(ts).hour in (1, 2, 3, 4)]
    assert statistics.mean(o3_afternoon) > 2 * statistics.mean(o3_night)
    temperature = {m: statistics.mean(v["temperature"] for (_, ts), v in by_time.items()
                                      if "temperature" in v and local(ts).month == m)
                   for m in (1, 7)}
    assert 13 < temperature[1] < 21 and 26 < temperature[7] < 33


def test_gap_and_status_rates_are_near_the_configured_ones(example: Catalogue) -> None:
    realism = Realism(gap_rate=0.05, calibration_rate=0.03, fault_rate=0.02)
    start = datetime(2025, 4, 1, tzinfo=UTC)
    end = start + timedelta(days=60)
    stations = list(example.active())
    pubs = list(generate(stations, start, end, interval_s=300, seed=5, realism=realism))
    expected = len(stations) * (end - start) // timedelta(seconds=300)
    sent = len(pubs)
    gap_share = 1 - sent / expected
    statuses = Counter(p.readings[0].status for p in pubs)
    assert abs(gap_share - 0.05) < 0.015, gap_share
    assert abs(statuses["01"] / sent - 0.03) < 0.01, statuses
    assert abs(statuses["02"] / sent - 0.02) < 0.01, statuses
    # one status per message, and gaps come in runs (outages), not single lost samples
    assert all(len({r.status for r in p.readings}) == 1 for p in pubs)
    kinhbac = sorted(p.measured_at for p in pubs if p.readings[0].station_id == "BN-KINHBAC")
    holes = [(b - a) // timedelta(seconds=300) - 1 for a, b in itertools.pairwise(kinhbac)]
    runs = [h for h in holes if h > 0]
    assert statistics.mean(runs) > 2


def test_calibration_reads_span_gas_and_a_fault_repeats_the_last_values(
    example: Catalogue,
) -> None:
    realism = Realism(calibration_rate=0.05, fault_rate=0.05, gap_rate=0)
    start = datetime(2025, 4, 1, tzinfo=UTC)
    pubs = [p for p in generate(example, start, start + timedelta(days=3), seed=2,
                                realism=realism)
            if p.readings[0].station_id == "BN-TUSON"]
    previous: dict[str, float] | None = None
    seen = Counter[str]()
    for pub in pubs:
        values = {r.parameter: normalised(r) for r in pub.readings}
        status = pub.readings[0].status
        seen[status] += 1
        if status == "01":
            assert values["no2"] > 300 and values["co"] > 15_000  # span gas
        if status == "02" and previous is not None:
            assert values == pytest.approx(previous, rel=1e-3)
        if status == "00":
            assert values["no2"] < 300
        previous = values
    assert seen["01"] and seen["02"]


def test_senml_stations_stay_silent_while_not_measuring(example: Catalogue) -> None:
    realism = Realism(calibration_rate=0.1, fault_rate=0.1)
    start = datetime(2025, 4, 1, tzinfo=UTC)
    pubs = list(generate(example, start, start + timedelta(days=1), fmt="senml", seed=4,
                         realism=realism))
    assert {r.status for p in pubs for r in p.readings} == {"00"}


def test_mixed_gives_each_station_one_format_in_catalogue_order(example: Catalogue) -> None:
    start = datetime(2025, 4, 1, tzinfo=UTC)
    pubs = list(generate(example, start, start + timedelta(hours=2), fmt="mixed"))
    formats = {p.readings[0].station_id: {q.format for q in pubs if q.topic == p.topic}
               for p in pubs}
    order = ["aqm_json", "tt10_text", "senml", "aqm_json", "tt10_text"]
    assert formats == {s.station_id: {order[i]} for i, s in enumerate(example.active())}


def test_stations_named_by_id_and_a_live_stream_without_end() -> None:
    start = datetime(2025, 4, 1, tzinfo=UTC)
    stream = generate(["BN-X1", "BN-X2"], start, None, interval_s=60,
                      realism=Realism(gap_rate=0))
    first = [next(stream) for _ in range(1000)]
    assert {p.readings[0].station_id for p in first} == {"BN-X1", "BN-X2"}
    assert first[-1].measured_at == start + timedelta(seconds=60 * (1000 // 2 - 1))


# -- replay of the US Embassy Hanoi series -------------------------------------------------


def test_replay_of_stateair_gives_the_files_values_at_the_right_utc_hours(
    shared_data: Path,
) -> None:
    path = skip_without_reference_data(shared_data / "stateair_Hanoi_PM2.5_2017_YTD.csv")
    expected: dict[datetime, float] = {}
    previous: tuple[datetime, float | None] | None = None
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            # the label is the END of the hour, local time UTC+7 (its midnight, 12:00 AM,
            # is hour 00 of the next day in the Year/Month/Day/Hour columns)
            label = datetime(int(row["Year"]), int(row["Month"]), int(row["Day"]), tzinfo=UTC)
            label += timedelta(hours=int(row["Hour"]))
            hour = label - ICT - timedelta(hours=1)
            value = float(row["Raw Conc."])
            usable = value != -999 and row["QC Name"] not in ("Invalid", "Missing")
            if previous is not None and previous[0] == hour:
                # US-DST artefact: the first of two equal labels is the hour before
                expected.pop(hour, None)
                if previous[1] is not None:
                    expected[hour - timedelta(hours=1)] = previous[1]
            if usable:
                expected[hour] = value
            previous = (hour, value if usable else None)
    # 2017-03-12: "03:00 AM" twice (26.9 then 25.2), no "02:00 AM"
    assert expected[datetime(2017, 3, 11, 18, tzinfo=UTC)] == 26.9
    assert expected[datetime(2017, 3, 11, 19, tzinfo=UTC)] == 25.2

    values = read_stateair(path)
    pubs = list(replay(values, "BN-KINHBAC", "tt10_text"))
    assert len(pubs) == len(expected) == 8674
    got = {p.readings[0].ts: p.readings[0].value for p in pubs}
    assert len(got) == len(pubs)  # no hour sent twice
    assert got == expected
    first = pubs[0]
    # "2017-01-01 01:00 AM" (Raw Conc. 179.0) is the hour 00:00-01:00 local: 17:00 UTC the day before
    assert first.readings[0].ts == datetime(2016, 12, 31, 17, tzinfo=UTC)
    assert first.readings[0].value == 179.0
    assert first.payload == b"PM-2-5\t179.0\tug/m3\t20170101000000\t00\r\n"
    for pub in pubs[:200]:
        (raw,) = decode(pub.payload, HANOI, datetime.now(UTC), 4096).readings
        assert (raw.ts.astimezone(UTC), raw.value) == (pub.readings[0].ts, pub.readings[0].value)


def test_replay_shifted_to_recent_keeps_hour_and_weekday(shared_data: Path) -> None:
    path = skip_without_reference_data(shared_data / "stateair_Hanoi_PM2.5_2020_Jan-Jul.csv")
    values = read_stateair(path)
    now = datetime(2026, 11, 25, 10, 17, tzinfo=UTC)
    shift = shift_to_recent(values, now)
    assert shift.total_seconds() % (7 * 86400) == 0
    pubs = list(replay(values, "BN-TUSON", "aqm_json", shift=shift))
    last = pubs[-1].readings[0].ts
    assert now - timedelta(days=7) <= last <= now - timedelta(hours=1)
    original_last = max(v.hour for v in values)
    assert (last.weekday(), last.hour) == (original_last.weekday(), original_last.hour)
    window = list(replay(values, "BN-TUSON", "senml", shift=shift,
                         start=last - timedelta(hours=23), end=last + timedelta(hours=1)))
    assert 0 < len(window) <= 24 and window[-1].readings[0].ts == last


def test_a_file_that_is_not_stateair_is_named_with_its_line(tmp_path: Path) -> None:
    from stations.stateair_replay import StateAirFileError

    path = tmp_path / "other.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(StateAirFileError, match=rf"{path}:1: not a StateAir hourly file"):
        read_stateair(path)
    header = ("Site,Parameter,Date (LT),Year,Month,Day,Hour,NowCast Conc.,AQI,AQI Category,"
              "Raw Conc.,Conc. Unit,Duration,QC Name\n")
    path.write_text(header + "Hanoi,PM2.5,2017-01-01 1 AM,2017,01,01,01,1,1,Good,x,UG/M3,1 Hr,Valid\n")
    with pytest.raises(StateAirFileError, match=rf"{path}:2: "):
        read_stateair(path)
