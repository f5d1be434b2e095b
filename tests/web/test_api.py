"""``aqm web``'s JSON on a real TimescaleDB seeded through the real tables, read as
aqm_reader by a real uvicorn server."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from aqm.localservices import PostgresInstance, free_port
from tests.web.seed import (
    FRESH_AQI,
    FRESH_MISSING_HOUR,
    INDICATIVE_PM10,
    INDICATIVE_PM25,
    INDICATIVE_STORED_AQI,
    LOCAL,
    STALE_AQI,
    VERIFIED_AQI,
    H,
    Seeded,
    seed,
)
from tests.web.server import running_web, web_settings


@pytest.fixture(scope="module")
def seeded(database_url: str) -> Seeded:
    return seed(database_url)


@pytest.fixture(scope="module")
def web(seeded: Seeded, postgres: PostgresInstance) -> Iterator[str]:
    with running_web(web_settings(postgres.url(user="aqm_reader"))) as url:
        yield url


def get(url: str, headers: dict[str, str] | None = None,
        method: str = "GET") -> tuple[int, dict[str, str], bytes]:  # fmt: skip
    request = urllib.request.Request(url, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def document(url: str) -> Any:
    status, _, body = get(url)
    assert status == 200, body
    return json.loads(body)


def features(web: str) -> dict[str, dict[str, Any]]:
    doc = document(f"{web}/api/v1/current")
    return {f["id"]: f for f in doc["features"]}


def local_hour(start: Any) -> str:
    """Decision 1459 names an hour by its end; written out independently of web/."""
    begin = start.astimezone(LOCAL)
    end = begin + timedelta(hours=1)
    end_text = "24:00" if end.hour == 0 else f"{end.hour:02d}:00"
    return f"{begin.hour:02d}:00–{end_text} {begin:%d/%m/%Y}"


def test_current_document_is_geojson_with_every_active_station(web: str) -> None:
    doc = document(f"{web}/api/v1/current")
    assert doc["type"] == "FeatureCollection"
    assert doc["timezone"] == "Asia/Ho_Chi_Minh"
    ids = {f["id"] for f in doc["features"]}
    assert ids == {"BN-FRESH", "BN-VERIFIED", "BN-SILENT", "BN-EMPTY", "BN-LCS"}
    fresh = next(f for f in doc["features"] if f["id"] == "BN-FRESH")
    assert fresh["geometry"] == {"type": "Point", "coordinates": [106.0763, 21.1861]}
    # the six bands of Decision 1459 Table 1 with their colours
    assert [(b["name"], b["lower"], b["upper"], b["color"]) for b in doc["bands"]] == [
        ("Tốt", 0, 50, "#00E400"), ("Trung bình", 51, 100, "#FFFF00"),
        ("Kém", 101, 150, "#FF7E00"), ("Xấu", 151, 200, "#FF0000"),
        ("Rất xấu", 201, 300, "#8F3F97"), ("Nguy hại", 301, 500, "#7E0023"),
    ]  # fmt: skip


def test_an_eligible_station_shows_its_hourly_aqi_band_and_hour(web: str, seeded: Seeded) -> None:
    p = features(web)["BN-FRESH"]["properties"]
    assert p["kind"] == "aqi"
    aqi = p["aqi"]
    assert (aqi["value"], aqi["band"], aqi["color"]) == (FRESH_AQI, "Kém", "#FF7E00")
    assert aqi["hour_local"] == local_hour(seeded.base - H)
    assert aqi["data_level"] == "provisional" and "tạm thời" in aqi["data_level_label"]
    assert aqi["dominant_label"] == "PM2.5"
    assert {s["label"]: s["value"] for s in aqi["sub_indices"]} == {"PM2.5": FRESH_AQI, "O3": 40}
    assert p["silent"] is False and aqi["stale"] is False

    verified = features(web)["BN-VERIFIED"]["properties"]["aqi"]
    assert (verified["value"], verified["band"], verified["data_level"]) == (
        VERIFIED_AQI, "Tốt", "verified",
    )  # fmt: skip
    assert verified["dominant_label"] == "O3"


def test_an_indicative_station_shows_concentrations_never_an_aqi(web: str) -> None:
    p = features(web)["BN-LCS"]["properties"]
    assert p["kind"] == "indicative" and p["aqi"] is None
    assert "không phải chỉ số VN_AQI" in p["kind_label"]
    values = {v["parameter"]: (v["value"], v["unit"]) for v in p["concentrations"]["values"]}
    assert values == {"pm25": (INDICATIVE_PM25, "µg/m³"), "pm10": (INDICATIVE_PM10, "µg/m³")}
    assert str(INDICATIVE_STORED_AQI) not in json.dumps(p)


def test_a_silent_station_says_so_and_missing_is_null(web: str, seeded: Seeded) -> None:
    f = features(web)
    silent = f["BN-SILENT"]["properties"]
    assert silent["silent"] is True
    assert silent["aqi"]["stale"] is True and silent["aqi"]["value"] == STALE_AQI
    assert silent["last_data_end"] is not None
    empty = f["BN-EMPTY"]["properties"]
    assert empty["silent"] is True and empty["aqi"] is None and empty["last_data_end"] is None


def test_the_hourly_series_has_24_hours_with_missing_as_null(web: str, seeded: Seeded) -> None:
    doc = document(f"{web}/api/v1/stations/BN-FRESH/hourly")
    values = doc["values"]
    assert doc["quantity"] == "VN_AQI" and len(values) == 24
    assert values[-1]["hour_local"] == local_hour(seeded.base - H)
    assert values[-1]["value"] == FRESH_AQI
    assert values[24 - FRESH_MISSING_HOUR]["value"] is None
    assert all(v["value"] is not None for i, v in enumerate(values) if i != 24 - FRESH_MISSING_HOUR)


def test_the_daily_series_has_30_days_with_missing_as_null(web: str) -> None:
    values = document(f"{web}/api/v1/stations/BN-FRESH/daily")["values"]
    assert len(values) == 30
    missing = [i for i, v in enumerate(values) if v["value"] is None]
    assert missing == [30 - 10, 30 - 3]  # oldest first: 10 and 3 days ago
    assert values[-1]["value"] == 81  # yesterday: the last complete day
    yesterday = datetime.now(LOCAL).date() - timedelta(days=1)
    assert values[-1]["day"] == yesterday.isoformat()


def test_an_indicative_series_is_pm25_not_aqi(web: str) -> None:
    doc = document(f"{web}/api/v1/stations/BN-LCS/hourly?hours=3")
    assert doc["quantity"] == "PM2.5" and doc["unit"] == "µg/m³"
    assert [v["value"] for v in doc["values"]] == [None, None, INDICATIVE_PM25]


def test_bad_requests_are_named(web: str) -> None:
    status, _, body = get(f"{web}/api/v1/stations/BN-NONE/hourly")
    assert status == 404 and "BN-NONE" in body.decode()
    for query in ("hours=1000", "hours=abc", "hours=0"):
        status, _, body = get(f"{web}/api/v1/stations/BN-FRESH/hourly?{query}")
        assert status == 400 and "1 to 168" in body.decode(), query


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_nothing_can_be_written(web: str, method: str) -> None:
    for path in ("/api/v1/current", "/", "/static/app.js", "/nowhere"):
        status, headers, _ = get(f"{web}{path}", method=method)
        assert status == 405 and headers["allow"] == "GET, HEAD, OPTIONS"


def test_security_and_cors_headers(web: str) -> None:
    status, headers, body = get(f"{web}/", {"Origin": "https://example.org"})
    assert status == 200 and b"VN_AQI" in body
    csp = headers["content-security-policy"]
    assert "default-src 'self'" in csp and "http" not in csp and "unsafe" not in csp
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    status, headers, _ = get(f"{web}/api/v1/current", {"Origin": "https://example.org"})
    assert headers["access-control-allow-origin"] == "*"


def test_page_assets_come_from_the_server_itself(web: str) -> None:
    _, _, page = get(f"{web}/")
    _, _, script = get(f"{web}/static/app.js")
    for text in (page, script):
        assert b"http://" not in text.replace(b"http://www.w3.org/2000/svg", b"")
        assert b"https://" not in text
    status, _headers, body = get(f"{web}/province.geojson")
    assert status == 200 and json.loads(body)["type"] == "FeatureCollection"


def test_the_current_document_is_cached(seeded: Seeded, postgres: PostgresInstance,
                                        database_url: str) -> None:  # fmt: skip
    settings = web_settings(postgres.url(user="aqm_reader"), web_cache_s=60)
    with running_web(settings) as url:
        first = get(f"{url}/api/v1/current")
        assert first[1]["cache-control"] == "public, max-age=60"
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute("UPDATE stations SET name = 'đổi tên' WHERE station_id = 'BN-FRESH'")
        try:
            assert get(f"{url}/api/v1/current")[2] == first[2]
        finally:
            with psycopg.connect(database_url, autocommit=True) as conn:
                conn.execute(
                    "UPDATE stations SET name = 'Trạm Kinh Bắc' WHERE station_id = 'BN-FRESH'"
                )


def test_a_client_over_its_rate_is_told_to_wait(seeded: Seeded, postgres: PostgresInstance) -> None:
    settings = web_settings(postgres.url(user="aqm_reader"), web_rate_per_minute=3)
    with running_web(settings) as url:
        statuses = [get(f"{url}/province.geojson")[0] for _ in range(3)]
        status, headers, _ = get(f"{url}/province.geojson")
    assert statuses == [200, 200, 200]
    assert status == 429 and int(headers["retry-after"]) >= 1


def test_an_unreachable_database_is_a_503_not_a_crash() -> None:
    dead = f"postgresql://aqm_reader@127.0.0.1:{free_port()}/aqm?connect_timeout=1"
    with running_web(web_settings(dead)) as url:
        status, _headers, body = get(f"{url}/api/v1/current")
        assert status == 503 and "database" in body.decode()
        assert get(f"{url}/")[0] == 200  # the page itself still loads and says so


def test_bulk_files_and_sub_applications_are_served_read_only(
    seeded: Seeded, postgres: PostgresInstance, tmp_path: Path
) -> None:
    (tmp_path / "README.txt").write_text("Dữ liệu mở\n", encoding="utf-8")
    (tmp_path / "index.html").write_text("<p>danh mục</p>", encoding="utf-8")

    async def hello(request: Request) -> Response:
        return JSONResponse({"value": "sub-app"})

    sub = Mount("/extra", app=Starlette(routes=[Route("/", hello)]))
    settings = web_settings(postgres.url(user="aqm_reader"))
    with running_web(settings, data_dir=tmp_path, mounts=[sub]) as url:
        status, headers, body = get(f"{url}/data/README.txt")
        assert status == 200 and body.decode() == "Dữ liệu mở\n"
        assert "default-src 'self'" in headers["content-security-policy"]
        assert get(f"{url}/data/")[2].decode() == "<p>danh mục</p>"
        assert get(f"{url}/data/README.txt", method="PUT")[0] == 405
        status, headers, body = get(f"{url}/extra/")
        assert status == 200 and json.loads(body) == {"value": "sub-app"}
        assert headers["x-content-type-options"] == "nosniff"
        assert get(f"{url}/extra/", method="POST")[0] == 405


def test_the_sensorthings_api_is_served_beside_the_page(web: str) -> None:
    """The same service (pool, headers, read-only) answers the SensorThings API."""
    landing = document(f"{web}/sta/v1.1")
    assert landing["value"][0]["name"] == "Things"
    status, headers, body = get(
        f"{web}/sta/v1.1/Things?$select=id,name&$orderby=id", {"Origin": "https://example.org"}
    )
    assert status == 200, body
    assert headers["access-control-allow-origin"] == "*"
    assert "default-src 'self'" in headers["content-security-policy"]
    things = {t["@iot.id"]: t["name"] for t in json.loads(body)["value"]}
    # every station the seed wrote, by the names it gave them
    assert things["BN-FRESH"] == "Trạm Kinh Bắc"
    assert things["BN-LCS"] == "Cảm biến bụi Quế Võ"
    assert get(f"{web}/sta/v1.1/Things", method="POST")[0] == 405
