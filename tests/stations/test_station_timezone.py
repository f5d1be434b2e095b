"""A station's catalogue timezone, from the YAML to the instants ingest decodes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from ingest.decode import decode
from ingest.registry import station_zone
from ingest.validate import StationInfo
from stations.catalogue import load_catalogue
from stations.simulator import Realism, generate

DEFAULT = ZoneInfo("Asia/Ho_Chi_Minh")


def test_simulated_utc_clock_station_decodes_to_the_instants_it_sent(tmp_path: Path) -> None:
    path = tmp_path / "catalogue.yaml"
    path.write_text(
        "stations:\n"
        "  - station_id: BN-UTC\n"
        "    name: Trạm UTC\n"
        "    latitude: 21.18\n"
        "    longitude: 106.07\n"
        "    station_type: fixed_automatic\n"
        "    parameters: [pm25, pm10]\n"
        "    timezone: UTC\n",
        encoding="utf-8",
    )
    catalogue = load_catalogue(path)
    registry = {s.station_id: StationInfo(s.active, s.aliases, s.timezone) for s in catalogue}
    start = datetime(2025, 1, 10, tzinfo=UTC)
    pubs = list(
        generate(catalogue, start, start + timedelta(hours=2), fmt="tt10_text",
                 realism=Realism(gap_rate=0, max_clock_skew_s=0))
    )  # fmt: skip
    assert pubs
    for pub in pubs:
        # the text itself is UTC wall-clock time, as the logger's clock keeps it
        assert f"{pub.measured_at:%Y%m%d%H%M%S}".encode() in pub.payload
        zone = station_zone(registry, "BN-UTC", DEFAULT)
        decoded = decode(pub.payload, zone, datetime.now(UTC), 1 << 20)
        assert {r.ts for r in decoded.readings} == {pub.measured_at}
        wrong = decode(pub.payload, DEFAULT, datetime.now(UTC), 1 << 20)
        assert {r.ts for r in wrong.readings} == {pub.measured_at - timedelta(hours=7)}


def test_station_zone_falls_back_and_refuses_an_unknown_zone() -> None:
    registry = {
        "A": StationInfo(True),
        "B": StationInfo(True, timezone="UTC"),
        "C": StationInfo(True, timezone="Mars/Olympus_Mons"),
    }
    assert station_zone(registry, "A", DEFAULT) is DEFAULT
    assert station_zone(registry, None, DEFAULT) is DEFAULT
    assert station_zone(registry, "unregistered", DEFAULT) is DEFAULT
    assert station_zone(registry, "B", DEFAULT) == ZoneInfo("UTC")
    assert station_zone(registry, "C", DEFAULT) is None
