"""Private RabbitMQ nodes (Debian's rabbitmq-server) on free ports, alone or as a cluster.

Each node has its own name, ports, data and log folders and configuration; the nodes of
one cluster share an Erlang cookie through their ``HOME``. Nothing is read from
/etc/rabbitmq, so a RabbitMQ the machine already runs is neither used nor disturbed.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from aqm.localservices import port_open
from ingest.topics import TopicLayout
from stations.rabbitmq_definitions import definitions, rabbitmq_hash

RABBITMQ_BIN = Path(os.environ.get("AQM_RABBITMQ_BIN", "/usr/lib/rabbitmq/bin"))
INSTALL_HINT = "install Debian's rabbitmq-server (scripts/install-services.sh does it)"
# Erlang's CLI tools take ports above a node's distribution port (+10000 … +10010).
CLI_PORT_OFFSET = 10000
DEFAULT_STATIONS = ("BN-01", "BN-02", "BN-03")
INGEST_USER = "aqm-ingest"
QUEUE = "aqm.readings"
TOPICS = TopicLayout()
# Erlang's schedulers spin a while before sleeping, which buys a dedicated server some
# latency and costs a shared machine the CPU its other processes (three nodes, ingest,
# PostgreSQL, publishers) need. For these test and benchmark nodes only; production
# advice is in docs/scaling.md.
SHARED_MACHINE_ERL_ARGS = "+sbwt none +sbwtdcpu none +sbwtdio none"


def rabbitmq_available() -> bool:
    return (RABBITMQ_BIN / "rabbitmq-server").exists()


def parse_version(text: str) -> tuple[int, int, int] | None:
    """The first ``major.minor.patch`` in ``text`` (``4.0.5``, ``rabbitmq_server-3.10.8``)."""
    found = re.search(r"(\d+)\.(\d+)\.(\d+)", text)
    if found is None:
        return None
    major, minor, patch = (int(g) for g in found.groups())
    return major, minor, patch


@functools.cache
def rabbitmq_version() -> tuple[int, int, int]:
    """The installed RabbitMQ version: its library folder's name, else ``rabbitmqctl version``."""
    lib = Path("/usr/lib/rabbitmq/lib")
    for entry in sorted(lib.glob("rabbitmq_server-*")) if lib.is_dir() else []:
        version = parse_version(entry.name)
        if version is not None:
            return version
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        done = subprocess.run(
            [str(RABBITMQ_BIN / "rabbitmqctl"), "version"],
            capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
        version = parse_version(done.stdout)
        if version is not None:
            return version
    raise FileNotFoundError(f"no RabbitMQ installed under {lib}; {INSTALL_HINT}")


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

    @property
    def nodename(self) -> str:
        return f"{self.name}@localhost"

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
            RABBITMQ_LOGS=str(self.root / "log" / "node.log"),
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
        if not rabbitmq_available():
            raise FileNotFoundError(f"{RABBITMQ_BIN}/rabbitmq-server not found; {INSTALL_HINT}")
        self.write_files()
        out = (self.root / "log" / "console.log").open("ab")
        self.process = subprocess.Popen(
            [str(RABBITMQ_BIN / "rabbitmq-server")],
            env=self.env(),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"RabbitMQ node {self.nodename} exited; see {self.root}/log")
            if port_open(self.amqp_port) and port_open(self.mqtt_port):
                # the listeners open before every boot step ran (queues recovered, …)
                self.ctl("await_startup", timeout=max(deadline - time.monotonic(), 5))
                return
            time.sleep(0.2)
        raise TimeoutError(f"RabbitMQ node {self.nodename} not ready in {timeout:.0f} s")

    def ctl(self, *args: str, timeout: float = 120.0, tool: str = "rabbitmqctl") -> str:
        done = subprocess.run(
            [str(RABBITMQ_BIN / tool), "-n", self.nodename, *args],
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
        """The Erlang VM's process id (the launcher script execs into it)."""
        return int((self.root / "node.pid").read_text().strip())

    def kill9(self) -> None:
        """Kill the node at once, as a power cut would (nothing flushed, nothing said)."""
        pid = None
        with contextlib.suppress(FileNotFoundError, ValueError):
            pid = self.pid()
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(30)
        self.process = None
        # The VM's exit (and its sockets closing) lags the signal.
        deadline = time.monotonic() + 30
        while pid is not None and _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        while (
            port_open(self.amqp_port) or port_open(self.mqtt_port)
        ) and time.monotonic() < deadline:
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.kill9()
        self.process = None


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def make_nodes(
    root: Path, count: int, config: list[str] | None = None, plugins: tuple[str, ...] = ()
) -> list[RabbitNode]:
    """``count`` nodes sharing one Erlang cookie, each on ports of its own."""
    home = root / "home"
    home.mkdir(parents=True, exist_ok=True)
    cookie = home / ".erlang.cookie"
    if not cookie.exists():
        cookie.write_text(secrets.token_hex(20).upper())
        cookie.chmod(0o400)
    prefix = f"aqm{secrets.token_hex(3)}"
    nodes: list[RabbitNode] = []
    used: list[int] = []
    for i in range(1, count + 1):
        ports = []
        for _ in range(3):
            port = free_port_below(avoid=used)
            used.append(port)
            ports.append(port)
        nodes.append(
            RabbitNode(
                root / f"node{i}",
                f"{prefix}n{i}",
                home,
                amqp_port=ports[0],
                mqtt_port=ports[1],
                dist_port=ports[2],
                config=list(config or []),
                plugins=plugins,
            )
        )
    return nodes


def form_cluster(nodes: list[RabbitNode]) -> None:
    """Join every node to the first (each started and ready)."""
    first = nodes[0]
    for node in nodes[1:]:
        node.ctl("stop_app")
        node.ctl("reset")  # its own definitions give way to the cluster's
        node.ctl("join_cluster", first.nodename)
        node.ctl("start_app")
    for node in nodes:
        node.ctl("await_startup")


def add_user(node: RabbitNode, user: str, password: str, tags: str = "") -> None:
    node.ctl("add_user", user, password)
    node.ctl("set_permissions", "-p", "/", user, ".*", ".*", ".*")
    if tags:
        node.ctl("set_user_tags", user, tags)


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def password(user: str) -> str:
    return f"{user}-secret"


def write_definitions(path: Path, stations: tuple[str, ...] = DEFAULT_STATIONS) -> Path:
    users = [INGEST_USER, *stations]
    hashes = {u: rabbitmq_hash(password(u)) for u in users}
    document = definitions(stations, [INGEST_USER], hashes, TOPICS, QUEUE)
    path.write_text(json.dumps(document))
    return path


def start_nodes(
    root: Path,
    count: int,
    stations: tuple[str, ...] = DEFAULT_STATIONS,
    before_start: Callable[[Path], None] | None = None,
) -> list[RabbitNode]:
    root.mkdir(parents=True, exist_ok=True)
    defs = write_definitions(root / "definitions.json", stations)
    if before_start is not None:
        before_start(defs)
    nodes = make_nodes(root, count, [f"load_definitions = {defs}"])
    for node in nodes:
        node.start()
    for node in nodes:
        node.wait_ready()
    return nodes
