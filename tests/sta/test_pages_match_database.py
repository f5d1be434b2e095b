"""Whole Observation pages compared with documents built here, field by field, from the
rows the database holds (plain SQL as the superuser) by the rules of docs/sensorthings.md:
ids and links, times in UTC, results, the QA/QC level and flags, the VN_AQI band and the
days a station may publish it. The JSON is compared as text with sorted keys, so a
number's kind (an AQI is a whole number, a mean a decimal) counts as well as its value."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest

from tests.sta.conftest import StaServer
from tests.sta.seed import FIRST_PUBLISHABLE_DAY
from web.sta.entities import _iso

UTC = dt.UTC
LOCAL = dt.timezone(dt.timedelta(hours=7))  # Asia/Ho_Chi_Minh keeps no summer time

# per Datastream id: (sort key, document) of each Observation, oldest first
Expected = dict[str, list[tuple[tuple[Any, ...], dict[str, Any]]]]


def utc_text(value: dt.datetime) -> str:
    """ISO 8601 in UTC: seconds always, the microseconds (six digits) when not zero."""
    value = value.astimezone(UTC)
    fraction = f".{value.microsecond:06d}" if value.microsecond else ""
    return value.strftime("%Y-%m-%dT%H:%M:%S") + fraction + "Z"


def document(
    base: str,
    datastream: str,
    start: dt.datetime,
    end: dt.datetime | None,
    result_time: dt.datetime,
    result: float | int,
    quality: dict[str, Any],
    parameters: dict[str, Any] | None = None,
) -> dict[str, Any]:
    observation_id = f"{datastream}.{utc_text(start)}"
    link = f"{base}/Observations('{observation_id}')"
    body: dict[str, Any] = {
        "@iot.id": observation_id,
        "@iot.selfLink": link,
        "phenomenonTime": utc_text(start) + ("" if end is None else f"/{utc_text(end)}"),
        "resultTime": utc_text(result_time),
        "result": result,
        "resultQuality": quality,
        "Datastream@iot.navigationLink": f"{link}/Datastream",
    }
    if parameters is not None:
        body["parameters"] = parameters
    return body


def expected_observations(url: str, base: str) -> Expected:
    """What each Datastream must serve, built from the tables."""
    hour = dt.timedelta(hours=1)
    streams: Expected = {}

    def add(
        station: str, quantity: str, aggregation: str, start: dt.datetime, doc: dict[str, Any]
    ) -> None:
        key = (station, quantity, start, aggregation)
        streams.setdefault(f"{station}.{quantity}.{aggregation}", []).append((key, doc))

    with psycopg.connect(url) as conn:
        hourly = conn.execute(
            "SELECT station_id, parameter, hour, mean, computed_at, data_level,"
            " completeness, n_valid, n_expected FROM hourly WHERE valid AND mean IS NOT NULL"
        )
        for station, parameter, start, mean, computed, level, *samples in hourly:
            completeness, n_valid, n_expected = samples
            quality = {"dataLevel": level, "completeness": completeness,
                       "validSamples": n_valid, "expectedSamples": n_expected}  # fmt: skip
            stream = f"{station}.{parameter}.hourly"
            add(station, parameter, "hourly", start,
                document(base, stream, start, start + hour, computed, mean, quality))  # fmt: skip

        verified = conn.execute(
            "SELECT station_id, period_start, period_end FROM qc_actions WHERE action = 'verify'"
        ).fetchall()
        codes = conn.execute("SELECT bit, code FROM qc_rule_codes ORDER BY bit").fetchall()
        flags = {
            (s, p, t): f
            for s, p, t, f in conn.execute("SELECT station_id, parameter, ts, flags FROM qc_flags")
        }
        for station, parameter, ts, value, status in conn.execute(
            "SELECT station_id, parameter, ts, value, status FROM readings"
        ):
            is_verified = any(s == station and a <= ts < b for s, a, b in verified)
            bits = flags.get((station, parameter, ts), 0)
            quality = {
                "dataLevel": "verified" if is_verified else "provisional",
                "status": status,
                "qcFlags": [code for bit, code in codes if bits & bit],
            }
            stream = f"{station}.{parameter}.raw"
            add(station, parameter, "raw", ts,
                document(base, stream, ts, None, ts, value, quality))  # fmt: skip

        bands: dict[int, str] = dict(
            conn.execute(
                "SELECT level, name_vi FROM aqi_categories WHERE standard = 'vn_1459_2019'"
            ).fetchall()
        )
        for station, start, aqi, computed, level, category, dominant in conn.execute(
            "SELECT station_id, hour, aqi, computed_at, data_level, category, dominant"
            " FROM aqi_hourly WHERE standard = 'vn_1459_2019' AND aqi IS NOT NULL"
        ):
            first_day = FIRST_PUBLISHABLE_DAY.get(station)
            if first_day is None or start.astimezone(LOCAL).date() < first_day:
                continue
            parameters = {"standard": "vn_1459_2019", "category": category,
                          "band": bands.get(category), "dominantPollutant": dominant}  # fmt: skip
            add(station, "vn_aqi", "hourly", start,
                document(base, f"{station}.vn_aqi.hourly", start, start + hour, computed,
                         aqi, {"dataLevel": level}, parameters))  # fmt: skip
        for station, day, aqi, computed, level, category, dominant in conn.execute(
            "SELECT station_id, day, aqi, computed_at, data_level, category, dominant"
            " FROM aqi_daily WHERE standard = 'vn_1459_2019' AND aqi IS NOT NULL"
        ):
            first_day = FIRST_PUBLISHABLE_DAY.get(station)
            if first_day is None or day < first_day:
                continue
            start = dt.datetime(day.year, day.month, day.day, tzinfo=LOCAL)
            parameters = {"standard": "vn_1459_2019", "category": category,
                          "band": bands.get(category), "dominantPollutant": dominant}  # fmt: skip
            add(station, "vn_aqi", "daily", start,
                document(base, f"{station}.vn_aqi.daily", start, start + dt.timedelta(days=1),
                         computed, aqi, {"dataLevel": level}, parameters))  # fmt: skip
    for rows in streams.values():
        rows.sort(key=lambda row: row[0])
    return streams


@pytest.fixture(scope="module")
def expected(sta_server: StaServer, database_url: str) -> Expected:
    return expected_observations(database_url, sta_server.base)


def pages(client: httpx.Client, url: str) -> Iterator[dict[str, Any]]:
    next_url: str | None = url
    while next_url is not None:
        response = client.get(next_url)
        assert response.status_code == 200, response.text
        page: dict[str, Any] = response.json()
        yield page
        next_url = page.get("@iot.nextLink")


def as_text(documents: list[dict[str, Any]]) -> list[str]:
    return [json.dumps(d, sort_keys=True, ensure_ascii=False) for d in documents]


@pytest.mark.parametrize(
    "datastream",
    ["BN01.pm25.hourly", "BN01.pm25.raw", "BN01.vn_aqi.hourly", "BN03.vn_aqi.hourly",
     "BN03.vn_aqi.daily", "BN02.pm25.hourly"],
)  # fmt: skip
def test_a_datastreams_pages_are_its_rows_as_the_rules_make_them(
    sta: httpx.Client, expected: Expected, datastream: str
) -> None:
    served = [
        o for page in pages(sta, f"Datastreams('{datastream}')/Observations?$top=25")
        for o in page["value"]
    ]  # fmt: skip
    built = [doc for _, doc in expected[datastream]]
    assert built, "the seed must give this Datastream rows"
    assert as_text(served) == as_text(built)


def test_every_observation_in_key_order_across_the_tables(
    sta: httpx.Client, expected: Expected
) -> None:
    everything = sorted((row for rows in expected.values() for row in rows), key=lambda r: r[0])
    served_pages = list(pages(sta, "Observations?$top=40"))
    served = [o for page in served_pages for o in page["value"]]
    assert as_text(served) == as_text([doc for _, doc in everything])
    assert len(served_pages) == -(-len(everything) // 40)
    # and in one page of 1,000, the first page's bytes as a client gets them
    whole = sta.get("Observations?$top=1000")
    assert whole.headers["content-type"] == "application/json"
    assert json.loads(whole.content) == {"value": [doc for _, doc in everything]}


def test_sorted_by_result_across_the_tables_with_skip(
    sta: httpx.Client, expected: Expected
) -> None:
    everything = [row for rows in expected.values() for row in rows]
    # result descending, then the key descending (the service's tie-breaker)
    by_result = sorted(everything, key=lambda r: (r[1]["result"], r[0]), reverse=True)
    served = [
        o for page in pages(sta, "Observations?$top=30&$skip=7&$orderby=result desc")
        for o in page["value"]
    ]  # fmt: skip
    assert as_text(served) == as_text([doc for _, doc in by_result[7:]])


@pytest.mark.parametrize(
    "value",
    [
        dt.datetime(2025, 1, 1, 0, 0, tzinfo=UTC),
        dt.datetime(2025, 1, 1, 6, 30, 15, 500_000, tzinfo=LOCAL),
        dt.datetime(2024, 12, 31, 23, 59, 59, 1, tzinfo=UTC),
        dt.datetime(2025, 6, 1, 12, 0, 0, 120_000, tzinfo=UTC),
    ],
)
def test_times_are_written_in_utc_with_microseconds_only_when_there_are_some(
    database_url: str, value: dt.datetime
) -> None:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            f"SELECT {_iso('t.v')} FROM (VALUES (%s::timestamptz)) AS t(v)".encode(), (value,)
        ).fetchone()
    assert row is not None
    assert row[0] == utc_text(value)
