"""The RabbitMQ login rule: the password must match, and an MQTT client id is the login.

The hashes are computed here as RabbitMQ documents them (base64 of a 4-byte salt followed
by SHA-256 of salt + password; "Credentials and Passwords", hash computation), not with
the code under test.
"""

from __future__ import annotations

import base64
import hashlib

import pytest

from stations.broker_login import decide_login


def rabbit_hash(password: str, salt: bytes = b"\x90\x8d\xc6\x0a") -> str:
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()


HASHES = {
    "BN-01": rabbit_hash("pw-01"),
    "BN-02": rabbit_hash("pw-02", salt=b"\x01\x02\x03\x04"),
    "aqm-ingest-1": rabbit_hash("ingest pw ü"),
}


def test_a_station_with_its_login_as_client_id_is_allowed() -> None:
    decision = decide_login("BN-01", "pw-01", "BN-01", HASHES)
    assert decision.allowed
    assert "client id" in decision.reason


def test_an_amqp_login_carries_no_client_id_and_needs_only_the_password() -> None:
    assert decide_login("aqm-ingest-1", "ingest pw ü", None, HASHES).allowed
    assert not decide_login("aqm-ingest-1", "ingest pw u", None, HASHES).allowed


@pytest.mark.parametrize(
    "client_id",
    [
        "BN-02",  # another station's id: the takeover the rule exists to prevent
        "BN-01-logger",  # a prefix is not the login (BN-01 could then take BN-01-x's id)
        "bn-01",  # client ids are compared exactly, as MQTT does
        "BN-01 ",
        "",  # an empty id passed through as such
        "q0J5n4cL5ZB1pUk1T8W2rQ",  # the kind RabbitMQ generates for an empty clean-session id
    ],
)
def test_any_other_mqtt_client_id_is_refused(client_id: str) -> None:
    decision = decide_login("BN-01", "pw-01", client_id, HASHES)
    assert not decision.allowed
    assert decision.reason == "MQTT client id is not the login"


@pytest.mark.parametrize(
    ("user", "password", "reason"),
    [
        ("BN-01", "pw-02", "wrong password"),  # another station's password
        ("BN-01", "", "wrong password"),
        ("BN-01", "pw-01 ", "wrong password"),
        ("BN-03", "pw-01", "unknown user"),  # not in the definitions (inactive station)
        ("", "", "unknown user"),
    ],
)
def test_a_wrong_password_or_unknown_user_is_refused_before_the_client_id(
    user: str, password: str, reason: str
) -> None:
    # the client id equals the login: only the password can be at fault
    decision = decide_login(user, password, user, HASHES)
    assert (decision.allowed, decision.reason) == (False, reason)


def test_a_password_that_matches_another_users_hash_does_not_log_in_as_that_user() -> None:
    assert decide_login("BN-02", "pw-02", "BN-02", HASHES).allowed
    assert not decide_login("BN-02", "pw-01", "BN-02", HASHES).allowed


def test_a_malformed_stored_hash_refuses_rather_than_fails() -> None:
    broken = {"BN-01": "not base64!", "BN-02": base64.b64encode(b"short").decode()}
    assert not decide_login("BN-01", "pw-01", "BN-01", broken).allowed
    assert not decide_login("BN-02", "pw-02", "BN-02", broken).allowed


def test_the_reason_never_holds_the_password() -> None:
    for password in ("pw-01", "secret-guess"):
        for client_id in ("BN-01", "BN-02", None):
            assert password not in decide_login("BN-01", password, client_id, HASHES).reason
