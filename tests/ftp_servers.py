"""Real FTP servers for the tests and benchmarks: ``aqm ftp`` as a process of its own,
and a second pyftpdlib server playing the Ministry's receiving end."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler, TLS_FTPHandler
from pyftpdlib.servers import FTPServer

from aqm.localservices import free_port, port_open
from stations.mosquitto_passwords import hash_password

REPO = Path(__file__).resolve().parent.parent
ICT = ZoneInfo("Asia/Ho_Chi_Minh")
PASSWORDS = {
    "BN-01": "pw-BN-01-long-enough",
    "BN-02": "pw-BN-02-long-enough",
    "BN-03": "pw-BN-03-long-enough",
}


def free_port_range(count: int) -> range:
    """``count`` consecutive TCP ports on 127.0.0.1 that are free right now."""
    for _ in range(200):
        base = random.randrange(20000, 60000 - count)
        socks = []
        try:
            for port in range(base, base + count):
                s = socket.socket()
                s.bind(("127.0.0.1", port))
                socks.append(s)
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
        return range(base, base + count)
    raise RuntimeError("no free port range")


def as_role(url: str, role: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{role}@{parts.hostname}:{parts.port}"))


def write_accounts(path: Path, passwords: dict[str, str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "".join(f"{u}:{hash_password(p, iterations=1000)}\n" for u, p in passwords.items())
    )
    return path


def tt10_text(ts: datetime, values: dict[str, tuple[str, str]], status: str = "00") -> bytes:
    """A Circular 10 file: ``{symbol: (value, unit)}`` at local time ``ts``."""
    stamp = ts.astimezone(ICT).strftime("%Y%m%d%H%M%S")
    return "".join(
        f"{name}\t{value}\t{unit}\t{stamp}\t{status}\r\n" for name, (value, unit) in values.items()
    ).encode()


def tt10_name(station: str, ts: datetime) -> str:
    return f"BN_KCN_{station}_{ts.astimezone(ICT).strftime('%Y%m%d%H%M%S')}.txt"


def wait_for(predicate: Callable[[], Any], timeout: float = 30.0, every: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(every)


class AqmFtp:
    """``aqm ftp`` (or ``aqm ftp --spool``) as a child process on free ports."""

    def __init__(
        self,
        root: Path,
        database_url: str,
        accounts: Path | None = None,
        spool: Path | None = None,
        **settings: str,
    ) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.passive = free_port_range(20)
        self.log = root / "aqm-ftp.log"
        self.spool = spool
        self.env = dict(
            os.environ,
            AQM_CONFIG="",
            AQM_DATABASE_URL=as_role(database_url, "aqm_ingest"),
            AQM_FTP_HOST="127.0.0.1",
            AQM_FTP_PORT=str(self.port),
            AQM_FTP_PASSIVE_PORTS=f"{self.passive.start}-{self.passive.stop - 1}",
            AQM_FTP_DIR=str(root / "data"),
            AQM_FTP_ACCOUNTS_FILE=str(accounts or root / "ftp-users"),
            AQM_FTP_METRICS_PORT="0",
            AQM_FTP_SPOOL_SETTLE_S="0.5",
            AQM_TIMEZONE="Asia/Ho_Chi_Minh",
        )
        self.env.update({f"AQM_{k.upper()}": v for k, v in settings.items()})
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def data(self) -> Path:
        return self.root / "data"

    def start(self) -> AqmFtp:
        argv = [sys.executable, "-m", "aqm", "ftp"]
        if self.spool is not None:
            argv += ["--spool", str(self.spool)]
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(argv, env=self.env, cwd=REPO, stdout=out, stderr=out)
        try:
            if self.spool is None:
                wait_for(lambda: port_open(self.port) or self._died(), 30)
            else:
                wait_for(
                    lambda: "connected to the database" in self.log.read_text() or self._died(),
                    30,
                )
            self._died()
        except BaseException:
            self.stop()  # never leave a server behind a failed start
            raise
        return self

    def _died(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(
                f"aqm ftp exited {self.process.returncode}:\n" + self.log.read_text()[-3000:]
            )
        return False

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> int:
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    def logs(self) -> str:
        return self.log.read_text()


class MinistryServer:
    """A second real FTP server (pyftpdlib) that receives forwarded files."""

    def __init__(
        self,
        home: Path,
        user: str = "sotnmt-bacninh",
        password: str = "ministry-secret-123",
        tls_cert: Path | None = None,
    ) -> None:
        self.home = home
        self.user, self.password = user, password
        self.port = free_port()
        self.received: list[str] = []
        self.tls_cert = tls_cert
        self._server: FTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        home.mkdir(parents=True, exist_ok=True)

    def start(self) -> MinistryServer:
        authorizer = DummyAuthorizer()
        authorizer.add_user(self.user, self.password, str(self.home), perm="elradfmwMT")
        received = self.received
        base: type[Any] = TLS_FTPHandler if self.tls_cert else FTPHandler

        class Handler(base):  # type: ignore[misc]
            def on_file_received(self, file: str) -> None:
                received.append(os.path.relpath(file, self.authorizer.get_home_dir(self.username)))

        Handler.authorizer = authorizer
        Handler.passive_ports = list(free_port_range(10))
        if self.tls_cert:
            Handler.certfile = str(self.tls_cert)
            Handler.ssl_context = None
        self._server = FTPServer(("127.0.0.1", self.port), Handler)
        self._stop.clear()
        server = self._server

        def serve() -> None:
            while not self._stop.is_set():
                server.serve_forever(timeout=0.1, blocking=False, handle_exit=False)
            server.close_all()

        self._thread = threading.Thread(target=serve, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        self._thread = None
