"""Private RabbitMQ nodes (Debian's rabbitmq-server) on free ports, alone or as a cluster.

Each node is :class:`aqm.local_rabbitmq.RabbitNode` (its own name, ports, data and log
folders, configuration; nothing read from /etc/rabbitmq) on free ports; the nodes of one
cluster share an Erlang cookie through their ``HOME``. ``AQM_RABBITMQ_BIN`` points the
tests at another RabbitMQ's ``bin`` folder.
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
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aqm import local_rabbitmq
from aqm.local_rabbitmq import ensure_cookie, free_port_below, process_alive
from aqm.localservices import port_open
from ingest.topics import TopicLayout
from stations.rabbitmq_definitions import definitions, rabbitmq_hash

RABBITMQ_BIN = Path(os.environ.get("AQM_RABBITMQ_BIN", "/usr/lib/rabbitmq/bin"))
INSTALL_HINT = "install Debian's rabbitmq-server (scripts/install-services.sh does it)"
DEFAULT_STATIONS = ("BN-01", "BN-02", "BN-03")
INGEST_USER = local_rabbitmq.INGEST_USER
QUEUE = "aqm.readings"
TOPICS = TopicLayout()


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


@dataclass
class RabbitNode(local_rabbitmq.RabbitNode):
    """A node of the tests: the production launcher, on this run's RabbitMQ, and killable."""

    bindir: Path = RABBITMQ_BIN

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
        while pid is not None and process_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        while (
            port_open(self.amqp_port) or port_open(self.mqtt_port)
        ) and time.monotonic() < deadline:
            time.sleep(0.05)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop what this test started (a node killed before is left alone)."""
        if self.process is not None:
            super().stop(timeout)


def make_nodes(
    root: Path, count: int, config: list[str] | None = None, plugins: tuple[str, ...] = ()
) -> list[RabbitNode]:
    """``count`` nodes sharing one Erlang cookie, each on ports of its own."""
    home = root / "home"
    ensure_cookie(home)
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
