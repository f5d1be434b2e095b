"""The production broker as tests run it.

``provisioning/mosquitto/mosquitto.conf`` itself (``aqm.localservices.
production_mosquitto_config`` moves only its container paths and ports), with the
password file and ACL written by ``aqm stations credentials`` for the example catalogue
and two ingest users, a TLS listener with certificates made by the ``openssl`` CLI, on
free ports. Every setting that decides what a station can do to ingest's session and
what a crash loses (``use_username_as_clientid``, autosave, queue and size limits) is
the one operators deploy.
"""

from __future__ import annotations

import contextlib
import io
import json
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from aqm.cli import main
from aqm.localservices import (
    MosquittoInstance,
    free_port,
    port_open,
    production_mosquitto_config,
)

REPO = Path(__file__).resolve().parent.parent
CATALOGUE = REPO / "stations" / "catalogue.example.yaml"
# One broker user per ingest instance, as docker-compose.yml names them.
INGEST_USERS = ("aqm-ingest-1", "aqm-ingest-2")


@dataclass
class ProductionBroker:
    """A running production broker; ``passwords`` holds every user's plain password."""

    instance: MosquittoInstance
    tls_port: int
    certs: Path
    data_dir: Path
    passwords: dict[str, str]

    @property
    def port(self) -> int:
        return self.instance.port

    @property
    def log(self) -> Path:
        return self.instance.logfile

    def url(self, user: str) -> str:
        """``mqtt://user:password@127.0.0.1:port`` for a user of the password file."""
        return self.instance.url(user, self.passwords[user])

    def stations(self) -> list[str]:
        return sorted(u for u in self.passwords if u not in INGEST_USERS)

    def kill(self) -> None:
        """SIGKILL, as the kernel's OOM killer or a power cut would end it."""
        self.instance.stop(signal.SIGKILL)

    def start(self) -> None:
        self.instance.start()
        _wait_port(self.tls_port, self.log)

    def stop(self) -> None:
        self.instance.stop()


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_certificates(folder: Path) -> None:
    """``ca.crt``, ``server.crt`` and ``server.key`` for 127.0.0.1/localhost (EC keys)."""
    folder.mkdir(parents=True, exist_ok=True)
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    # keyUsage: Python's strict default verification refuses a CA without it.
    _openssl(
        "req",
        "-x509",
        *key,
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "2",
        "-subj",
        "/CN=aqm test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
        cwd=folder,
    )
    _openssl(
        "req",
        *key,
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=localhost",
        cwd=folder,
    )
    (folder / "san.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    _openssl(
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.crt",
        "-days",
        "2",
        "-extfile",
        "san.cnf",
        cwd=folder,
    )


def _wait_port(port: int, log: Path) -> None:
    deadline = time.monotonic() + 15
    while not port_open(port):
        assert time.monotonic() < deadline, log.read_text(errors="replace")[-2000:]
        time.sleep(0.05)


def start_production_broker(root: Path) -> ProductionBroker:
    """Write the credentials and certificates under ``root`` and start the broker."""
    config_dir, data_dir = root / "config", root / "data"
    secrets_dir, certs = config_dir / "secrets", config_dir / "certs"
    data_dir.mkdir(parents=True)
    secrets_file = root / "secrets.yaml"
    ingest_passwords = {u: f"{u} passphrase chosen by a person" for u in INGEST_USERS}
    secrets_file.write_text("".join(f'{u}: "{p}"\n' for u, p in ingest_passwords.items()))
    out, err = io.StringIO(), io.StringIO()
    args = [
        "stations",
        "credentials",
        str(CATALOGUE),
        "--out",
        str(secrets_dir),
        "--secrets",
        str(secrets_file),
    ]
    for user in INGEST_USERS:
        args += ["--ingest-user", user]
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        assert main(args) == 0, err.getvalue()
    passwords = dict(ingest_passwords)
    for line in out.getvalue().splitlines():
        if line and not line.startswith("#"):
            user, _, quoted = line.partition(": ")
            passwords[user] = json.loads(quoted)
    make_certificates(certs)
    port, tls_port = free_port(), free_port()
    text = production_mosquitto_config(port, tls_port, config_dir, data_dir)
    broker = ProductionBroker(
        MosquittoInstance(root / "mosquitto", port, config_text=text),
        tls_port,
        certs,
        data_dir,
        passwords,
    )
    broker.start()
    return broker


@pytest.fixture
def production_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProductionBroker]:
    """The production broker configuration on free ports, fresh for each test."""
    broker = start_production_broker(tmp_path_factory.mktemp("production-broker"))
    try:
        yield broker
    finally:
        broker.stop()
