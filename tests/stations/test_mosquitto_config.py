"""provisioning/mosquitto: the production config runs under a real Mosquitto, and the TLS
listener accepts stations that trust the CA and no one else."""

from __future__ import annotations

import getpass
import json
import re
import signal
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from aqm.cli import main
from aqm.localservices import MosquittoInstance, free_port, mosquitto_binary, port_open
from ingest.topics import TopicLayout
from stations.broker_access import ServiceUser, plan_broker_access
from stations.catalogue import load_catalogue
from stations.mosquitto_passwords import write_atomically, write_password_file
from stations.publisher import Broker, Login, PublishError, publish
from stations.simulator import generate

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


def test_production_config_says_what_the_deployment_needs() -> None:
    conf = settings((PROVISIONING / "mosquitto.conf").read_text())
    assert conf["listener"] == ["1883"]
    assert conf["allow_anonymous"] == ["false"]
    assert conf["password_file"] == ["/mosquitto/config/secrets/passwd"]
    assert conf["acl_file"] == ["/mosquitto/config/secrets/acl"]
    assert conf["persistence"] == ["true"] and conf["persistence_location"] == ["/mosquitto/data/"]
    assert int(conf["max_queued_messages"][0]) >= 100_000  # the default 1000 drops QoS 1
    assert int(conf["max_inflight_messages"][0]) > 20
    assert conf["persistent_client_expiration"] == ["14d"]
    assert conf["per_listener_settings"] == ["false"]
    assert "include_dir" not in conf  # a missing folder would stop the broker: opt-in
    commented = (PROVISIONING / "mosquitto.conf").read_text()
    assert "#include_dir /mosquitto/config/conf.d" in commented
    assert "user" not in conf  # the image's own unprivileged user
    tls = settings((PROVISIONING / "tls.conf").read_text())
    assert tls["listener"] == ["8883"]
    assert {k: tls[k] for k in ("cafile", "certfile", "keyfile")} == {
        "cafile": ["/mosquitto/config/certs/ca.crt"],
        "certfile": ["/mosquitto/config/certs/server.crt"],
        "keyfile": ["/mosquitto/config/certs/server.key"],
    }


@pytest.fixture
def production_broker(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> Iterator[tuple[int, Path, dict[str, str]]]:
    """provisioning/mosquitto/mosquitto.conf with its paths moved under tmp_path, and the
    folder the credentials command writes mounted where the container would have it."""
    config_dir, data_dir = tmp_path / "config", tmp_path / "data"
    secrets_dir = config_dir / "secrets"  # docker-compose mounts secrets/mosquitto here
    data_dir.mkdir()
    secrets = tmp_path / "secrets.yaml"
    secrets.write_text('aqm-ingest: "ingest passphrase"\n')
    assert main(["stations", "credentials", str(EXAMPLE), "--out", str(secrets_dir),
                 "--secrets", str(secrets)]) == 0
    printed = capsys.readouterr().out
    passwords = {u: json.loads(p) for u, p in
                 (line.split(": ", 1) for line in printed.splitlines() if not line.startswith("#"))}
    port = free_port()
    text = (PROVISIONING / "mosquitto.conf").read_text()
    text = text.replace("/mosquitto/config/", f"{config_dir}/")
    text = text.replace("/mosquitto/data/", f"{data_dir}/")
    text = re.sub(r"(?m)^listener 1883$", f"listener {port} 127.0.0.1", text)
    text += f"\nuser {getpass.getuser()}\n"  # run as whoever runs the tests
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(text)
    log = tmp_path / "mosquitto.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([str(mosquitto_binary()), "-c", str(conf)], stdout=out,
                                stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while not port_open(port):
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        yield port, log, passwords
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)


def connect(port: int, username: str | None, password: str | None,
            tls: ssl.SSLContext | None = None) -> tuple[mqtt.Client, bool]:
    """A connected client, and whether the broker refused the login."""
    answered = threading.Event()
    outcome = {"refused": True}
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5,
                         reconnect_on_failure=False)
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
    production_broker: tuple[int, Path, dict[str, str]],
) -> None:
    port, log, passwords = production_broker
    assert "Error" not in log.read_text()
    client, refused = connect(port, None, None)
    client.loop_stop()
    assert refused, "anonymous clients must be refused"
    client, refused = connect(port, "aqm-ingest", "wrong")
    client.loop_stop()
    assert refused

    assert sorted(passwords) == sorted(s.station_id for s in load_catalogue(EXAMPLE).active())
    catalogue = load_catalogue(EXAMPLE)
    ingest, refused = connect(port, "aqm-ingest", "ingest passphrase")
    assert not refused
    got: list[str] = []
    subscribed = threading.Event()
    ingest.on_subscribe = lambda *_: subscribed.set()
    ingest.on_message = lambda _c, _u, m: got.append(m.topic)
    ingest.subscribe(TOPICS.subscription(), qos=1)
    assert subscribed.wait(10)
    start = datetime(2025, 2, 1, tzinfo=UTC)
    pubs = list(generate(catalogue, start, start + timedelta(minutes=10), fmt="mixed"))
    report = publish(pubs, Broker("127.0.0.1", port),
                     logins={sid: Login(sid, pw) for sid, pw in passwords.items()})
    assert report.refused == 0 and report.unacknowledged == 0
    deadline = time.monotonic() + 10
    while len(got) < len(pubs) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sorted(got) == sorted(p.topic for p in pubs)
    ingest.disconnect()
    ingest.loop_stop()


# -- TLS --------------------------------------------------------------------------------


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_ca(folder: Path, name: str) -> None:
    # A CA as a real one is made: Python 3.13's default TLS context verifies strictly
    # (VERIFY_X509_STRICT) and refuses a CA certificate without keyUsage.
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key",
            "-out", f"{name}.crt", "-days", "2", "-subj", f"/CN=aqm test {name}",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=folder)


@pytest.fixture
def tls_broker(tmp_path: Path) -> Iterator[tuple[int, int, Path, Path, dict[str, str]]]:
    certs = tmp_path / "certs"
    certs.mkdir()
    make_ca(certs, "ca")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out",
            "server.csr", "-subj", "/CN=localhost", cwd=certs)
    (certs / "san.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "san.cnf",
            cwd=certs)
    make_ca(certs, "other")  # a CA that did not sign the broker's certificate

    access = plan_broker_access(load_catalogue(EXAMPLE), TOPICS, {},
                                [ServiceUser("aqm-ingest", "ingest passphrase")])
    write_password_file(tmp_path / "passwd", access.password_entries)
    write_atomically(tmp_path / "acl", access.acl)
    tls_port = free_port()
    tls_conf = (PROVISIONING / "tls.conf").read_text()
    tls_conf = tls_conf.replace("/mosquitto/config/certs/", f"{certs}/")
    tls_conf = re.sub(r"(?m)^listener 8883$", f"listener {tls_port} 127.0.0.1", tls_conf)
    instance = MosquittoInstance(tmp_path / "mq", free_port(), tmp_path / "passwd",
                                 tmp_path / "acl", extra_config=tls_conf)
    instance.start()
    deadline = time.monotonic() + 10
    while not port_open(tls_port):
        assert time.monotonic() < deadline, instance.logfile.read_text()
        time.sleep(0.05)
    try:
        yield instance.port, tls_port, certs / "ca.crt", certs / "other.crt", \
            access.new_credentials
    finally:
        instance.stop()


def test_tls_listener_serves_stations_that_trust_the_ca(
    tls_broker: tuple[int, int, Path, Path, dict[str, str]],
) -> None:
    _plain_port, tls_port, ca, other_ca, passwords = tls_broker
    trusted = ssl.create_default_context(cafile=str(ca))
    ingest, refused = connect(tls_port, "aqm-ingest", "ingest passphrase", trusted)
    assert not refused
    subscribed = threading.Event()
    got: list[bytes] = []
    ingest.on_subscribe = lambda *_: subscribed.set()
    ingest.on_message = lambda _c, _u, m: got.append(bytes(m.payload))
    ingest.subscribe(TOPICS.subscription(), qos=1)
    assert subscribed.wait(10)

    start = datetime(2025, 2, 1, tzinfo=UTC)
    pubs = [p for p in generate(load_catalogue(EXAMPLE), start, start + timedelta(minutes=30))
            if p.topic == TOPICS.readings("BN-TUSON")]
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
        connect(tls_port, "BN-TUSON", passwords["BN-TUSON"],
                ssl.create_default_context(cafile=str(other_ca)))
    # the TLS listener keeps the broker's logins: a trusted client with a wrong password
    client, refused = connect(tls_port, "BN-TUSON", "wrong password", trusted)
    client.loop_stop()
    assert refused
    ingest.disconnect()
    ingest.loop_stop()
