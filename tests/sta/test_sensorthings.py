"""The SensorThings API over a seeded TimescaleDB, through a real uvicorn, as aqm_reader:
entities and links, AQI only where it may be published, query options, paging that
returns every row once, and a 400 naming the option for every bad query."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.sta.conftest import StaServer
from tests.sta.seed import (
    AQI_HOURS,
    CALIBRATING_INDEX,
    READING_TIMES,
    SPIKE_INDEX,
    START,
    STATIONS,
    VERIFIED_UNTIL,
    expected_daily_aqi,
    expected_hourly_aqi,
    expected_hourly_pm25,
    hourly_mean,
    iso,
)
from web.sta.options import MAX_TOP, parse_query

HOURLY_PM25 = "Datastreams('BN01.pm25.hourly')/Observations"


def get(client: httpx.Client, url: str) -> dict[str, Any]:
    response = client.get(url)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    return body


def all_pages(client: httpx.Client, url: str) -> tuple[list[dict[str, Any]], int]:
    """Every entity reached by following @iot.nextLink, and the number of pages."""
    values: list[dict[str, Any]] = []
    pages = 0
    next_url: str | None = url
    while next_url is not None:
        page = get(client, next_url)
        values.extend(page["value"])
        pages += 1
        next_url = page.get("@iot.nextLink")
        assert pages < 200, "paging does not end"
    return values, pages


def start_of(observation: dict[str, Any]) -> str:
    return str(observation["phenomenonTime"]).split("/")[0]


# ---- landing document and entities --------------------------------------------------------


def test_landing_document_lists_the_entity_sets_and_conformance(
    sta: httpx.Client, sta_server: StaServer
) -> None:
    body = get(sta, "")
    names = [v["name"] for v in body["value"]]
    assert names == ["Things", "Locations", "Sensors", "ObservedProperties", "Datastreams",
                     "Observations"]  # fmt: skip
    assert body["value"][0]["url"] == f"{sta_server.base}/Things"
    assert (
        "http://www.opengis.net/spec/iot_sensing/1.1/req/datamodel"
        in body["serverSettings"]["conformance"]
    )


def test_things_and_locations_are_the_stations(sta: httpx.Client, sta_server: StaServer) -> None:
    things = get(sta, "Things")["value"]
    assert [t["@iot.id"] for t in things] == [s.station_id for s in STATIONS]
    first = things[0]
    assert first["name"] == "Trạm Suối Hoa"
    assert first["@iot.selfLink"] == f"{sta_server.base}/Things('BN01')"
    assert (
        first["Datastreams@iot.navigationLink"] == f"{sta_server.base}/Things('BN01')/Datastreams"
    )
    assert first["properties"]["stationType"] == "fixed_automatic"
    location = get(sta, "Things('BN01')/Locations")["value"][0]
    assert location["encodingType"] == "application/geo+json"
    assert location["location"] == {"type": "Point", "coordinates": [106.076, 21.186, 12.0]}
    assert get(sta, "Locations('BN02')/Things")["value"][0]["name"] == "Cảm biến Đình Bảng"
    assert get(sta, "Things('BN02')/name") == {"name": "Cảm biến Đình Bảng"}
    assert sta.get("Things('BN02')/name/$value").text == "Cảm biến Đình Bảng"


def test_datastreams_per_station_quantity_and_aggregation_aqi_only_where_publishable(
    sta: httpx.Client,
) -> None:
    def ids(station: str) -> set[str]:
        return {d["@iot.id"] for d in get(sta, f"Things('{station}')/Datastreams")["value"]}

    assert ids("BN01") == {
        f"BN01.{p}.{a}" for p in ("pm25", "pm10", "o3", "no2") for a in ("raw", "hourly")
    } | {"BN01.vn_aqi.hourly", "BN01.vn_aqi.daily"}
    # a low-cost sensor publishes concentrations only, never an AQI (Circular 10/2021 Art. 29)
    assert ids("BN02") == {"BN02.pm25.raw", "BN02.pm25.hourly", "BN02.humidity.raw",
                           "BN02.humidity.hourly"}  # fmt: skip
    assert "BN03.vn_aqi.daily" in ids("BN03")
    assert sta.get("Datastreams('BN02.vn_aqi.hourly')").status_code == 404

    stream = get(sta, "Datastreams('BN01.pm25.hourly')")
    assert stream["unitOfMeasurement"]["symbol"] == "µg/m³"
    assert stream["properties"]["averagingPeriod"] == "PT1H"
    humidity = get(sta, "Datastreams('BN02.humidity.raw')")
    assert humidity["unitOfMeasurement"]["symbol"] == "%"
    aqi = get(sta, "Datastreams('BN01.vn_aqi.daily')")
    assert aqi["unitOfMeasurement"]["symbol"] == "VN_AQI"
    assert get(sta, "Datastreams('BN01.vn_aqi.daily')/Sensor")["@iot.id"] == "vn_1459_2019"
    assert get(sta, "Datastreams('BN01.pm25.raw')/Sensor")["@iot.id"] == "BN01.pm25"
    assert get(sta, "Datastreams('BN01.pm25.raw')/Thing")["@iot.id"] == "BN01"
    assert get(sta, "Datastreams('BN01.pm25.raw')/ObservedProperty")["name"] == "PM2.5"
    by_sensor = get(sta, "Sensors('BN01.pm25')/Datastreams")["value"]
    assert {d["@iot.id"] for d in by_sensor} == {"BN01.pm25.raw", "BN01.pm25.hourly"}
    aqi_streams = get(sta, "ObservedProperties('vn_aqi')/Datastreams")["value"]
    assert {d["@iot.id"] for d in aqi_streams} == {
        f"{s}.vn_aqi.{a}" for s in ("BN01", "BN03") for a in ("hourly", "daily")
    }


def test_hourly_means_are_the_valid_ones_with_their_data_level(sta: httpx.Client) -> None:
    observations, _ = all_pages(sta, HOURLY_PM25)
    assert [(start_of(o), o["result"]) for o in observations] == expected_hourly_pm25()
    first = observations[0]
    assert first["@iot.id"] == f"BN01.pm25.hourly.{iso(START)}"
    assert first["phenomenonTime"] == f"{iso(START)}/{iso(START.replace(hour=18))}"
    assert first["resultQuality"]["dataLevel"] == "verified"  # the seeded hours 0…23
    assert observations[-1]["resultQuality"]["dataLevel"] == "provisional"
    again = get(sta, f"Observations('{first['@iot.id']}')")
    assert again["result"] == hourly_mean(0)
    assert get(sta, f"Observations('{first['@iot.id']}')/Datastream")["@iot.id"] == (
        "BN01.pm25.hourly"
    )


def test_raw_readings_carry_status_flags_and_verification(sta: httpx.Client) -> None:
    observations, _ = all_pages(sta, "Datastreams('BN01.pm25.raw')/Observations")
    assert [o["phenomenonTime"] for o in observations] == [iso(t) for t in READING_TIMES]
    assert [o["result"] for o in observations] == [10.0 + k for k in range(len(READING_TIMES))]
    quality = [o["resultQuality"] for o in observations]
    assert quality[SPIKE_INDEX]["qcFlags"] == ["spike"]
    assert quality[CALIBRATING_INDEX]["status"] == "01"
    levels = ["verified" if t < VERIFIED_UNTIL else "provisional" for t in READING_TIMES]
    assert [q["dataLevel"] for q in quality] == levels


@pytest.mark.parametrize("station", ["BN01", "BN03"])
def test_aqi_observations_only_for_days_the_station_may_publish(
    sta: httpx.Client, station: str
) -> None:
    hourly, _ = all_pages(sta, f"Datastreams('{station}.vn_aqi.hourly')/Observations?$top=17")
    assert [(start_of(o), o["result"]) for o in hourly] == expected_hourly_aqi(station)
    assert all(isinstance(o["result"], int) for o in hourly)
    assert hourly[0]["parameters"]["band"] in ("Tốt", "Trung bình")
    daily = get(sta, f"Datastreams('{station}.vn_aqi.daily')/Observations")["value"]
    assert [(start_of(o), o["result"]) for o in daily] == expected_daily_aqi(station)
    # the low-cost station's rows in the AQI tables never come out
    everything, _ = all_pages(sta, "Observations?$filter=result ge 0&$top=1000")
    assert not [o for o in everything if o["@iot.id"].startswith("BN02.vn_aqi")]
    assert len([o for o in everything if ".vn_aqi.hourly." in o["@iot.id"]]) == (
        len(expected_hourly_aqi("BN01")) + len(expected_hourly_aqi("BN03"))
    )
    assert AQI_HOURS == 96


# ---- paging ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "$top=7",
        "$top=10&$orderby=phenomenonTime desc",
        "$top=6&$orderby=result desc",  # equal results: the id breaks ties
        "$top=8&$orderby=result asc,phenomenonTime desc",  # mixed directions: by $skip
        "$top=5&$skip=3",
    ],
)
def test_all_pages_together_are_all_rows_once(sta: httpx.Client, query: str) -> None:
    observations, pages = all_pages(sta, f"{HOURLY_PM25}?{query}")
    expected = expected_hourly_pm25()
    skip = 3 if "$skip=3" in query else 0
    ids = [o["@iot.id"] for o in observations]
    assert len(ids) == len(set(ids)) == len(expected) - skip
    top = int(query.split("$top=")[1].split("&", maxsplit=1)[0])
    assert pages == -(-(len(expected) - skip) // top)
    pairs = [(start_of(o), o["result"]) for o in observations]
    if "result desc" in query:
        assert pairs == sorted(expected, key=lambda p: (p[1], p[0]), reverse=True)
    elif "result asc" in query:
        assert pairs == sorted(sorted(expected, reverse=True), key=lambda p: p[1])
    elif "desc" in query:
        assert pairs == expected[::-1]
    else:
        assert pairs == expected[skip:]


def test_next_link_keeps_the_filter_and_pages_by_key(
    sta: httpx.Client, sta_server: StaServer
) -> None:
    page = get(sta, f"{HOURLY_PM25}?$filter=result gt 20&$top=3&$count=true")
    link = page["@iot.nextLink"]
    assert link.startswith(f"{sta_server.base}/{HOURLY_PM25}?")
    assert "$filter=result%20gt%2020" in link and "$skiptoken=" in link
    rows, _ = all_pages(sta, link)
    expected = [p for p in expected_hourly_pm25() if p[1] > 20]
    assert page["@iot.count"] == len(expected)
    assert [(start_of(o), o["result"]) for o in page["value"] + rows] == expected


def test_top_is_bounded() -> None:
    assert parse_query({"$top": ["5000"]})[0].top == MAX_TOP == 1000
    assert parse_query({})[0].top == 100


# ---- $filter, $select, $expand, $count -----------------------------------------------------


@pytest.mark.parametrize(
    ("filter_text", "keep"),
    [
        ("phenomenonTime ge 2025-01-01T00:00:00Z and phenomenonTime lt 2025-01-01T12:00:00Z",
         lambda t, r: "2025-01-01T00:00:00Z" <= t < "2025-01-01T12:00:00Z"),
        ("result gt 20 and result le 25", lambda t, r: 20 < r <= 25),
        ("result eq 5 or result eq 32.5", lambda t, r: r in (5, 32.5)),
        ("not (result lt 10 or result gt 30)", lambda t, r: 10 <= r <= 30),
        ("(result ne 5) and not phenomenonTime gt 2025-01-01T05:00:00Z",
         lambda t, r: r != 5 and t <= "2025-01-01T05:00:00Z"),
        ("phenomenonTime eq '2025-01-01T03:00:00%2B07:00'", lambda t, r: t == "2024-12-31T20:00:00Z"),
        ("id eq 'BN01.pm25.hourly.2025-01-01T00:00:00Z'", lambda t, r: t == "2025-01-01T00:00:00Z"),
        ("@iot.id gt 'BN01.pm25.hourly.2025-01-02T00:00:00Z'", lambda t, r: t > "2025-01-02T00:00:00Z"),
        ("30 lt result", lambda t, r: r > 30),
    ],
)  # fmt: skip
def test_filter_comparisons_and_logic(sta: httpx.Client, filter_text: str, keep: Any) -> None:
    rows, _ = all_pages(sta, f"{HOURLY_PM25}?$filter={filter_text}")
    expected = [(t, r) for t, r in expected_hourly_pm25() if keep(t, r)]
    assert expected, "the case must select something"
    assert [(start_of(o), o["result"]) for o in rows] == expected


def test_filter_by_datastream_and_thing_ids(sta: httpx.Client) -> None:
    rows, _ = all_pages(sta, "Observations?$filter=Datastream/@iot.id eq 'BN03.vn_aqi.daily'")
    assert [(start_of(o), o["result"]) for o in rows] == expected_daily_aqi("BN03")
    streams = get(
        sta, "Datastreams?$filter=Thing/@iot.id eq 'BN02' and ObservedProperty/id eq 'pm25'"
    )
    assert [d["@iot.id"] for d in streams["value"]] == ["BN02.pm25.hourly", "BN02.pm25.raw"]
    things = get(sta, "Things?$filter=id eq 'BN01' or name eq 'Trạm Quế Võ'&$orderby=name desc")
    assert [t["@iot.id"] for t in things["value"]] == ["BN01", "BN03"]


def test_values_never_become_sql(sta: httpx.Client) -> None:
    body = get(
        sta, "Things?$filter=id eq 'BN01'' OR ''1''=''1' or name eq '; DROP TABLE stations; --'"
    )
    assert body["value"] == []
    assert len(get(sta, "Things")["value"]) == len(STATIONS)


def test_select_expand_and_count(sta: httpx.Client) -> None:
    things = get(sta, "Things?$select=id,name&$count=true")
    assert things["@iot.count"] == len(STATIONS)
    assert things["value"][0] == {"@iot.id": "BN01", "name": "Trạm Suối Hoa"}

    thing = get(
        sta,
        "Things('BN01')?$select=name,Datastreams&$expand="
        "Datastreams($filter=id eq 'BN01.pm25.hourly';$expand=Observations($top=2;"
        "$orderby=phenomenonTime desc;$select=result;$count=true)),Locations($select=location)",
    )
    assert set(thing) == {"name", "Datastreams@iot.navigationLink", "Datastreams", "Locations"}
    (stream,) = thing["Datastreams"]
    expected = expected_hourly_pm25()
    assert stream["Observations"] == [{"result": r} for _, r in expected[::-1][:2]]
    assert stream["Observations@iot.count"] == len(expected)
    assert thing["Locations"] == [{"location": {"type": "Point",
                                                "coordinates": [106.076, 21.186, 12.0]}}]  # fmt: skip

    observations = get(
        sta, f"{HOURLY_PM25}?$top=3&$expand=Datastream/Thing($select=id),Datastream/Sensor"
    )["value"]
    for o in observations:
        assert o["Datastream"]["@iot.id"] == "BN01.pm25.hourly"
        assert o["Datastream"]["Thing"] == {"@iot.id": "BN01"}
        assert o["Datastream"]["Sensor"]["@iot.id"] == "BN01.pm25"


# ---- errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "option", "words"),
    [
        ("$top=-1", "$top", "whole number"),
        ("$top=ten", "$top", "whole number"),
        ("$skip=1.5", "$skip", "whole number"),
        ("$count=yes", "$count", "true or false"),
        ("$filter=result gt", "$filter", "cannot read"),
        ("$filter=(result gt 3", "$filter", "cannot read"),
        ("$filter=colour eq 'red'", "$filter", "no property 'colour'"),
        ("$filter=result gt 'high'", "$filter", "number"),
        ("$filter=phenomenonTime gt 5", "$filter", "time"),
        ("$filter=phenomenonTime gt 2025-02-30T00:00:00Z", "$filter", "day is out of range"),
        ("$filter=id eq 'BN01'", "$filter", "not an Observation id"),
        ("$filter=result gt result", "$filter", "value on the other"),
        ("$filter=substringof('a', result)", "$filter", "cannot read"),
        ("$orderby=colour", "$orderby", "no property 'colour'"),
        ("$orderby=result sideways", "$orderby", "cannot read"),
        ("$select=colour", "$select", "no property 'colour'"),
        ("$expand=Things", "$expand", "no navigation property 'Things'"),
        ("$expand=Datastream($top=x)", "$expand", "cannot read"),
        ("$expand=Datastream($select=colour)", "$select", "no property 'colour'"),
        ("$search=pm25", "$search", "not a query option"),
        ("$resultFormat=dataArray", "$resultFormat", "not a query option"),
        ("$skiptoken=garbage", "$skiptoken", "follow @iot.nextLink"),
        ("$top=1&$top=2", "$top", "once"),
    ],
)
def test_bad_queries_get_400_naming_the_option(
    sta: httpx.Client, query: str, option: str, words: str
) -> None:
    response = sta.get(f"{HOURLY_PM25}?{query}")
    assert response.status_code == 400, response.text
    message = response.json()["message"]
    assert option in message and words in message, message


@pytest.mark.parametrize(
    "path",
    ["Nothing", "Things('BN99')", "Things('BN01')/Colour", "Datastreams('BN01.pm25')",
     "Observations('BN01.pm25.hourly.yesterday')", "Things/Datastreams"],
)  # fmt: skip
def test_unknown_paths_get_404(sta: httpx.Client, path: str) -> None:
    response = sta.get(path)
    assert response.status_code == 404, response.text
    assert response.json()["message"]


def test_the_service_only_reads(sta: httpx.Client) -> None:
    assert sta.post("Things", json={"name": "x"}).status_code == 405
    assert sta.delete("Things('BN01')").status_code == 405


def test_nested_expand_cannot_multiply_a_response_without_bound(sta: httpx.Client) -> None:
    # each Observation (276) expands its Datastream with all of that Datastream's
    # Observations: 65² + 2·24² + 95² + 48² + 4² + 2² + 14² = 16,922 entities > 10,000
    response = sta.get("Observations?$top=1000&$expand=Datastream/Observations($top=1000)")
    assert response.status_code == 400, response.text
    assert "$expand" in response.json()["message"]
    assert "10,000" in response.json()["message"]


def test_paging_every_observation_of_every_datastream_returns_each_once(
    sta: httpx.Client,
) -> None:
    expected = (
        len(expected_hourly_pm25()) + 24 + 24  # BN01 PM2.5 and PM10, BN02 PM2.5 hourly means
        + sum(len(expected_hourly_aqi(s)) + len(expected_daily_aqi(s)) for s in ("BN01", "BN03"))
        + len(READING_TIMES)
    )  # fmt: skip
    paged, pages = all_pages(sta, "Observations?$top=37")
    ids = [o["@iot.id"] for o in paged]
    assert len(ids) == len(set(ids)) == expected
    assert pages == -(-expected // 37)
    whole = get(sta, "Observations?$top=1000")
    assert "@iot.nextLink" not in whole
    assert [o["@iot.id"] for o in whole["value"]] == ids
    # by station, parameter and time (the tables' key order), the aggregation last
    station_quantity_time = [(i.split(".")[0], i.split(".")[1], i.split(".", 3)[3]) for i in ids]
    assert station_quantity_time == sorted(station_quantity_time)
