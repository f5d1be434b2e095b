"""A three-node RabbitMQ cluster on one machine: the queue leader's node and an ingest
process are killed with SIGKILL mid-flood; every reading a station was acknowledged is
stored, once.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import psycopg

from tests.ingest.conftest import as_role
from tests.rabbitmq.conftest import Station, flood, ingest_url
from tests.rabbitmq_nodes import QUEUE, RabbitNode, form_cluster, start_nodes
from tests.reliability.ingest_process import IngestProcess
from tests.reliability.station_traffic import expected, messages, stored

STATIONS = tuple(f"BN-{n:02d}" for n in range(1, 13))


def register(url: str, stations: tuple[str, ...]) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.cursor().executemany(
            "INSERT INTO stations (station_id, name, latitude, longitude, station_type, status)"
            " VALUES (%s, %s, 21.18, 106.07, 'fixed_automatic', 'active')"
            " ON CONFLICT (station_id) DO NOTHING",
            [(s, f"Trạm {s}") for s in stations],
        )


def leader(node: RabbitNode) -> str:
    out = node.ctl("list_queues", "-q", "--no-table-headers", "name", "leader")
    for line in out.splitlines():
        name, where = line.split()
        if name == QUEUE:
            return where
    raise AssertionError(f"no leader for {QUEUE}: {out!r}")


def members(node: RabbitNode) -> str:
    return node.ctl("list_queues", "-q", "--no-table-headers", "name", "members")


async def test_every_acknowledged_reading_survives_the_leader_node_and_an_ingest_process(
    tmp_path: Path, clean_db: str
) -> None:
    register(clean_db, STATIONS)
    nodes = await asyncio.to_thread(start_nodes, tmp_path / "cluster", 3, STATIONS)
    ingest: list[IngestProcess] = []
    stations: list[Station] = []
    try:
        await asyncio.to_thread(form_cluster, nodes)
        for node in nodes[1:]:  # the queue was declared on the first node alone
            nodes[0].ctl("grow", node.nodename, "all", tool="rabbitmq-queues")
        assert all(n.nodename in members(nodes[0]) for n in nodes)
        urls = [ingest_url(n) for n in nodes]
        for i in range(2):
            ingest.append(
                IngestProcess(
                    as_role(clean_db), "mqtt://127.0.0.1:1", f"unused-{i}",
                    tmp_path / f"ingest-{i}.log",
                    AQM_BROKER="rabbitmq",
                    AQM_AMQP_URL=",".join(urls[i:] + urls[:i]),
                    AQM_AMQP_QUEUE=QUEUE,
                )
            )  # fmt: skip
        ports = [n.mqtt_port for n in nodes]
        for k, station in enumerate(STATIONS):
            s = Station(station, ports[k % 3 :] + ports[: k % 3])
            assert s.connect(), s.refused
            stations.append(s)
        sent = messages(list(STATIONS), 200)
        flooding = asyncio.create_task(asyncio.to_thread(flood, stations, sent, 400.0))
        await asyncio.sleep(2)
        doomed = next(n for n in nodes if n.nodename == leader(nodes[0]))
        survivor = next(n for n in nodes if n is not doomed)
        doomed.kill9()
        await asyncio.sleep(2)
        ingest[0].kill()
        acked_count = await flooding
        assert acked_count > len(sent) // 2  # the flood went on through the failover
        want = expected([m for s in stations for m in s.acked])
        deadline = time.monotonic() + 180
        while not want <= stored(clean_db) and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
        have = stored(clean_db)
        missing = want - have
        assert not missing, f"{len(missing)} acknowledged readings lost, e.g. {sorted(missing)[:3]}"
        assert have <= expected(sent)  # nothing stored that no station sent
        assert leader(survivor) != doomed.nodename
    finally:
        for s in stations:
            s.close()
        for process in ingest:
            process.ensure_stopped()
        for node in nodes:
            node.stop()
