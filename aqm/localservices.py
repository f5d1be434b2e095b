"""Private PostgreSQL+TimescaleDB and Mosquitto instances for development and tests.

Both run under a data folder of the project's own (``.aqm/`` for ``make run``, a
temporary folder for the test suite) on ports that are never the system defaults, so
they never collide with a server the machine already runs. ``scripts/install-services.sh``
installs the binaries; this module only starts and stops instances of them.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from aqm_core.errors import AqmError
from aqm_core.settings import load_settings

# The production broker configuration (docker-compose mounts it) and the container paths
# it names, which production_mosquitto_config moves to a folder of the caller's.
PRODUCTION_MOSQUITTO_CONF = (
    Path(__file__).resolve().parent.parent / "provisioning" / "mosquitto" / "mosquitto.conf"
)
CONTAINER_CONFIG_DIR = "/mosquitto/config/"
CONTAINER_DATA_DIR = "/mosquitto/data/"

INSTALL_HINT = "run scripts/install-services.sh (make services does it) to install it"


class MissingBinaryError(AqmError, RuntimeError):
    """A server binary the project needs is not installed."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def _wait_for(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise TimeoutError(f"{what} did not become ready within {timeout:.0f} s")


def postgres_bindir(explicit: Path | None = None) -> Path:
    """``explicit`` (the ``AQM_PG_BINDIR`` setting), else the newest PostgreSQL server's
    bin folder under /usr/lib/postgresql."""
    candidates = (
        [Path(explicit)]
        if explicit
        else sorted(
            Path("/usr/lib/postgresql").glob("*/bin"),
            key=lambda p: int(p.parent.name),
            reverse=True,
        )
        if Path("/usr/lib/postgresql").is_dir()
        else []
    )
    for bindir in candidates:
        if (bindir / "initdb").exists() and (bindir / "pg_ctl").exists():
            return bindir
    raise MissingBinaryError(
        f"PostgreSQL server binaries (initdb, pg_ctl) not found; {INSTALL_HINT}"
    )


def require_timescaledb(bindir: Path) -> None:
    libdir = subprocess.run(
        [str(bindir / "pg_config"), "--pkglibdir"], capture_output=True, text=True, check=False
    ).stdout.strip() or str(bindir.parent / "lib")
    if not any(Path(libdir).glob("timescaledb*.so")):
        raise MissingBinaryError(
            f"TimescaleDB (timescaledb.so in {libdir}) not found; {INSTALL_HINT}"
        )


def mosquitto_binary() -> Path:
    found = shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if Path(p).exists()), None
    )
    if not found:
        raise MissingBinaryError(f"mosquitto not found; {INSTALL_HINT}")
    return Path(found)


def available_memory_bytes(cgroup: Path = Path("/sys/fs/cgroup")) -> int:
    """Memory this machine, or the container it runs in, may use.

    Physical memory, or a lower limit of the control group (v2 ``memory.max``, v1
    ``memory/memory.limit_in_bytes``), as timescaledb-tune reads it in a container.
    """
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        total = 1 << 30
    for limit in (cgroup / "memory.max", cgroup / "memory" / "memory.limit_in_bytes"):
        try:
            text = limit.read_text().strip()
        except OSError:
            continue
        if text.isdigit():  # "max" (v2) means no limit; v1 says so with a huge number
            total = min(total, int(text))
    return total


def shared_buffers_mb(memory_bytes: int | None = None) -> int:
    """PostgreSQL's ``shared_buffers`` for this machine: a quarter of its memory.

    What ``timescaledb-tune`` (run by the TimescaleDB image of docker-compose.yml) sets,
    bounded to 128 MB … 4 GB for a development instance. The server only touches the
    pages it uses, so an idle test instance costs little.
    """
    if memory_bytes is None:
        memory_bytes = available_memory_bytes()
    return int(min(max(memory_bytes // 4 >> 20, 128), 4096))


def _server_user() -> str | None:
    """PostgreSQL refuses to run as root: run it as ``postgres`` when we are root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError as exc:
        raise MissingBinaryError(
            f"running as root needs a 'postgres' user; {INSTALL_HINT}"
        ) from exc
    return "postgres"


def _as_server_user(cmd: list[str]) -> list[str]:
    user = _server_user()
    return ["runuser", "-u", user, "--", *cmd] if user else cmd


def _chown_for_server(path: Path) -> None:
    user = _server_user()
    if user:
        entry = pwd.getpwnam(user)
        for p in [path, *path.rglob("*")]:
            os.chown(p, entry.pw_uid, entry.pw_gid)
        # every parent must be traversable by the server user
        for parent in path.parents:
            mode = parent.stat().st_mode
            if not mode & 0o001:
                parent.chmod(mode | 0o001)


@dataclass
class PostgresInstance:
    """A private PostgreSQL cluster with TimescaleDB preloaded."""

    root: Path
    port: int
    database: str = "aqm"
    bindir: Path = field(default_factory=lambda: postgres_bindir(load_settings().pg_bindir))

    @property
    def datadir(self) -> Path:
        return self.root / "data"

    @property
    def sockdir(self) -> Path:
        return self.root / "sock"

    @property
    def logfile(self) -> Path:
        return self.root / "postgres.log"

    def url(self, database: str | None = None, user: str = "postgres") -> str:
        return f"postgresql://{user}@127.0.0.1:{self.port}/{database or self.database}"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(_as_server_user([*args]), capture_output=True, text=True, check=False)
        if check and proc.returncode != 0:
            raise RuntimeError(
                f"{' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}"
            )
        return proc

    def init(self) -> None:
        require_timescaledb(self.bindir)
        if (self.datadir / "PG_VERSION").exists():
            return
        self.root.mkdir(parents=True, exist_ok=True)
        self.sockdir.mkdir(exist_ok=True)
        _chown_for_server(self.root)
        self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.datadir),
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-locale",
        )
        with (self.datadir / "postgresql.conf").open("a") as conf:
            conf.write(
                "\n# aqm private instance\n"
                "listen_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.sockdir}'\n"
                "shared_preload_libraries = 'timescaledb'\n"
                "timescaledb.telemetry_level = off\n"
                "max_connections = 200\n"
                # Memory and WAL as timescaledb-tune sets them (docker-compose.yml's
                # image runs it): a quarter of the memory, WAL kept for recycling.
                f"shared_buffers = {shared_buffers_mb()}MB\n"
                "min_wal_size = 512MB\n"
                "max_wal_size = 1GB\n"
                "log_min_messages = warning\n"
                "TimeZone = 'UTC'\n"
            )

    def running(self) -> bool:
        return (
            self._run(
                str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "status", check=False
            ).returncode
            == 0
        )

    def start(self) -> None:
        self.init()
        if not self.running():
            self._run(
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.datadir),
                "-l",
                str(self.logfile),
                "-o",
                f"-p {self.port}",
                "-w",
                "-t",
                "60",
                "start",
            )
        _wait_for(lambda: port_open(self.port), 30, f"PostgreSQL on port {self.port}")
        self.create_database()

    def create_database(self) -> None:
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (self.database,)
            ).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{self.database}"')

    def stop(self, mode: str = "fast") -> None:
        if self.datadir.exists() and self.running():
            self._run(
                str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", mode, "-w", "stop"
            )

    def restart(self, mode: str = "fast") -> None:
        self.stop(mode)
        self.start()


def production_mosquitto_config(
    port: int,
    tls_port: int,
    config_dir: Path,
    data_dir: Path,
    source: Path = PRODUCTION_MOSQUITTO_CONF,
) -> str:
    """``provisioning/mosquitto/mosquitto.conf`` as it runs outside its container.

    Only what the container decides changes: its paths move under ``config_dir``
    (holding ``secrets/`` and ``certs/`` as docker-compose mounts them) and ``data_dir``,
    and the listeners bind 127.0.0.1 on ``port`` (plaintext) and ``tls_port``. Every
    other line (logins, ACL, client ids, persistence, limits) is the production one.
    """
    text = source.read_text()
    text = text.replace(CONTAINER_CONFIG_DIR, f"{config_dir}/")
    text = text.replace(CONTAINER_DATA_DIR, f"{data_dir}/")
    for container_port, local_port in ((1883, port), (8883, tls_port)):
        text, found = re.subn(
            rf"(?m)^listener {container_port}$", f"listener {local_port} 127.0.0.1", text
        )
        if found != 1:
            raise ValueError(f"{source}: expected one 'listener {container_port}' line")
    return text


@dataclass
class MosquittoInstance:
    """A private Mosquitto broker with persistence and a raised per-client queue.

    ``config_text`` replaces the generated configuration (the production one, see
    :func:`production_mosquitto_config`); the broker then runs as the current user.
    """

    root: Path
    port: int
    password_file: Path | None = None
    acl_file: Path | None = None
    extra_config: str = ""
    binary: Path = field(default_factory=mosquitto_binary)
    config_text: str | None = None

    @property
    def config_file(self) -> Path:
        return self.root / "mosquitto.conf"

    @property
    def pid_file(self) -> Path:
        return self.root / "mosquitto.pid"

    @property
    def logfile(self) -> Path:
        return self.root / "mosquitto.log"

    def url(self, username: str | None = None, password: str | None = None) -> str:
        auth = f"{username}:{password}@" if username else ""
        return f"mqtt://{auth}127.0.0.1:{self.port}"

    def write_config(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "persistence").mkdir(exist_ok=True)
        if self.config_text is not None:
            self.config_file.write_text(
                self.config_text + f"\nuser {getpass.getuser()}\n" + self.extra_config
            )
            return
        lines = [
            "# aqm private broker (written by aqm.localservices)",
            f"user {getpass.getuser()}",
            "per_listener_settings false",
            f"listener {self.port} 127.0.0.1",
            "persistence true",
            f"persistence_location {self.root / 'persistence'}/",
            "autosave_interval 30",
            # the default of 1000 silently drops QoS 1 messages for a slow subscriber
            "max_queued_messages 1000000",
            "max_queued_bytes 0",
            "max_inflight_messages 1000",
            "persistent_client_expiration 14d",
            f"log_dest file {self.logfile}",
            "log_type error",
            "log_type warning",
            "log_type notice",
        ]
        if self.password_file:
            # As in production: the client id is the login, so no client can take over
            # (and discard) another user's persistent session by naming its client id.
            lines += [
                "allow_anonymous false",
                f"password_file {self.password_file}",
                "use_username_as_clientid true",
            ]
        else:
            lines += ["allow_anonymous true"]
        if self.acl_file:
            lines.append(f"acl_file {self.acl_file}")
        self.config_file.write_text("\n".join(lines) + "\n" + self.extra_config)

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        return pid

    def running(self) -> bool:
        return self.pid() is not None

    def start(self) -> None:
        if self.running():
            return
        self.write_config()
        with self.logfile.open("ab") as log:
            proc = subprocess.Popen(
                [str(self.binary), "-c", str(self.config_file)],
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        self.pid_file.write_text(f"{proc.pid}\n")
        try:
            _wait_for(
                lambda: port_open(self.port) or proc.poll() is not None,
                15,
                f"Mosquitto on port {self.port}",
            )
        finally:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"mosquitto exited ({proc.returncode}); see {self.logfile}:\n"
                    + self.logfile.read_text(errors="replace")[-2000:]
                )

    def stop(self, sig: int = signal.SIGTERM) -> None:
        pid = self.pid()
        if pid is None:
            return
        os.kill(pid, sig)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        self.pid_file.unlink(missing_ok=True)

    def restart(self) -> None:
        self.stop()
        self.start()
