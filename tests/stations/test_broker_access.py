"""Broker users and ACL from the catalogue, enforced by a real Mosquitto."""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from aqm.localservices import MosquittoInstance, free_port
from ingest.topics import TopicLayout
from stations.broker_access import (
    BrokerAccess,
    BrokerAccessError,
    ServiceUser,
    plan_broker_access,
)
from stations.catalogue import Catalogue, load_catalogue
from stations.mosquitto_passwords import (
    PasswordFileError,
    hash_password,
    read_password_file,
    verify_password,
    write_atomically,
    write_password_file,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "stations" / "catalogue.example.yaml"
TOPICS = TopicLayout("aqm/v1/stations")
INGEST_PASSWORD = "ingest secret chosen by a person"
INGEST = ServiceUser("aqm-ingest", INGEST_PASSWORD)


@pytest.fixture
def example() -> Catalogue:
    return load_catalogue(EXAMPLE)


def test_passwords_round_trip_with_mosquitto_passwd(tmp_path: Path) -> None:
    tool = shutil.which("mosquitto_passwd")
    assert tool, "mosquitto_passwd comes with mosquitto (scripts/install-services.sh)"
    path = tmp_path / "passwords"
    subprocess.run([tool, "-c", "-b", str(path), "BN-01", "s3cret"], check=True)
    entries = read_password_file(path)
    assert set(entries) == {"BN-01"}
    assert verify_password("s3cret", entries["BN-01"])
    assert not verify_password("s3cret ", entries["BN-01"])
    ours = hash_password("s3cret", salt=b"\x00" * 12, iterations=101)
    assert ours.startswith("$7$101$AAAAAAAAAAAAAAAA$") and verify_password("s3cret", ours)
    assert not verify_password("s3cret", "$6$salt$hash")


def test_password_file_faults_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "passwords"
    path.write_text("# comment\nBN-01:$7$1$a$b\nno-colon-here\n")
    with pytest.raises(PasswordFileError, match=rf"{path}:3: expected 'username:hash'"):
        read_password_file(path)
    path.write_text("BN-01:$7$1$a$b\nBN-01:$7$1$c$d\n")
    with pytest.raises(PasswordFileError, match=rf"{path}:2: user 'BN-01' appears twice"):
        read_password_file(path)
    assert read_password_file(tmp_path / "absent") == {}


def test_replacing_a_file_keeps_its_mode_and_a_new_file_is_private(tmp_path: Path) -> None:
    new = tmp_path / "new"
    write_password_file(new, {"a": "h"})
    assert new.stat().st_mode & 0o777 == 0o600
    existing = tmp_path / "existing"
    existing.write_text("old\n")
    existing.chmod(0o640)
    write_atomically(existing, "new\n")
    assert existing.read_text() == "new\n" and existing.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["existing", "new"]  # no temp left


def test_plan_keeps_passwords_and_removes_who_is_gone(example: Catalogue) -> None:
    first = plan_broker_access(example, TOPICS, {}, [INGEST])
    active = [s.station_id for s in example.active()]
    assert list(first.new_credentials) == active
    assert list(first.password_entries) == ["aqm-ingest", *active]
    for sid, password in first.new_credentials.items():
        assert len(password) >= 24 and verify_password(password, first.password_entries[sid])
    assert verify_password(INGEST_PASSWORD, first.password_entries["aqm-ingest"])
    assert len(set(first.new_credentials.values())) == len(active)

    existing = dict(first.password_entries) | {"BN-YENPHONG-LCS0": "$7$1$x$y", "debug": "$7$1$x$y"}
    second = plan_broker_access(example, TOPICS, existing, [INGEST])
    assert second.new_credentials == {}
    assert second.password_entries == first.password_entries  # byte-for-byte the same file
    assert second.removed_users == ("BN-YENPHONG-LCS0", "debug")

    rotated = plan_broker_access(example, TOPICS, first.password_entries,
                                 [ServiceUser("aqm-ingest", "a new one")], rotate=["BN-TUSON"])
    assert list(rotated.new_credentials) == ["BN-TUSON"]
    assert rotated.password_entries["BN-TUSON"] != first.password_entries["BN-TUSON"]
    assert verify_password("a new one", rotated.password_entries["aqm-ingest"])
    unchanged = [u for u in active if u != "BN-TUSON"]
    assert all(rotated.password_entries[u] == first.password_entries[u] for u in unchanged)


def test_plan_refusals(example: Catalogue) -> None:
    with pytest.raises(BrokerAccessError, match="cannot rotate BN-YENPHONG-LCS0, NOPE"):
        plan_broker_access(example, TOPICS, {}, rotate=["NOPE", "BN-YENPHONG-LCS0"])
    with pytest.raises(BrokerAccessError, match="'BN-TUSON' has the id of a station"):
        plan_broker_access(example, TOPICS, {}, [ServiceUser("BN-TUSON", "x")])


def test_acl_grants_each_station_only_its_own_topic(example: Catalogue) -> None:
    acl = plan_broker_access(example, TOPICS, {}, [INGEST]).acl
    rules = [line for line in acl.splitlines() if line and not line.startswith("#")]
    expected = ["user aqm-ingest", "topic read aqm/v1/stations/+/readings"]
    for sid in ("BN-KINHBAC", "BN-BACGIANG", "BN-TUSON", "BN-QUEVO-LCS1", "BN-MOBILE-01"):
        expected += [f"user {sid}", f"topic write aqm/v1/stations/{sid}/readings"]
    assert rules == expected


# -- the same files in a real broker ---------------------------------------------------


@dataclass
class Session:
    client: mqtt.Client
    refused: bool
    messages: queue.Queue[tuple[str, bytes]]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def connect(port: int, username: str, password: str, subscribe: str | None = None) -> Session:
    ready = threading.Event()
    outcome: dict[str, bool] = {}
    messages: queue.Queue[tuple[str, bytes]] = queue.Queue()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5,
                         reconnect_on_failure=False)
    client.username_pw_set(username, password)

    def on_connect(c: mqtt.Client, _u: object, _f: object, reason: object, _p: object) -> None:
        outcome["refused"] = bool(getattr(reason, "is_failure", False))
        if subscribe and not outcome["refused"]:
            c.subscribe(subscribe, qos=1)
        else:
            ready.set()

    def on_subscribe(_c: mqtt.Client, _u: object, _m: int, _r: object, _p: object) -> None:
        ready.set()

    def on_disconnect(_c: mqtt.Client, _u: object, _f: object, _r: object, _p: object) -> None:
        outcome.setdefault("refused", True)
        ready.set()

    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_disconnect = on_disconnect
    client.on_message = lambda _c, _u, msg: messages.put((msg.topic, bytes(msg.payload)))
    client.connect("127.0.0.1", port)
    client.loop_start()
    assert ready.wait(10), f"no answer from the broker for {username}"
    return Session(client, outcome["refused"], messages)


def publish(session: Session, topic: str, payload: bytes) -> None:
    session.client.publish(topic, payload, qos=1).wait_for_publish(10)


def received(session: Session, wait_for: bytes, timeout: float = 10) -> list[tuple[str, bytes]]:
    """Everything delivered until ``wait_for`` arrives."""
    got: list[tuple[str, bytes]] = []
    deadline = time.monotonic() + timeout
    while not got or got[-1][1] != wait_for:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"{wait_for!r} never arrived; got {got}"
        got.append(session.messages.get(timeout=remaining))
    return got


@pytest.fixture
def secured_broker(tmp_path: Path, example: Catalogue) -> Iterator[tuple[MosquittoInstance, BrokerAccess]]:
    access = plan_broker_access(example, TOPICS, {}, [INGEST])
    passwords, acl = tmp_path / "passwords", tmp_path / "acl"
    write_password_file(passwords, access.password_entries, "test")
    write_atomically(acl, access.acl)
    instance = MosquittoInstance(tmp_path / "mosquitto", free_port(), passwords, acl)
    instance.start()
    try:
        yield instance, access
    finally:
        instance.stop()


@pytest.mark.services
@pytest.mark.parametrize("shared", [False, True])
def test_broker_enforces_station_identity(
    secured_broker: tuple[MosquittoInstance, BrokerAccess], shared: bool
) -> None:
    broker, access = secured_broker
    creds = access.new_credentials
    ingest = connect(broker.port, INGEST.username, INGEST_PASSWORD,
                     TOPICS.subscription("aqm" if shared else None))
    tuson = connect(broker.port, "BN-TUSON", creds["BN-TUSON"])
    snoop = connect(broker.port, "BN-KINHBAC", creds["BN-KINHBAC"], TOPICS.subscription())
    try:
        assert not ingest.refused and not tuson.refused and not snoop.refused
        publish(tuson, TOPICS.readings("BN-KINHBAC"), b"forged")   # someone else's topic
        publish(tuson, "aqm/v1/other", b"elsewhere")                 # outside the layout
        publish(tuson, TOPICS.readings("BN-TUSON"), b"genuine")
        assert received(ingest, b"genuine") == [(TOPICS.readings("BN-TUSON"), b"genuine")]
        time.sleep(0.3)
        assert snoop.messages.empty()  # a station may not read other stations' readings
    finally:
        for session in (ingest, tuson, snoop):
            session.close()


@pytest.mark.services
def test_broker_refuses_wrong_retired_and_unknown_users(
    secured_broker: tuple[MosquittoInstance, BrokerAccess],
) -> None:
    broker, access = secured_broker
    attempts = [
        ("BN-TUSON", access.new_credentials["BN-KINHBAC"]),  # another station's password
        ("BN-YENPHONG-LCS0", "anything"),                    # retired
        ("BN-NEW", "anything"),                              # not in the catalogue
    ]
    for username, password in attempts:
        session = connect(broker.port, username, password)
        session.close()
        assert session.refused, username


@pytest.mark.services
def test_rotation_takes_effect_on_sighup(
    secured_broker: tuple[MosquittoInstance, BrokerAccess], example: Catalogue
) -> None:
    broker, before = secured_broker
    assert broker.password_file is not None
    after = plan_broker_access(example, TOPICS, read_password_file(broker.password_file),
                               [INGEST], rotate=["BN-TUSON"])
    write_password_file(broker.password_file, after.password_entries, "test")
    pid = broker.pid()
    assert pid is not None
    os.kill(pid, signal.SIGHUP)

    deadline = time.monotonic() + 10
    while True:
        new = connect(broker.port, "BN-TUSON", after.new_credentials["BN-TUSON"])
        new.close()
        if not new.refused or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert not new.refused
    old = connect(broker.port, "BN-TUSON", before.new_credentials["BN-TUSON"])
    old.close()
    assert old.refused
    other = connect(broker.port, "BN-KINHBAC", before.new_credentials["BN-KINHBAC"])
    other.close()
    assert not other.refused


def test_plan_takes_secrets_and_generates_a_missing_service_password(example: Catalogue) -> None:
    secrets = {"BN-TUSON": "tuson passphrase", "aqm-ingest": "ingest passphrase"}
    first = plan_broker_access(example, TOPICS, {}, [ServiceUser("aqm-ingest")], secrets=secrets)
    assert "BN-TUSON" not in first.new_credentials and "aqm-ingest" not in first.new_credentials
    assert verify_password("tuson passphrase", first.password_entries["BN-TUSON"])
    assert verify_password("ingest passphrase", first.password_entries["aqm-ingest"])

    # without a secret, a service user keeps its stored hash, or gets a generated password
    kept = plan_broker_access(example, TOPICS, first.password_entries, [ServiceUser("aqm-ingest")])
    assert kept.password_entries["aqm-ingest"] == first.password_entries["aqm-ingest"]
    fresh = plan_broker_access(example, TOPICS, {}, [ServiceUser("aqm-ingest")])
    assert verify_password(fresh.new_credentials["aqm-ingest"], fresh.password_entries["aqm-ingest"])

    with pytest.raises(BrokerAccessError, match="the secrets name BN-NOPE"):
        plan_broker_access(example, TOPICS, {}, secrets={"BN-NOPE": "x" * 12})
    with pytest.raises(BrokerAccessError, match="cannot rotate BN-TUSON: the password is given"):
        plan_broker_access(example, TOPICS, {}, [ServiceUser("aqm-ingest")], secrets=secrets,
                           rotate=["BN-TUSON"])
