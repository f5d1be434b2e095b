"""provisioning/mosquitto: the production config runs under a real Mosquitto with the
credentials command's output, and its TLS listener accepts stations that trust the CA and
no one else (tests/production_broker.py starts it)."""

from __future__ import annotations

import ssl
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from aqm_core.settings import BROKER_MESSAGE_SIZE_LIMIT, Settings
from ingest.topics import TopicLayout
from stations.catalogue import load_catalogue
from stations.publisher import Broker, Login, PublishError, publish
from stations.simulator import generate
from tests.production_broker import INGEST_USERS, ProductionBroker, make_certificates

pytestmark = pytest.mark.services

REPO = Path(__file__).resolve().parents[2]
PROVISIONING = REPO / "provisioning" / "mosquitto"
EXAMPLE = REPO / "stations" / "catalogue.example.yaml"
TOPICS = TopicLayout("aqm/v1/stations")


def settings(conf: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in conf.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.strip().partition(" ")
            found.setdefault(key, []).append(value)
    return found


def listener_blocks(conf: str) -> dict[str, dict[str, list[str]]]:
    """The settings that follow each ``listener`` line, up to the next blank line."""
    blocks: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for line in conf.splitlines():
        stripped = line.strip()
        if not stripped:
            current = None
        elif stripped.startswith("listener "):
            current = blocks.setdefault(stripped.split()[1], {})
        elif current is not None and not stripped.startswith("#"):
            key, _, value = stripped.partition(" ")
            current.setdefault(key, []).append(value)
    return blocks


def test_production_config_says_what_the_deployment_needs() -> None:
    text = (PROVISIONING / "mosquitto.conf").read_text()
    conf = settings(text)
    assert conf["listener"] == ["1883", "8883"]
    assert conf["allow_anonymous"] == ["false"]
    assert conf["password_file"] == ["/mosquitto/config/secrets/passwd"]
    assert conf["acl_file"] == ["/mosquitto/config/secrets/acl"]
    assert conf["persistence"] == ["true"] and conf["persistence_location"] == ["/mosquitto/data/"]
    assert int(conf["max_queued_messages"][0]) >= 100_000  # the default 1000 drops QoS 1
    assert int(conf["max_inflight_messages"][0]) > 20
    assert conf["persistent_client_expiration"] == ["14d"]
    assert conf["per_listener_settings"] == ["false"]
    # a crash loses at most this many queue changes (docs/reliability.md, "Broker crash")
    assert conf["autosave_on_changes"] == ["true"] and conf["autosave_interval"] == ["100"]
    assert "include_dir" not in conf  # everything the broker runs with is in this file
    assert "user" not in conf  # the image's own unprivileged user
    # ingest sees (and rejects) every message its own limit refuses
    assert int(conf["message_size_limit"][0]) == BROKER_MESSAGE_SIZE_LIMIT
    assert Settings.model_fields["max_payload_bytes"].default < BROKER_MESSAGE_SIZE_LIMIT
    blocks = listener_blocks(text)
    # Mosquitto 2 reads use_username_as_clientid per listener, whatever
    # per_listener_settings says: without it on a listener, a client there picks any id.
    for port, block in blocks.items():
        assert block.get("use_username_as_clientid") == ["true"], port
    assert {k: blocks["8883"][k] for k in ("cafile", "certfile", "keyfile")} == {
        "cafile": ["/mosquitto/config/certs/ca.crt"],
        "certfile": ["/mosquitto/config/certs/server.crt"],
        "keyfile": ["/mosquitto/config/certs/server.key"],
    }
    assert "cafile" not in blocks["1883"]


def connect(
    port: int, username: str | None, password: str | None, tls: ssl.SSLContext | None = None
) -> tuple[mqtt.Client, bool]:
    """A connected client, and whether the broker refused the login."""
    answered = threading.Event()
    outcome = {"refused": True}
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5, reconnect_on_failure=False
    )
    if username:
        client.username_pw_set(username, password)
    if tls is not None:
        client.tls_set_context(tls)

    def on_connect(_c: mqtt.Client, _u: object, _f: object, reason: object, _p: object) -> None:
        outcome["refused"] = bool(getattr(reason, "is_failure", True))
        answered.set()

    client.on_connect = on_connect
    client.on_disconnect = lambda *_: answered.set()
    client.connect("127.0.0.1", port)
    client.loop_start()
    assert answered.wait(10)
    return client, outcome["refused"]


def test_production_config_runs_with_the_credentials_command_output(
    production_broker: ProductionBroker,
) -> None:
    port, log, passwords = (
        production_broker.port,
        production_broker.log,
        production_broker.passwords,
    )
    assert "Error" not in log.read_text()
    client, refused = connect(port, None, None)
    client.loop_stop()
    assert refused, "anonymous clients must be refused"
    client, refused = connect(port, INGEST_USERS[0], "wrong")
    client.loop_stop()
    assert refused

    catalogue = load_catalogue(EXAMPLE)
    assert production_broker.stations() == sorted(s.station_id for s in catalogue.active())
    # every ingest instance has a login of its own (--ingest-user, repeated)
    second, refused = connect(port, INGEST_USERS[1], passwords[INGEST_USERS[1]])
    second.disconnect()
    second.loop_stop()
    assert not refused
    ingest, refused = connect(port, INGEST_USERS[0], passwords[INGEST_USERS[0]])
    assert not refused
    got: list[str] = []
    subscribed = threading.Event()
    ingest.on_subscribe = lambda *_: subscribed.set()
    ingest.on_message = lambda _c, _u, m: got.append(m.topic)
    ingest.subscribe(TOPICS.subscription(), qos=1)
    assert subscribed.wait(10)
    start = datetime(2025, 2, 1, tzinfo=UTC)
    pubs = list(generate(catalogue, start, start + timedelta(minutes=10), fmt="mixed"))
    report = publish(
        pubs,
        Broker("127.0.0.1", port),
        logins={sid: Login(sid, passwords[sid]) for sid in production_broker.stations()},
    )
    assert report.refused == 0 and report.unacknowledged == 0
    deadline = time.monotonic() + 10
    while len(got) < len(pubs) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sorted(got) == sorted(p.topic for p in pubs)
    ingest.disconnect()
    ingest.loop_stop()


# -- TLS --------------------------------------------------------------------------------


def test_tls_listener_serves_stations_that_trust_the_ca(
    production_broker: ProductionBroker, tmp_path: Path
) -> None:
    tls_port, ca = production_broker.tls_port, production_broker.certs / "ca.crt"
    passwords = production_broker.passwords
    make_certificates(tmp_path / "other")  # a CA that did not sign the broker's certificate
    other_ca = tmp_path / "other" / "ca.crt"
    trusted = ssl.create_default_context(cafile=str(ca))
    ingest_user = INGEST_USERS[0]
    ingest, refused = connect(tls_port, ingest_user, passwords[ingest_user], trusted)
    assert not refused
    subscribed = threading.Event()
    got: list[bytes] = []
    ingest.on_subscribe = lambda *_: subscribed.set()
    ingest.on_message = lambda _c, _u, m: got.append(bytes(m.payload))
    ingest.subscribe(TOPICS.subscription(), qos=1)
    assert subscribed.wait(10)

    start = datetime(2025, 2, 1, tzinfo=UTC)
    pubs = [
        p
        for p in generate(load_catalogue(EXAMPLE), start, start + timedelta(minutes=30))
        if p.topic == TOPICS.readings("BN-TUSON")
    ]
    station = Login("BN-TUSON", passwords["BN-TUSON"])
    report = publish(pubs, Broker("127.0.0.1", tls_port, tls=True, ca_file=ca), login=station)
    assert report.messages == len(pubs) > 0 and report.unacknowledged == 0
    deadline = time.monotonic() + 10
    while len(got) < len(pubs) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert got == [p.payload for p in pubs]

    # a client that does not trust the broker's CA never gets to log in
    with pytest.raises(PublishError, match=r"TLS handshake .* failed"):
        publish(pubs, Broker("127.0.0.1", tls_port, tls=True, ca_file=other_ca), login=station)
    with pytest.raises(ssl.SSLCertVerificationError):
        connect(
            tls_port,
            "BN-TUSON",
            passwords["BN-TUSON"],
            ssl.create_default_context(cafile=str(other_ca)),
        )
    # the TLS listener keeps the broker's logins: a trusted client with a wrong password
    client, refused = connect(tls_port, "BN-TUSON", "wrong password", trusted)
    client.loop_stop()
    assert refused
    ingest.disconnect()
    ingest.loop_stop()
