"""The ingest service end to end: real Mosquitto, real TimescaleDB, real publishers."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from aqm.localservices import MosquittoInstance

from .conftest import count, make_settings, wait_until

pytestmark = pytest.mark.services

NO2_MOLAR_MASS = 46.0055  # g/mol
MOLAR_VOLUME = 24.45  # L/mol at 25 °C, 1 atm


def recent_hour() -> datetime:
    return (datetime.now(UTC) - timedelta(hours=3)).replace(minute=0, second=0, microsecond=0)


def publish(broker: MosquittoInstance, topic: str, payloads: list[bytes]) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    infos = [client.publish(topic, p, qos=1) for p in payloads]
    for info in infos:
        info.wait_for_publish(10)
    client.disconnect()
    client.loop_stop()


def mosquitto_pub(
    broker: MosquittoInstance, topic: str, message: str, version: str = "mqttv5"
) -> None:
    """Publish with Mosquitto's own command-line client, QoS 1."""
    subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(broker.port), "-q", "1",
                    "-V", version, "-t", topic, "-m", message], check=True)  # fmt: skip


def rows(url: str, sql: str, *params: object) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


def reconciled(svc: Any) -> bool:
    m = svc.metrics
    rejected = sum(
        s.value
        for metric in m.readings_rejected.collect()
        for s in metric.samples
        if s.name.endswith("_total")
    )
    return bool(
        m.readings_received._value.get()
        == (m.readings_stored._value.get() + m.readings_duplicate._value.get() + rejected)
    )


async def test_aqm_json_from_mosquitto_pub_is_stored_with_units_converted(
    ingest_db: str, broker: MosquittoInstance, start_service: Any
) -> None:
    svc = await start_service(make_settings(ingest_db, broker))
    ts = recent_hour() + timedelta(minutes=5)
    payload = {
        "station": "BN-01",
        "ts": ts.astimezone().isoformat(),
        "values": {"pm25": 41.3, "pm10": 77.0, "no2": 38.1},
        "units": {"no2": "ppb"},
    }
    mosquitto_pub(broker, "aqm/v1/stations/BN-01/readings", json.dumps(payload))
    await wait_until(
        lambda: count(ingest_db, "SELECT count(*) FROM readings") == 3, what="3 readings"
    )
    stored = {
        r[0]: r[1:]
        for r in rows(
            ingest_db,
            "SELECT parameter, value, original_value, original_unit, status, source_format,"
            " ts, received_at <= inserted_at FROM readings",
        )
    }
    assert stored["no2"][0] == pytest.approx(38.1 * NO2_MOLAR_MASS / MOLAR_VOLUME, rel=1e-9)
    assert stored["no2"][1:3] == (38.1, "ppb")
    assert stored["pm25"][:4] == (41.3, 41.3, "µg/m³", "00")
    assert all(v[4] == "aqm_json" and v[5] == ts and v[6] for v in stored.values())
    dirty = rows(ingest_db, "SELECT DISTINCT station_id, hour FROM aqi_dirty_hours")
    assert dirty == [("BN-01", recent_hour())]
    await wait_until(lambda: reconciled(svc), what="counters to reconcile")


async def test_circular_10_text_lines_with_header_crlf_and_statuses(
    ingest_db: str, broker: MosquittoInstance, start_service: Any
) -> None:
    await start_service(make_settings(ingest_db, broker))
    local = (recent_hour() + timedelta(minutes=10)).astimezone(
        __import__("zoneinfo").ZoneInfo("Asia/Ho_Chi_Minh")
    )
    stamp = local.strftime("%Y%m%d%H%M%S")
    text = (
        f"Thong so\tGia tri\tDon vi\tThoi gian\tTrang thai\r\n"
        f"PM-2-5\t35.2\tug/m3\t{stamp}\t00\r\n"
        f"CO\t1.25\tmg/m3\t{stamp}\t00\r\n"
        f"NO2 42.0 ug/Nm3 {stamp} 01 extra\r\n"
        f"Temp\t28.5\toC\t{stamp}\t02\r\n"
    )
    publish(broker, "aqm/v1/stations/BN-02/readings", [text.encode()])
    await wait_until(
        lambda: count(ingest_db, "SELECT count(*) FROM readings") == 4, what="4 readings"
    )
    got = {
        r[0]: r[1:]
        for r in rows(
            ingest_db,
            "SELECT parameter, value, status, source_format, ts FROM readings WHERE station_id = 'BN-02'",
        )
    }
    assert got["pm25"][:3] == (35.2, "00", "tt10_text")
    assert got["co"][0] == pytest.approx(1250.0)  # mg/m³ → µg/m³
    assert got["no2"][1] == "01" and got["temperature"][1] == "02"
    assert got["pm25"][3] == local  # local UTC+7 time read correctly


async def test_a_stations_own_aliases_from_the_registry_name_its_parameters(
    ingest_db: str, broker: MosquittoInstance, start_service: Any
) -> None:
    # BN-03's datalogger writes "BUI_MIN" (fine dust, a name the global alias table does not
    # know) and calls PM10 "DUST", which the global alias table reads as TSP; the station's
    # own aliases decide.
    with psycopg.connect(ingest_db, autocommit=True) as conn:
        conn.execute(
            "UPDATE stations SET aliases = %s::jsonb WHERE station_id = 'BN-03'",
            (json.dumps({"BUI_MIN": "pm25", "DUST": "pm10"}),),
        )
    await start_service(make_settings(ingest_db, broker))
    local = (recent_hour() + timedelta(minutes=5)).astimezone(
        __import__("zoneinfo").ZoneInfo("Asia/Ho_Chi_Minh")
    )
    stamp = local.strftime("%Y%m%d%H%M%S")
    line = "{}\t{}\tug/m3\t" + stamp + "\t00\r\n"
    for station in ("BN-03", "BN-02"):  # BN-02 has no aliases of its own
        text = line.format("BUI_MIN", "35,2") + line.format("DUST", "80")
        publish(broker, f"aqm/v1/stations/{station}/readings", [text.encode()])
    await wait_until(
        lambda: (
            count(ingest_db, "SELECT count(*) FROM readings") == 3
            and count(ingest_db, "SELECT count(*) FROM rejected_messages") == 1
        ),
        what="3 readings and BN-02's rejected BUI_MIN",
    )
    rejected = rows(
        ingest_db, "SELECT station_id, reason_code, reading_index FROM rejected_messages"
    )
    assert rejected == [("BN-02", "unknown_parameter", 0)]
    stored = rows(ingest_db, "SELECT station_id, parameter, value FROM readings ORDER BY 1, 2")
    assert stored == [("BN-02", "tsp", 80.0), ("BN-03", "pm10", 80.0), ("BN-03", "pm25", 35.2)]


async def test_senml_pack_resolves_base_name_and_time(
    ingest_db: str, broker: MosquittoInstance, start_service: Any
) -> None:
    await start_service(make_settings(ingest_db, broker))
    bt = recent_hour().timestamp()
    pack = [
        {"bn": "urn:aqm:station:BN-03:", "bt": bt, "n": "pm25", "u": "ug/m3", "v": 12.5},
        {"n": "pm10", "u": "ug/m3", "v": 30.0, "t": 60},
        {"n": "humidity", "u": "%RH", "v": 81.0},
    ]
    publish(broker, "aqm/v1/stations/BN-03/readings", [json.dumps(pack).encode()])
    await wait_until(
        lambda: count(ingest_db, "SELECT count(*) FROM readings") == 3, what="3 readings"
    )
    got = {
        r[0]: r[1:]
        for r in rows(ingest_db, "SELECT parameter, value, ts, source_format FROM readings")
    }
    assert got["pm10"] == (30.0, recent_hour() + timedelta(seconds=60), "senml")
    assert got["humidity"][0] == 81.0


async def test_redelivered_and_resent_messages_are_stored_once(
    ingest_db: str, broker: MosquittoInstance, start_service: Any
) -> None:
    svc = await start_service(make_settings(ingest_db, broker))
    ts = recent_hour().isoformat()
    payload = json.dumps(
        {"station": "BN-01", "ts": ts, "values": {"pm25": 10.0, "pm10": 20.0}}
    ).encode()
    publish(broker, "aqm/v1/stations/BN-01/readings", [payload, payload, payload])
    await wait_until(lambda: svc.metrics.readings_received._value.get() == 6, what="6 items")
    assert count(ingest_db, "SELECT count(*) FROM readings") == 2
    assert svc.metrics.readings_duplicate._value.get() == 4
    assert reconciled(svc)


async def test_a_different_value_for_a_stored_reading_is_kept_as_a_reject(
    ingest_db: str, broker: MosquittoInstance, start_service: Any
) -> None:
    svc = await start_service(make_settings(ingest_db, broker))
    ts = recent_hour().isoformat()
    first = json.dumps({"station": "BN-01", "ts": ts, "values": {"pm25": 20.0}}).encode()
    publish(broker, "aqm/v1/stations/BN-01/readings", [first])
    await wait_until(lambda: count(ingest_db, "SELECT count(*) FROM readings") == 1, what="1")
    # A corrected re-upload (25 instead of 20), an identical resend, and one message that
    # names PM10 twice with two values (the first stored wins).
    corrected = json.dumps({"station": "BN-01", "ts": ts, "values": {"pm25": 25.0}}).encode()
    twice = json.dumps(
        [
            {"station": "BN-01", "ts": ts, "values": {"pm10": 40.0}},
            {"station": "BN-01", "ts": ts, "values": {"PM10": 41.0}},
        ]
    ).encode()
    publish(broker, "aqm/v1/stations/BN-01/readings", [corrected, first])
    publish(broker, "aqm/v1/stations/BN-01/readings", [twice])
    await wait_until(lambda: svc.metrics.readings_received._value.get() == 5, what="5 items")
    stored = rows(ingest_db, "SELECT parameter, value FROM readings ORDER BY parameter")
    assert stored == [("pm10", 40.0), ("pm25", 20.0)]
    rejected = rows(
        ingest_db,
        "SELECT reason_code, payload, reading_index, reason FROM rejected_messages_with_payload"
        " ORDER BY reading_index",
    )
    assert [(r[0], bytes(r[1]), r[2]) for r in rejected] == [
        ("conflicting_value", corrected, 0),
        ("conflicting_value", twice, 1),
    ]
    assert "25 (status 00) differs from the value or status already stored" in rejected[0][3]
    assert svc.metrics.readings_duplicate._value.get() == 1  # the identical resend only
    assert reconciled(svc)


async def test_station_mismatch_unknown_and_bad_readings_are_rejected_alone(
    ingest_db: str, broker: MosquittoInstance, start_service: Any
) -> None:
    svc = await start_service(make_settings(ingest_db, broker))
    ts = recent_hour().isoformat()
    forged = json.dumps({"station": "BN-02", "ts": ts, "values": {"pm25": 99.0}}).encode()
    partial = json.dumps(
        [
            {"station": "BN-01", "ts": ts, "values": {"pm25": 15.0, "pm10": -400.0}},
            {"station": "BN-01", "ts": ts, "values": {"no2": 20.0}, "units": {"no2": "furlongs"}},
        ]
    ).encode()
    unknown = json.dumps({"station": "XX-99", "ts": ts, "values": {"pm25": 1.0}}).encode()
    retired = json.dumps({"station": "BN-09", "ts": ts, "values": {"pm25": 1.0}}).encode()
    garbage = b"\xff\xfe not utf-8"
    publish(broker, "aqm/v1/stations/BN-01/readings", [forged, partial, garbage])
    publish(broker, "aqm/v1/stations/XX-99/readings", [unknown])
    publish(broker, "aqm/v1/stations/BN-09/readings", [retired])
    await wait_until(lambda: svc.metrics.messages_received._value.get() == 5, what="5 messages")
    await wait_until(
        lambda: count(ingest_db, "SELECT count(*) FROM rejected_messages") == 6, what="6 rejects"
    )
    assert rows(ingest_db, "SELECT station_id, parameter, value FROM readings") == [
        ("BN-01", "pm25", 15.0)
    ]
    reasons = rows(
        ingest_db,
        "SELECT reason_code, topic, payload, reading_index FROM rejected_messages_with_payload"
        " ORDER BY reason_code, reading_index",
    )
    codes = [r[0] for r in reasons]
    assert codes == [
        "inactive_station",
        "invalid_utf8",
        "out_of_range",
        "station_mismatch",
        "unknown_station",
        "unknown_unit",
    ]
    by_code = {r[0]: r for r in reasons}
    assert bytes(by_code["station_mismatch"][2]) == forged
    assert bytes(by_code["invalid_utf8"][2]) == garbage and by_code["invalid_utf8"][3] == -1
    assert by_code["out_of_range"][3] == 1  # the second value of the message
    await wait_until(lambda: reconciled(svc), what="counters to reconcile")


async def test_mqtt_311_is_selectable(
    ingest_db: str, broker: MosquittoInstance, start_service: Any
) -> None:
    await start_service(make_settings(ingest_db, broker, mqtt_protocol="3.1.1"))
    payload = json.dumps(
        {"station": "BN-01", "ts": recent_hour().isoformat(), "values": {"pm10": 55.0}}
    )
    mosquitto_pub(broker, "aqm/v1/stations/BN-01/readings", payload, "mqttv311")
    await wait_until(
        lambda: count(ingest_db, "SELECT count(*) FROM readings") == 1, what="1 reading"
    )


async def test_healthz_and_metrics_over_http(
    ingest_db: str, broker: MosquittoInstance, start_service: Any
) -> None:
    import urllib.error
    import urllib.request

    from aqm.localservices import free_port
    from ingest.metrics import serve_http

    svc = await start_service(make_settings(ingest_db, broker))
    port = free_port()
    server = serve_http(svc.metrics, port, svc.metrics.healthy)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as resp:
            assert resp.status == 200
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
            assert b"aqm_ingest_readings_stored_total" in resp.read()
        svc.metrics.db_connected.set(0)
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5)
        assert err.value.code == 503
    finally:
        server.shutdown()


async def test_a_failing_registry_refresh_neither_stops_ingest_nor_grows_metrics(
    ingest_db: str, broker: MosquittoInstance, start_service: Any
) -> None:
    svc = await start_service(make_settings(ingest_db, broker))

    async def registry_unreachable(force: bool = False) -> None:
        raise psycopg.OperationalError("registry unreachable")

    # An unknown station makes ingest re-read the registry; that read now fails.
    svc.service.refresh_registry = registry_unreachable
    ts = recent_hour().isoformat()
    stranger = json.dumps({"station": "XX-77", "ts": ts, "values": {"pm25": 5.0}}).encode()
    known = json.dumps({"station": "BN-01", "ts": ts, "values": {"pm25": 6.0}}).encode()
    publish(broker, "aqm/v1/stations/XX-77/readings", [stranger])
    publish(broker, "aqm/v1/stations/BN-01/readings", [known])
    await wait_until(lambda: count(ingest_db, "SELECT count(*) FROM readings") == 1, what="BN-01")
    assert not svc.task.done()
    assert rows(ingest_db, "SELECT reason_code FROM rejected_messages") == [("unknown_station",)]
    seen = {s.labels["station"] for m in svc.metrics.station_last_seen.collect() for s in m.samples}
    assert seen == {"BN-01"}  # a stranger's topic adds no metric series
