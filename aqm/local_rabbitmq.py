"""Private RabbitMQ nodes (Debian's rabbitmq-server) for development and tests.

A node has its own name, ports, data and log folders, configuration, enabled plugins and
Erlang cookie (through its ``HOME``); nothing is read from /etc/rabbitmq, so a RabbitMQ
the machine already runs is neither used nor disturbed. :class:`RabbitNode` runs one
node; :class:`RabbitMQInstance` is the node ``make run`` uses with ``AQM_BROKER=rabbitmq``:
the readings queue, its binding and policy loaded from a definitions file at boot, and
local users with passwords of its own for ingest and the station simulator.
``scripts/install-services.sh`` installs the package; this module only runs nodes of it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from aqm.localservices import INSTALL_HINT, MissingBinaryError, port_open
from aqm_core.errors import AqmError

RABBITMQ_BIN = Path("/usr/lib/rabbitmq/bin")
# Erlang's CLI tools take ports above a node's distribution port (+10000 … +10010).
CLI_PORT_OFFSET = 10000
# Erlang's schedulers spin a while before sleeping, which buys a dedicated server some
# latency and costs a shared machine the CPU its other processes (ingest, PostgreSQL,
# publishers) need. For development and test nodes only; production advice is in
# docs/scaling.md.
SHARED_MACHINE_ERL_ARGS = "+sbwt none +sbwtdcpu none +sbwtdio none"
INGEST_USER = "aqm-ingest"
SIMULATOR_USER = "aqm-simulator"


class PortInUseError(AqmError, RuntimeError):
    """A port the local node must listen on is taken by another program."""


def rabbitmq_server(bindir: Path = RABBITMQ_BIN) -> Path:
    """The ``rabbitmq-server`` launcher, or :class:`MissingBinaryError` naming the package."""
    server = bindir / "rabbitmq-server"
    if not server.exists():
        raise MissingBinaryError(
            f"RabbitMQ ({server}, Debian's rabbitmq-server package) not found; {INSTALL_HINT}"
        )
    return server


def _free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port_below(limit: int = 40000, avoid: Iterable[int] = ()) -> int:
    """A free port in 20000…limit whose CLI companion ports (+10000…+10010) are free too."""
    taken = set(avoid)
    for _ in range(500):
        port = 20000 + secrets.randbelow(limit - 20000)
        companions = range(port + CLI_PORT_OFFSET, port + CLI_PORT_OFFSET + 11)
        if port not in taken and _free(port) and all(_free(p) for p in companions):
            return port
    raise RuntimeError("no free port for a RabbitMQ node")


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` runs (exists, and is no zombie waiting to be reaped)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def ensure_cookie(home: Path) -> None:
    """The Erlang cookie the node and its CLI tools share (readable by the owner only)."""
    home.mkdir(parents=True, exist_ok=True)
    cookie = home / ".erlang.cookie"
    if not cookie.exists():
        cookie.write_text(secrets.token_hex(20).upper())
        cookie.chmod(0o400)


@dataclass
class RabbitNode:
    """One RabbitMQ node with AMQP and MQTT listeners on 127.0.0.1."""

    root: Path
    name: str
    home: Path
    amqp_port: int
    mqtt_port: int
    dist_port: int
    config: list[str] = field(default_factory=list)
    process: subprocess.Popen[bytes] | None = None
    plugins: tuple[str, ...] = ()
    """Plugins enabled beside rabbitmq_mqtt (e.g. rabbitmq_auth_backend_http)."""
    bindir: Path = RABBITMQ_BIN

    @property
    def nodename(self) -> str:
        return f"{self.name}@localhost"

    @property
    def logfile(self) -> Path:
        return self.root / "log" / "node.log"

    def amqp_url(self, user: str = "aqm", password: str = "aqm") -> str:
        return f"amqp://{user}:{password}@127.0.0.1:{self.amqp_port}/"

    def mqtt_url(self, user: str, password: str) -> str:
        return f"mqtt://{user}:{password}@127.0.0.1:{self.mqtt_port}"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RABBITMQ_")}
        env.update(
            HOME=str(self.home),
            RABBITMQ_NODENAME=self.nodename,
            RABBITMQ_NODE_IP_ADDRESS="127.0.0.1",
            RABBITMQ_NODE_PORT=str(self.amqp_port),
            RABBITMQ_DIST_PORT=str(self.dist_port),
            RABBITMQ_MNESIA_BASE=str(self.root / "mnesia"),
            RABBITMQ_LOG_BASE=str(self.root / "log"),
            RABBITMQ_LOGS=str(self.logfile),
            RABBITMQ_CONFIG_FILE=str(self.root / "rabbitmq.conf"),
            RABBITMQ_ADVANCED_CONFIG_FILE=str(self.root / "advanced.config"),
            RABBITMQ_CONF_ENV_FILE=str(self.root / "rabbitmq-env.conf"),
            RABBITMQ_ENABLED_PLUGINS_FILE=str(self.root / "enabled_plugins"),
            RABBITMQ_PID_FILE=str(self.root / "node.pid"),
            RABBITMQ_PLUGINS_EXPAND_DIR=str(self.root / "plugins-expand"),
            RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=SHARED_MACHINE_ERL_ARGS,
        )
        return env

    def write_files(self) -> None:
        (self.root / "log").mkdir(parents=True, exist_ok=True)
        lines = [
            "loopback_users = none",
            f"listeners.tcp.default = 127.0.0.1:{self.amqp_port}",
            f"mqtt.listeners.tcp.default = 127.0.0.1:{self.mqtt_port}",
            "mqtt.allow_anonymous = false",
            "management.tcp.port = 0",
            "log.file.level = info",
            *self.config,
        ]
        (self.root / "rabbitmq.conf").write_text("\n".join(lines) + "\n")
        (self.root / "advanced.config").write_text("[].\n")
        (self.root / "rabbitmq-env.conf").write_text("")
        (self.root / "enabled_plugins").write_text(
            f"[{','.join(['rabbitmq_mqtt', *self.plugins])}].\n"
        )

    def start(self) -> None:
        server = rabbitmq_server(self.bindir)
        self.write_files()
        with (self.root / "log" / "console.log").open("ab") as out:
            self.process = subprocess.Popen(
                [str(server)],
                env=self.env(),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(
                    f"RabbitMQ node {self.nodename} exited; see {self.root}/log:\n"
                    + self.log_tail()
                )
            if port_open(self.amqp_port) and port_open(self.mqtt_port):
                # the listeners open before every boot step ran (queues recovered, …)
                self.ctl("await_startup", timeout=max(deadline - time.monotonic(), 5))
                return
            time.sleep(0.2)
        raise TimeoutError(f"RabbitMQ node {self.nodename} not ready in {timeout:.0f} s")

    def log_tail(self, chars: int = 2000) -> str:
        texts = []
        for log in (self.root / "log" / "console.log", self.logfile):
            with contextlib.suppress(OSError):
                texts.append(log.read_text(errors="replace")[-chars:])
        return "\n".join(texts)

    def ctl(self, *args: str, timeout: float = 120.0, tool: str = "rabbitmqctl") -> str:
        done = subprocess.run(
            [str(self.bindir / tool), "-n", self.nodename, *args],
            env=self.env(),
            capture_output=True,
            check=False,
            text=True,
            timeout=timeout,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"{tool} {' '.join(args)} on {self.nodename} failed: {done.stderr or done.stdout}"
            )
        return done.stdout

    def pid(self) -> int:
        """The Erlang VM's process id (what the node wrote to its pid file)."""
        return int((self.root / "node.pid").read_text().strip())

    def running_pid(self) -> int | None:
        """The VM's process id while it runs: alive, and started with this node's ``HOME``."""
        try:
            pid = self.pid()
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            return None
        return pid if process_alive(pid) and os.fsencode(self.home) in cmdline else None

    def running(self) -> bool:
        return self.running_pid() is not None

    def stop(self, timeout: float = 60.0) -> None:
        """Stop the node as SIGTERM does (a clean shutdown), killing it after ``timeout``.

        Also a node another process started (``aqm services start``): its VM is found
        through the pid file.
        """
        pid = self.running_pid()
        if self.process is None and pid is None:
            return
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
        elif pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        if self.process is not None:
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(30)
        while pid is not None and process_alive(pid):
            if time.monotonic() > deadline:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                deadline += 30
            time.sleep(0.05)
        self.process = None


def node_name(root: Path) -> str:
    """A node name of ``root``'s own, so two data folders' nodes never share one."""
    digest = hashlib.sha256(os.fsencode(root.resolve())).hexdigest()[:10]
    return f"aqm{digest}"


@dataclass
class RabbitMQInstance:
    """The RabbitMQ node of ``make run`` with ``AQM_BROKER=rabbitmq``.

    Stations (the simulator) publish MQTT 3.1.1 on ``port`` (RabbitMQ before 3.13 speaks
    no MQTT 5); ingest consumes ``queue`` over AMQP on ``amqp_port``. The definitions file
    loaded at boot declares the queue, its binding and delivery-limit policy (so nothing
    published before ingest subscribes is dropped), and two users with passwords kept in
    ``credentials.json`` (owner-only): ``aqm-ingest`` and ``aqm-simulator``, which may
    publish any station's readings and nothing else. No login is anonymous.
    """

    root: Path
    port: int
    amqp_port: int
    queue: str = "aqm.readings"
    topic_prefix: str = "aqm/v1/stations"
    bindir: Path = field(default_factory=lambda: RABBITMQ_BIN)
    node: RabbitNode = field(init=False)

    def __post_init__(self) -> None:
        rabbitmq_server(self.bindir)  # a missing package is named before anything starts
        self.node = RabbitNode(
            self.root,
            node_name(self.root),
            self.root / "home",
            amqp_port=self.amqp_port,
            mqtt_port=self.port,
            # Erlang distribution: the node's port, and its CLI tools' (+10000…+10010)
            dist_port=free_port_below(avoid=(self.port, self.amqp_port)),
            config=[f"load_definitions = {self.definitions_file}"],
            bindir=self.bindir,
        )

    @property
    def logfile(self) -> Path:
        return self.node.logfile

    @property
    def definitions_file(self) -> Path:
        return self.root / "definitions.json"

    @property
    def credentials_file(self) -> Path:
        return self.root / "credentials.json"

    def passwords(self) -> dict[str, str]:
        """The local users' passwords: made once, then kept in ``credentials.json``."""
        try:
            known = json.loads(self.credentials_file.read_text())
        except (OSError, ValueError):
            known = {}
        users = (INGEST_USER, SIMULATOR_USER)
        if not isinstance(known, dict) or not all(isinstance(known.get(u), str) for u in users):
            known = {u: secrets.token_urlsafe(18) for u in users}
            self.root.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.credentials_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as out:
                json.dump(known, out)
        return {u: str(known[u]) for u in users}

    def url(self) -> str:
        """The MQTT URL the simulator publishes to, with its login."""
        return self.node.mqtt_url(SIMULATOR_USER, self.passwords()[SIMULATOR_USER])

    def amqp_url(self) -> str:
        """The AMQP URL ingest consumes from, with its login."""
        return self.node.amqp_url(INGEST_USER, self.passwords()[INGEST_USER])

    def client_env(self) -> dict[str, str]:
        """What the pipeline's processes need to use this node instead of Mosquitto."""
        return {
            "AQM_BROKER": "rabbitmq",
            "AQM_MQTT_URL": self.url(),
            "AQM_MQTT_PROTOCOL": "3.1.1",
            "AQM_AMQP_URL": self.amqp_url(),
            "AQM_AMQP_QUEUE": self.queue,
        }

    def write_definitions(self) -> None:
        from ingest.topics import TopicLayout
        from stations.rabbitmq_definitions import definitions, publisher, rabbitmq_hash

        passwords = self.passwords()
        topics = TopicLayout(self.topic_prefix)
        document = definitions(
            (), [INGEST_USER], {INGEST_USER: rabbitmq_hash(passwords[INGEST_USER])},
            topics, self.queue,
        )  # fmt: skip
        publisher(document, SIMULATOR_USER, rabbitmq_hash(passwords[SIMULATOR_USER]), topics)
        fd = os.open(self.definitions_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(document, out, indent=1)

    def running(self) -> bool:
        return self.node.running()

    def start(self, timeout: float = 120.0) -> None:
        if self.running():
            return
        for port, setting in ((self.port, "AQM_MQTT_PORT"), (self.amqp_port, "AQM_AMQP_PORT")):
            if port_open(port):
                raise PortInUseError(
                    f"port {port} ({setting}) of the local RabbitMQ is in use by another "
                    "program (a Mosquitto of `aqm services start`? "
                    "`AQM_BROKER=mosquitto aqm services stop` stops it)"
                )
        ensure_cookie(self.node.home)
        self.write_definitions()
        self.node.start()
        try:
            self.node.wait_ready(timeout)
        except BaseException:
            self.node.stop()
            raise

    def stop(self) -> None:
        self.node.stop()

    def restart(self) -> None:
        self.stop()
        self.start()
