"""RabbitMQ benchmark: readings/s through a three-node cluster's quorum queue against
Mosquitto in the same run, and publish→commit latency at 1,000 readings/s offered.

Run: ``.venv/bin/python -m bench.rabbitmq`` (a few minutes: three RabbitMQ nodes start).
Every server shares this one machine — three RabbitMQ nodes, Mosquitto, TimescaleDB,
the publisher and ingest — so the cluster's replication costs CPU the others need; a real
cluster has a machine per node. Wall time on a shared machine says little, so each run
also records the CPU seconds every process spent (from /proc), per message and per
reading: what bounds the rate on a machine of its own.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion

from bench.ingest_throughput import (
    N_STATIONS,
    count_readings,
    payloads,
    rate_of,
    reset,
    start_ingest,
    until_stored,
    wait_for_count,
)
from bench.lab import bench_services
from bench.machine import describe, shared_note
from bench.record import append_to_section
from stations.rabbitmq_definitions import rabbitmq_hash
from tests.rabbitmq_nodes import (
    INGEST_USER,
    QUEUE,
    RabbitNode,
    form_cluster,
    password,
    rabbitmq_version,
    start_nodes,
)

PUBLISHER = "aqm-bench"
STATIONS = tuple(f"BN-{i:02d}" for i in range(1, N_STATIONS + 1))
TICKS = os.sysconf("SC_CLK_TCK")
PAYLOAD_MESSAGES, PAYLOAD_OBSERVATIONS = 500, 100
PACED_MESSAGES = 3334


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a running process has spent (/proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def postgres_pids(datadir: Path) -> list[int]:
    """The postmaster and its children (the backends, the WAL writer, ...)."""
    postmaster = int((datadir / "postmaster.pid").read_text().split()[0])
    pids = [postmaster]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(stat[1]) == postmaster:
                pids.append(int(entry.name))
    return pids


class CpuMeter:
    """CPU seconds each named process group spent between ``start`` and ``stop``.

    A PostgreSQL backend that starts and ends in between is not counted; the one that
    matters, ingest's connection, lives throughout. ``bench`` is this process: the
    publisher and the polling of the readings count.
    """

    def __init__(self, groups: dict[str, list[int] | Any]) -> None:
        self.groups = groups
        self._before: dict[str, dict[int, float]] = {}
        self.spent: dict[str, float] = {}

    def _pids(self, name: str) -> list[int]:
        pids = self.groups[name]
        return list(pids() if callable(pids) else pids)

    def _read(self, name: str) -> dict[int, float]:
        if name == "bench":
            t = os.times()
            return {0: t.user + t.system}
        out = {}
        for pid in self._pids(name):
            with contextlib.suppress(OSError):
                out[pid] = cpu_seconds(pid)
        return out

    def start(self) -> None:
        self._before = {name: self._read(name) for name in [*self.groups, "bench"]}

    def stop(self) -> dict[str, float]:
        for name, before in self._before.items():
            after = self._read(name)
            self.spent[name] = sum(v - before.get(pid, 0.0) for pid, v in after.items())
        return self.spent


def cpu_line(spent: dict[str, float], per: int, unit: str) -> str:
    """CPU µs per ``unit`` of each process group, and their total."""
    parts = [f"{name} {1e6 * s / per:,.0f}" for name, s in spent.items()]
    total = sum(spent.values())
    return f"{', '.join(parts)}; total {1e6 * total / per:,.0f} µs CPU per {unit}"


def add_publisher(definitions: Path) -> None:
    """A user that may publish every station's topic: the benchmark's one publisher."""
    document = json.loads(definitions.read_text())
    document["users"].append(
        {
            "name": PUBLISHER,
            "password_hash": rabbitmq_hash(password(PUBLISHER)),
            "hashing_algorithm": "rabbit_password_hashing_sha256",
            "tags": [],
        }
    )
    document["permissions"].append(
        {"user": PUBLISHER, "vhost": "/", "configure": "^$", "write": "^amq\\.topic$", "read": "^$"}
    )
    definitions.write_text(json.dumps(document))


def start_cluster(root: Path) -> list[RabbitNode]:
    nodes = start_nodes(root, 3, STATIONS, before_start=add_publisher)
    form_cluster(nodes)
    for node in nodes[1:]:
        nodes[0].ctl("grow", node.nodename, "all", tool="rabbitmq-queues")
    return nodes


def publish_rabbit(
    port: int,
    messages: list[tuple[str, bytes]],
    rate_msgs: float | None = None,
    stamps: list[float] | None = None,
) -> None:
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=f"bench-{time.time_ns()}", protocol=mqtt.MQTTv311
    )
    client.username_pw_set(PUBLISHER, password(PUBLISHER))
    client.max_inflight_messages_set(1000)
    client.connect("127.0.0.1", port)
    client.loop_start()
    start = time.monotonic()
    infos = []
    for i, (topic, payload) in enumerate(messages):
        if rate_msgs:
            delay = start + i / rate_msgs - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        if stamps is not None:
            stamps.append(time.time())
        infos.append(client.publish(topic, payload, qos=1))
    for info in infos:
        info.wait_for_publish(300)
    client.disconnect()
    client.loop_stop()


def start_rabbit_ingest(db_url: str, nodes: list[RabbitNode]) -> subprocess.Popen[bytes]:
    env = dict(
        os.environ,
        AQM_DATABASE_URL=db_url,
        AQM_BROKER="rabbitmq",
        AQM_AMQP_URL=",".join(n.amqp_url(INGEST_USER, password(INGEST_USER)) for n in nodes),
        AQM_AMQP_QUEUE=QUEUE,
        AQM_METRICS_PORT="0",
        AQM_PAST_HORIZON_DAYS="3650",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "aqm.cli", "ingest"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    probe = payloads(1, 1, datetime(2019, 12, 31, tzinfo=UTC))
    reset(db_url)
    deadline = time.monotonic() + 120
    while count_readings(db_url) < 3:
        if time.monotonic() > deadline:
            raise RuntimeError("ingest did not start consuming the queue")
        publish_rabbit(nodes[0].mqtt_port, probe)
        time.sleep(0.5)
    reset(db_url)
    return proc


def rabbit_rate(url: str, node: RabbitNode, messages: list[tuple[str, bytes]], n: int) -> float:
    start = time.monotonic()
    publish_rabbit(node.mqtt_port, messages)
    end = wait_for_count(url, n, 600)
    return end - start


def latency(url: str, port: int, publish: object, t0: datetime) -> tuple[float, float, int]:
    """p50 and p99 publish→commit (s) at 1,000 readings/s offered for 10 s."""
    paced = payloads(3334, 1, t0)
    reset(url)
    stamps: list[float] = []
    publish(port, paced, rate_msgs=1000 / 3, stamps=stamps)  # type: ignore[operator]
    wait_for_count(url, 3 * len(paced), 300)
    with psycopg.connect(url) as conn:
        inserted: dict[str, float] = dict(
            conn.execute(
                "SELECT station_id || ts::text, extract(epoch FROM max(inserted_at))::float8"
                " FROM readings GROUP BY station_id, ts"
            ).fetchall()
        )
    lat = []
    for (_topic, payload), stamp in zip(paced, stamps, strict=True):
        body = json.loads(payload)
        ts = datetime.fromisoformat(body["ts"]).astimezone(UTC)
        key = body["station"] + str(ts).replace("+00:00", "+00")
        if key in inserted:
            lat.append(inserted[key] - stamp)
    lat.sort()
    return statistics.median(lat), lat[int(0.99 * (len(lat) - 1))], len(lat)


def main() -> None:
    t0 = datetime(2020, 6, 1, tzinfo=UTC)
    batched = payloads(PAYLOAD_MESSAGES, PAYLOAD_OBSERVATIONS, t0)  # 100 × 3 readings each
    n_batched = 3 * PAYLOAD_OBSERVATIONS * len(batched)
    load_before = os.getloadavg()[0]
    version = ".".join(str(n) for n in rabbitmq_version())
    print(f"machine: {describe()}; load average {load_before:.2f}", flush=True)
    results: dict[str, float] = {}
    cpu: dict[str, tuple[dict[str, float], dict[str, float]]] = {}
    with bench_services("aqm-bench-rabbit-", list(STATIONS)) as (pg, mq):
        url = pg.url()
        proc = start_ingest(url, mq.port)
        meter = CpuMeter(
            {
                "ingest": [proc.pid],
                "PostgreSQL": lambda: postgres_pids(pg.datadir),
                "Mosquitto": [int(mq.pid_file.read_text().strip())],
            }
        )
        try:
            reset(url)
            meter.start()
            results["mosquitto"] = rate_of(
                "Mosquitto, 100 observations (300 readings) per message",
                until_stored(url, mq.port, batched, n_batched),
                n_batched,
            )
            batch_cpu = dict(meter.stop())
            meter.start()
            p50, p99, n = latency(url, mq.port, _publish_mosquitto, t0 + timedelta(days=40))
            cpu["mosquitto"] = (batch_cpu, dict(meter.stop()))
            results |= {"mosquitto_p50": p50, "mosquitto_p99": p99}
            print(f"  Mosquitto at 1,000 readings/s: p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms over {n}", flush=True)  # fmt: skip
        finally:
            proc.terminate()
            proc.wait(30)
        root = Path(tempfile.mkdtemp(prefix="aqm-bench-rabbitmq-"))
        nodes = start_cluster(root)
        proc = start_rabbit_ingest(url, nodes)
        groups: dict[str, Any] = {
            "ingest": [proc.pid],
            "PostgreSQL": lambda: postgres_pids(pg.datadir),
        }
        groups |= {f"node {i}": [node.pid()] for i, node in enumerate(nodes, 1)}
        meter = CpuMeter(groups)
        try:
            reset(url)
            meter.start()
            results["rabbitmq"] = rate_of(
                "RabbitMQ 3-node quorum queue, 100 observations (300 readings) per message",
                rabbit_rate(url, nodes[0], batched, n_batched),
                n_batched,
            )
            batch_cpu = dict(meter.stop())
            meter.start()
            p50, p99, n = latency(url, nodes[0].mqtt_port, publish_rabbit, t0 + timedelta(days=80))
            cpu["rabbitmq"] = (batch_cpu, dict(meter.stop()))
            results |= {"rabbitmq_p50": p50, "rabbitmq_p99": p99}
            print(f"  RabbitMQ at 1,000 readings/s: p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms over {n}", flush=True)  # fmt: skip
        finally:
            proc.terminate()
            proc.wait(30)
            for node in nodes:
                node.stop()
            shutil.rmtree(root, ignore_errors=True)
    load_after = os.getloadavg()[0]
    ratio = results["rabbitmq"] / results["mosquitto"]
    print(f"  ratio RabbitMQ cluster / Mosquitto readings/s: {ratio:.2f}")
    cpu_lines = []
    for broker, label in (("mosquitto", "Mosquitto"), ("rabbitmq", "RabbitMQ")):
        batch, paced = cpu[broker]
        cpu_lines += [
            f"- {label}, batched: {cpu_line(batch, n_batched, 'reading')}",
            f"- {label}, paced: {cpu_line(paced, PACED_MESSAGES, 'message of 3 readings')}",
        ]
    for line in cpu_lines:
        print(" ", line)
    append_to_section(
        "## RabbitMQ cluster against Mosquitto",
        [
            f"### {datetime.now(UTC):%Y-%m-%d %H:%M} UTC — `python -m bench rabbitmq`",
            "",
            f"On {describe()}; load average {load_before:.2f} before the run and "
            f"{load_after:.2f} after{shared_note(load_before)}"
            + "; three RabbitMQ nodes, Mosquitto, TimescaleDB, publisher and ingest all on "
            "this one machine.",
            "",
            "| broker | readings/s, 300 readings per message | p50 / p99 publish→commit at 1,000 readings/s |",
            "|---|---|---|",
            f"| Mosquitto (one node, in memory) | {results['mosquitto']:,.0f} | "
            f"{results['mosquitto_p50'] * 1000:.0f} / {results['mosquitto_p99'] * 1000:.0f} ms |",
            f"| RabbitMQ {version}, 3-node quorum queue | {results['rabbitmq']:,.0f} | "
            f"{results['rabbitmq_p50'] * 1000:.0f} / {results['rabbitmq_p99'] * 1000:.0f} ms |",
            "",
            f"Ratio RabbitMQ / Mosquitto: {ratio:.2f}.",
            "",
            "CPU each process spent, in µs (`bench` is the publisher and the polling):",
            "",
            *cpu_lines,
        ],
    )


def _publish_mosquitto(
    port: int,
    messages: list[tuple[str, bytes]],
    rate_msgs: float | None = None,
    stamps: list[float] | None = None,
) -> None:
    from bench.ingest_throughput import publish

    publish(port, messages, rate_msgs=rate_msgs, stamps=stamps)


if __name__ == "__main__":
    main()
