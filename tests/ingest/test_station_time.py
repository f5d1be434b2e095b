"""Station time end to end: real Mosquitto, real TimescaleDB, the real ingest service.

A SenML pack retained on the broker (or redelivered) reaches ingest again at another
time: it must be stored once. A Circular 10/2021 datalogger keeping UTC, with
``timezone: UTC`` in the catalogue, stores the right instants; the same logger left on
the default zone is 7 hours off, and the clock gauge says so.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from aqm.localservices import MosquittoInstance, free_port
from ingest.topics import TopicLayout
from stations.broker_access import ServiceUser, plan_broker_access
from stations.catalogue import load_catalogue
from stations.mosquitto_passwords import write_atomically, write_password_file
from stations.registry import sync_catalogue

from .conftest import count, make_settings, wait_until

pytestmark = pytest.mark.services


def publish(
    broker: MosquittoInstance,
    topic: str,
    payload: bytes,
    retain: bool = False,
    credentials: tuple[str, str] | None = None,
) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    if credentials is not None:
        client.username_pw_set(*credentials)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(10)
    client.disconnect()
    client.loop_stop()


def rows(url: str, sql: str, *params: object) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


def handled(svc: Any) -> float:
    """Items the service has committed: stored, duplicate or rejected (first time or again)."""
    m = svc.metrics
    rejected = sum(
        s.value
        for metric in m.readings_rejected.collect()
        for s in metric.samples
        if s.name.endswith("_total")
    )
    return float(
        m.readings_stored._value.get()
        + m.readings_duplicate._value.get()
        + m.rejected_duplicate._value.get()
        + rejected
    )


async def test_retained_senml_pack_is_stored_once_across_ingest_restarts(
    ingest_db: str, broker: MosquittoInstance, start_service: Any
) -> None:
    prefix = f"aqm/retained-{time.time_ns()}/stations"
    bt = (datetime.now(UTC) - timedelta(hours=1)).replace(microsecond=0)
    # Absolute base time, relative record times: one instant per record, whenever read.
    absolute = [
        {
            "bn": "urn:aqm:station:BN-01:",
            "bt": bt.timestamp(),
            "n": "pm25",
            "u": "ug/m3",
            "v": 20.5,
        },
        {"n": "pm10", "u": "ug/m3", "v": 41.0, "t": 60},
        {"n": "pm25", "u": "ug/m3", "v": 21.5, "t": 300},
    ]
    # No base time at all: every time is relative to when ingest happens to read it.
    relative = [
        {"bn": "urn:aqm:station:BN-02:", "n": "pm25", "u": "ug/m3", "v": 30.0, "t": -600},
        {"n": "pm25", "u": "ug/m3", "v": 31.0, "t": -300},
        {"n": "pm10", "u": "ug/m3", "v": 60.0},
    ]
    topics = {station: f"{prefix}/{station}/readings" for station in ("BN-01", "BN-02")}
    publish(broker, topics["BN-01"], json.dumps(absolute).encode(), retain=True)
    publish(broker, topics["BN-02"], json.dumps(relative).encode(), retain=True)
    try:
        settings = make_settings(ingest_db, broker, topic_prefix=prefix)
        fresh = make_settings(ingest_db, broker, topic_prefix=prefix)  # another client id
        for run, run_settings in enumerate([settings, settings, fresh]):
            svc = await start_service(run_settings)
            await wait_until(lambda: handled(svc) >= 6, what=f"run {run}: 6 items handled")  # noqa: B023
            await svc.shutdown()
            stored = rows(
                ingest_db,
                "SELECT station_id, parameter, ts, value FROM readings ORDER BY ts, parameter",
            )
            assert stored == [
                ("BN-01", "pm25", bt, 20.5),
                ("BN-01", "pm10", bt + timedelta(seconds=60), 41.0),
                ("BN-01", "pm25", bt + timedelta(seconds=300), 21.5),
            ], f"after run {run}"
            rejected = rows(
                ingest_db,
                "SELECT station_id, reason_code, reading_index FROM rejected_messages"
                " ORDER BY reading_index",
            )
            assert rejected == [("BN-02", "relative_time", i) for i in range(3)], f"after run {run}"
    finally:
        for topic in topics.values():  # clear the retained messages
            publish(broker, topic, b"", retain=True)


def write_catalogue(path: Path) -> Path:
    station = """\
  - station_id: {sid}
    name: Trạm {sid}
    latitude: 21.18
    longitude: 106.07
    station_type: fixed_automatic
    parameters: [pm25, pm10]
"""
    path.write_text(
        "stations:\n"
        + station.format(sid="BN-01")  # no timezone: AQM_TIMEZONE, Asia/Ho_Chi_Minh
        + station.format(sid="BN-02")
        + "    timezone: UTC\n",
        encoding="utf-8",
    )
    return path


async def test_utc_clock_station_with_timezone_utc_stores_the_right_instants_and_a_wrong_one_is_flagged(
    clean_db: str,
    broker: MosquittoInstance,
    start_service: Any,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with psycopg.connect(clean_db, autocommit=True) as conn:
        sync_catalogue(conn, load_catalogue(write_catalogue(tmp_path / "catalogue.yaml")))
    svc = await start_service(make_settings(clean_db, broker, timezone="Asia/Ho_Chi_Minh"))
    svc.service.clock.min_windows = 1  # one message is enough to judge here
    caplog.set_level(logging.INFO, logger="aqm.ingest.clock")

    # Both dataloggers keep UTC: their text says the true instant in UTC, without a zone.
    measured = (datetime.now(UTC) - timedelta(minutes=2)).replace(microsecond=0)
    text = (
        f"PM-2-5\t35.2\tug/m3\t{measured:%Y%m%d%H%M%S}\t00\r\n"
        f"PM10\t70.4\tug/m3\t{measured:%Y%m%d%H%M%S}\t00\r\n"
    ).encode()
    publish(broker, "aqm/v1/stations/BN-02/readings", text)
    publish(broker, "aqm/v1/stations/BN-01/readings", text)
    await wait_until(
        lambda: count(clean_db, "SELECT count(*) FROM readings") == 4, what="4 readings"
    )
    stored = {
        (sid, parameter): ts
        for sid, parameter, ts in rows(clean_db, "SELECT station_id, parameter, ts FROM readings")
    }
    assert stored[("BN-02", "pm25")] == stored[("BN-02", "pm10")] == measured
    # BN-01 is left on the default zone: read as UTC+7, 7 hours early — what the gauge shows
    assert stored[("BN-01", "pm25")] == measured - timedelta(hours=7)

    gauge = svc.metrics.station_clock_offset_seconds
    assert abs(gauge.labels(station="BN-02")._value.get() - 120) < 60
    assert abs(gauge.labels(station="BN-01")._value.get() - (7 * 3600 + 120)) < 60
    await asyncio.sleep(0)  # the warning is logged when the message is judged
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "station BN-01" in warnings[0] and "7.0 h" in warnings[0]
    assert "Asia/Ho_Chi_Minh" in warnings[0]


EXAMPLE = Path(__file__).resolve().parents[2] / "stations" / "catalogue.example.yaml"
INGEST = ServiceUser("aqm-ingest-1", "ingest password chosen by a person")
# The broker takes the login as client id: a fresh session is another ingest instance's user.
FRESH_INGEST = ServiceUser("aqm-ingest-2", "another ingest password chosen by a person")


async def test_on_the_production_broker_configuration_station_time_holds_across_restarts(
    clean_db: str, start_service: Any, tmp_path: Path
) -> None:
    """Passwords and ACL from the catalogue, each station with its own credentials,
    ingest as its own broker user: retained SenML stored once over three ingest runs,
    a UTC-clock Circular 10 station with ``timezone: UTC`` stored at the right instants."""
    text = EXAMPLE.read_text(encoding="utf-8")
    anchor = "    installed_on: 2020-11-01\n"
    assert text.count(anchor) == 1
    path = tmp_path / "catalogue.yaml"
    path.write_text(text.replace(anchor, anchor + "    timezone: UTC\n"), encoding="utf-8")
    catalogue = load_catalogue(path)
    assert catalogue.get("BN-BACGIANG").timezone == "UTC"  # type: ignore[union-attr]
    with psycopg.connect(clean_db, autocommit=True) as conn:
        sync_catalogue(conn, catalogue)
    topics = TopicLayout()
    access = plan_broker_access(catalogue, topics, {}, [INGEST, FRESH_INGEST])
    write_password_file(tmp_path / "passwords", access.password_entries, "test")
    write_atomically(tmp_path / "acl", access.acl)
    broker = MosquittoInstance(
        tmp_path / "mosquitto", free_port(), tmp_path / "passwords", tmp_path / "acl"
    )
    broker.start()
    try:
        creds = access.new_credentials
        bt = (datetime.now(UTC) - timedelta(hours=1)).replace(microsecond=0)
        absolute = [
            {"bn": "urn:aqm:station:BN-TUSON:", "bt": bt.timestamp(), "n": "pm25", "v": 20.5},
            {"n": "pm10", "v": 41.0, "t": 60},
            {"n": "pm25", "v": 21.5, "t": 300},
        ]
        relative = [
            {"bn": "urn:aqm:station:BN-KINHBAC:", "n": "pm25", "v": 30.0, "t": -600},
            {"n": "pm10", "v": 60.0},
        ]
        measured = (datetime.now(UTC) - timedelta(minutes=2)).replace(microsecond=0)
        tt10 = f"PM-2-5\t35.2\tug/m3\t{measured:%Y%m%d%H%M%S}\t00\r\n".encode()
        for station, pack in [("BN-TUSON", absolute), ("BN-KINHBAC", relative)]:
            payload = json.dumps(pack).encode()
            publish(broker, topics.readings(station), payload, True, (station, creds[station]))

        url = broker.url(INGEST.username, INGEST.password)
        settings = make_settings(clean_db, broker, mqtt_url=url, mqtt_client_id="")
        fresh_url = broker.url(FRESH_INGEST.username, FRESH_INGEST.password)
        fresh = make_settings(clean_db, broker, mqtt_url=fresh_url, mqtt_client_id="")
        assert (settings.mqtt_client_id, fresh.mqtt_client_id) == ("aqm-ingest-1", "aqm-ingest-2")
        for run, (run_settings, items) in enumerate([(settings, 6), (settings, 5), (fresh, 5)]):
            svc = await start_service(run_settings)
            if run == 0:  # a live message, once ingest's session exists
                station = "BN-BACGIANG"
                publish(broker, topics.readings(station), tt10, False, (station, creds[station]))
            await wait_until(lambda: handled(svc) >= items, what=f"run {run}")  # noqa: B023
            await svc.shutdown()
            stored = rows(
                clean_db,
                "SELECT station_id, parameter, ts, value FROM readings"
                " ORDER BY station_id, ts, parameter",
            )
            assert stored == [
                ("BN-BACGIANG", "pm25", measured, 35.2),
                ("BN-TUSON", "pm25", bt, 20.5),
                ("BN-TUSON", "pm10", bt + timedelta(seconds=60), 41.0),
                ("BN-TUSON", "pm25", bt + timedelta(seconds=300), 21.5),
            ], f"after run {run}"
            rejected = rows(
                clean_db,
                "SELECT station_id, reason_code, reading_index FROM rejected_messages"
                " ORDER BY reading_index",
            )
            assert rejected == [("BN-KINHBAC", "relative_time", i) for i in range(2)], run
    finally:
        broker.stop()
