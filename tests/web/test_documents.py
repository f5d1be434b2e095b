"""The public documents and the protections of ``aqm web``, as pure functions and ASGI
pieces (no server)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from starlette.types import Message, Receive, Scope, Send

from web.cache import DocumentCache
from web.documents import StationRow, hour_label, station_feature
from web.middleware import RateLimit, RequestTimeout

LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2026, 3, 1, 10, 20, tzinfo=UTC)


def row(**changes: Any) -> StationRow:
    values: dict[str, Any] = {
        "station_id": "BN-1", "name": "Trạm 1", "ward": None, "district": None,
        "latitude": 21.0, "longitude": 106.0, "station_type": "fixed_automatic",
        "eligible_today": True, "aqi_hour": NOW.replace(minute=0) - timedelta(hours=1),
        "aqi": 175, "category": 4, "dominant": "pm10",
        "sub_indices": {"pm10": 175.4, "pm25": 90.0}, "data_level": "provisional",
        "aqi_publishable": True, "last_data_hour": NOW.replace(minute=0) - timedelta(hours=1),
        "concentration_hour": None, "concentrations": [],
    }  # fmt: skip
    return StationRow(**(values | changes))


def test_an_hour_is_named_in_local_time_up_to_its_end() -> None:
    # 16:00-17:00 UTC is 23:00-24:00 in Vietnam (UTC+7), the last hour of the local day
    assert hour_label(datetime(2026, 3, 1, 16, tzinfo=UTC), LOCAL) == "23:00–24:00 01/03/2026"
    assert hour_label(datetime(2026, 3, 1, 17, tzinfo=UTC), LOCAL) == "00:00–01:00 02/03/2026"


def test_band_xau_for_175() -> None:
    aqi = station_feature(row(), NOW, LOCAL)["properties"]["aqi"]
    # Decision 1459 Table 1: 151-200 is Xấu, red (255, 0, 0)
    assert (aqi["band"], aqi["color"], aqi["dominant_label"]) == ("Xấu", "#FF0000", "PM10")
    assert [s["label"] for s in aqi["sub_indices"]] == ["PM2.5", "PM10"]  # 1459 order
    assert [s["value"] for s in aqi["sub_indices"]] == [90, 175]


def test_sub_indices_round_half_up() -> None:
    subs = {"pm25": 42.5, "o3": 59.35, "no2": 0.5}
    aqi = station_feature(row(sub_indices=subs), NOW, LOCAL)["properties"]["aqi"]
    # 42.5 -> 43 and 0.5 -> 1 (half up, not to even); 59.35 -> 59
    assert {s["pollutant"]: s["value"] for s in aqi["sub_indices"]} == {
        "pm25": 43, "o3": 59, "no2": 1,
    }  # fmt: skip


def test_no_aqi_for_an_hour_on_a_day_the_station_could_not_publish() -> None:
    feature = station_feature(row(aqi_publishable=False), NOW, LOCAL)
    assert feature["properties"]["kind"] == "aqi" and feature["properties"]["aqi"] is None


def test_an_ineligible_station_never_carries_an_aqi() -> None:
    p = station_feature(
        row(eligible_today=False, station_type="low_cost_sensor",
            concentration_hour=NOW.replace(minute=0) - timedelta(hours=1),
            concentrations=[("pm10", 80.04, "µg/m³"), ("pm25", 40.06, "µg/m³")]),
        NOW, LOCAL,
    )["properties"]  # fmt: skip
    assert p["kind"] == "indicative" and p["aqi"] is None
    assert [(v["label"], v["value"]) for v in p["concentrations"]["values"]] == [
        ("PM2.5", 40.1), ("PM10", 80.0)
    ]  # fmt: skip


def test_silent_after_two_hours_without_data() -> None:
    last = NOW.replace(minute=0) - timedelta(hours=3)  # ended 2 h 20 min before NOW
    assert station_feature(row(last_data_hour=last), NOW, LOCAL)["properties"]["silent"]
    recent = NOW.replace(minute=0) - timedelta(hours=2)  # ended 1 h 20 min before NOW
    assert not station_feature(row(last_data_hour=recent), NOW, LOCAL)["properties"]["silent"]
    assert station_feature(row(last_data_hour=None), NOW, LOCAL)["properties"]["silent"]


def test_the_rate_limit_refills_at_its_rate() -> None:
    limit = RateLimit(app=None, per_minute=60)  # type: ignore[arg-type]
    assert [limit.allow("a", 0.0) for _ in range(60)] == [0.0] * 60
    assert limit.allow("a", 0.0) == 1.0  # one token a second
    assert limit.allow("b", 0.0) == 0.0  # another client has its own bucket
    assert limit.allow("a", 1.5) == 0.0


def test_the_rate_limit_forgets_the_oldest_clients_first() -> None:
    limit = RateLimit(app=None, per_minute=1, max_clients=2)  # type: ignore[arg-type]
    for client in ("a", "b", "c"):
        limit.allow(client, 0.0)
    assert list(limit.buckets) == ["b", "c"]


async def test_a_request_over_its_time_gets_503() -> None:
    async def slow(scope: Scope, receive: Receive, send: Send) -> None:
        await asyncio.sleep(5)

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    app = RequestTimeout(slow, seconds=0.05)
    await asyncio.wait_for(app({"type": "http", "method": "GET"}, receive, send), 2)
    assert sent[0]["status"] == 503


async def test_the_cache_builds_once_for_simultaneous_requests() -> None:
    cache = DocumentCache(ttl_s=60)
    builds = 0

    async def build() -> bytes:
        nonlocal builds
        builds += 1
        await asyncio.sleep(0.05)
        return b"doc"

    results = await asyncio.gather(*(cache.get("k", build) for _ in range(20)))
    assert results == [b"doc"] * 20 and builds == 1


async def test_an_expired_document_is_served_while_one_rebuild_runs() -> None:
    cache = DocumentCache(ttl_s=0.2)
    versions = iter([b"v1", b"v2", b"v3"])
    builds = 0

    async def build() -> bytes:
        nonlocal builds
        builds += 1
        await asyncio.sleep(0.05)
        return next(versions)

    assert await cache.get("k", build) == b"v1"
    await asyncio.sleep(0.25)  # expired, but less than twice the TTL old
    stale = await asyncio.gather(*(cache.get("k", build) for _ in range(10)))
    assert stale == [b"v1"] * 10  # nobody waited for the rebuild
    await asyncio.sleep(0.1)
    assert await cache.get("k", build) == b"v2" and builds == 2
    await asyncio.sleep(0.45)  # more than twice the TTL: wait for a fresh one
    assert await cache.get("k", build) == b"v3"
