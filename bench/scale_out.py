"""Ingest scale-out: readings/s with 1, 2 and 3 ``aqm ingest`` processes sharing one
subscription (``$share/<group>/aqm/v1/stations/+/readings``) on one Mosquitto and one
TimescaleDB.

Run: ``.venv/bin/python -m bench.scale_out`` (about a minute). Two workloads: batched
payloads (100 observations × 3 values per message, where the database does most of the
work) and one observation per message (3 readings, where per-message work in Python
dominates). Each figure is the time from the first publish until the last reading is
committed, with the publisher offering far more than ingest absorbs.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime

from aqm.localservices import free_port, port_open
from bench.ingest_throughput import (
    N_STATIONS,
    count_readings,
    payloads,
    publish,
    reset,
    until_stored,
)
from bench.lab import bench_services
from bench.machine import describe

INSTANCE_COUNTS = (1, 2, 3)


def start_instances(
    n: int, db_url: str, mqtt_port: int, group: str
) -> list[subprocess.Popen[bytes]]:
    procs = []
    for i in range(n):
        metrics_port = free_port()
        env = dict(
            os.environ,
            AQM_DATABASE_URL=db_url,
            AQM_MQTT_URL=f"mqtt://127.0.0.1:{mqtt_port}",
            AQM_MQTT_CLIENT_ID=f"bench-{group}-{i}",
            AQM_MQTT_SHARED_GROUP=group,
            AQM_METRICS_PORT=str(metrics_port),
            AQM_PAST_HORIZON_DAYS="3650",
        )
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "aqm.cli", "ingest"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        deadline = time.monotonic() + 30
        while not port_open(metrics_port):
            if time.monotonic() > deadline:
                raise RuntimeError("ingest did not start")
            time.sleep(0.1)
    # every instance subscribed: a probe must come through n times in a row
    probe = payloads(1, 1, datetime(2019, 12, 1, tzinfo=UTC))
    deadline = time.monotonic() + 30
    while count_readings(db_url) < 3:
        if time.monotonic() > deadline:
            raise RuntimeError("the shared subscription never delivered")
        publish(mqtt_port, probe)
        time.sleep(0.3)
    time.sleep(1.5)
    reset(db_url)
    return procs


def measure(
    db_url: str, mqtt_port: int, messages: list[tuple[str, bytes]], n_readings: int
) -> float:
    reset(db_url)
    return n_readings / until_stored(db_url, mqtt_port, messages, n_readings, timeout=600)


def main() -> None:
    stations = [f"BN-{i:02d}" for i in range(1, N_STATIONS + 1)]
    with bench_services("aqm-bench-scale-", stations) as (pg, mq):
        url = pg.url()
        print(f"machine: {describe()}")
        t0 = datetime(2020, 6, 1, tzinfo=UTC)
        workloads = {
            "batched (300 readings/message)": (payloads(600, 100, t0), 600 * 300),
            "single (3 readings/message)": (payloads(15000, 1, t0), 15000 * 3),
        }
        results: dict[str, dict[int, float]] = {w: {} for w in workloads}
        for n in INSTANCE_COUNTS:
            procs = start_instances(n, url, mq.port, f"g{n}")
            try:
                for name, (messages, n_readings) in workloads.items():
                    rate = measure(url, mq.port, messages, n_readings)
                    results[name][n] = rate
                    print(f"  {n} instance(s), {name:32} {rate:9.0f} readings/s", flush=True)
            finally:
                for p in procs:
                    p.terminate()
                for p in procs:
                    p.wait(30)
        for name, by_n in results.items():
            base = by_n[1]
            print(f"  {name}: " + ", ".join(f"{n}× → {r / base:.2f}" for n, r in by_n.items()))


if __name__ == "__main__":
    main()
