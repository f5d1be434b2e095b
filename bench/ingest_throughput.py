"""Ingest benchmark: readings/s and publish→commit latency through a real Mosquitto and
TimescaleDB, against a naive bridge (one INSERT + commit per message) in the same run.

Run: ``.venv/bin/python -m bench.ingest_throughput`` (about two minutes). Broker,
database, publisher and ingest share the machine, as they do in a small deployment.
``--foreign-key-only`` measures only the cost of the foreign key from readings to
stations (migration 0010): the merge statement's time with and without it, then
readings/s through ingest with and without it, each alternated in one run
(``--merge-only``: the merge alone).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion

from bench.lab import bench_services
from bench.machine import describe

N_STATIONS = 20
TOPIC = "aqm/v1/stations/{}/readings"


FULL = ("pm25", "pm10", "no2")


def payloads(
    n_messages: int,
    observations_per_message: int,
    t0: datetime,
    parameters: tuple[str, ...] = FULL,
) -> list[tuple[str, bytes]]:
    """Messages of ``observations_per_message`` observations of ``parameters``, all distinct."""
    out = []
    k = 0
    for i in range(n_messages):
        station = f"BN-{i % N_STATIONS + 1:02d}"
        obs = []
        for _ in range(observations_per_message):
            ts = t0 + timedelta(seconds=k)
            k += 1
            obs.append(
                {
                    "station": station,
                    "ts": ts.isoformat(),
                    "values": {
                        p: v
                        for p, v in (
                            ("pm25", 20.0 + k % 40),
                            ("pm10", 45.0 + k % 60),
                            ("no2", 30.0 + k % 25),
                        )
                        if p in parameters
                    },
                }
            )
        body = obs[0] if observations_per_message == 1 else obs
        out.append((TOPIC.format(station), json.dumps(body).encode()))
    return out


def publish(
    port: int,
    messages: list[tuple[str, bytes]],
    rate_msgs: float | None = None,
    stamps: list[float] | None = None,
) -> None:
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{time.time_ns()}", protocol=mqtt.MQTTv5
    )
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
        info.wait_for_publish(120)
    client.disconnect()
    client.loop_stop()


def count_readings(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM readings").fetchone()
        return int(row[0]) if row else 0


def reset(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("TRUNCATE readings, aqi_dirty_hours, rejected_messages")


def wait_for_count(url: str, expected: int, timeout: float) -> float:
    deadline = time.monotonic() + timeout
    while (n := count_readings(url)) < expected:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {n} of {expected} readings stored after {timeout} s")
        time.sleep(0.05)
    return time.monotonic()


def start_ingest(db_url: str, mqtt_port: int) -> subprocess.Popen[bytes]:
    env = dict(
        os.environ,
        AQM_DATABASE_URL=db_url,
        AQM_MQTT_URL=f"mqtt://127.0.0.1:{mqtt_port}",
        AQM_MQTT_CLIENT_ID=f"bench-ingest-{time.time_ns()}",
        AQM_METRICS_PORT="0",
        AQM_PAST_HORIZON_DAYS="3650",
    )
    log = open(os.environ.get("AQM_BENCH_INGEST_LOG", os.devnull), "w")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "aqm.cli", "-v", "ingest"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    # wait until it is subscribed: a probe must come through
    t0 = datetime(2020, 1, 1, tzinfo=UTC)
    probe = payloads(1, 1, t0 - timedelta(days=1))
    reset(db_url)
    deadline = time.monotonic() + 30
    while count_readings(db_url) < 3:
        if time.monotonic() > deadline:
            raise RuntimeError("ingest did not start")
        publish(mqtt_port, probe)
        time.sleep(0.3)
    reset(db_url)
    return proc


def run_naive(db_url: str, mqtt_port: int, messages: list[tuple[str, bytes]]) -> float:
    """The community-bridge baseline: INSERT + COMMIT inside paho's callback, per message."""
    conn = psycopg.connect(db_url)
    done = threading.Event()
    seen = [0]

    def on_message(client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        body = json.loads(msg.payload)
        rows = [
            (body["station"], p, body["ts"], v, v, "µg/m³", "00", "aqm_json", datetime.now(UTC))
            for p, v in body["values"].items()
        ]
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO readings (station_id, parameter, ts, value, original_value, original_unit,"
                " status, source_format, received_at) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s)"
                " ON CONFLICT DO NOTHING",
                rows,
            )
        conn.commit()
        seen[0] += 1
        if seen[0] == len(messages):
            done.set()

    sub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-naive", protocol=mqtt.MQTTv5)
    sub.on_message = on_message
    subscribed = threading.Event()
    sub.on_subscribe = lambda *a: subscribed.set()
    sub.connect("127.0.0.1", mqtt_port)
    sub.subscribe("aqm/v1/stations/+/readings", qos=1)
    sub.loop_start()
    subscribed.wait(10)
    start = time.monotonic()
    publish(mqtt_port, messages)
    done.wait(600)
    elapsed = time.monotonic() - start
    sub.disconnect()
    sub.loop_stop()
    conn.close()
    return elapsed


def until_stored(
    url: str,
    port: int,
    messages: list[tuple[str, bytes]],
    n_readings: int,
    timeout: float = 300.0,
) -> float:
    """Seconds from the first publish until ``n_readings`` readings are committed."""
    start = time.monotonic()
    publish(port, messages)
    return wait_for_count(url, n_readings, timeout) - start


def rate_of(label: str, elapsed: float, n_readings: int) -> float:
    """Print and return the readings/s of a run that took ``elapsed`` seconds."""
    rate = n_readings / elapsed
    print(
        f"  {label:58} {n_readings:>8} readings in {elapsed:6.2f} s = {rate:9.0f} readings/s",
        flush=True,
    )
    return rate


FOREIGN_KEY = "readings_station_id_fkey"  # storage/migrations/0010


def set_foreign_key(url: str, on: bool) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        if on:
            conn.execute(
                f"ALTER TABLE readings ADD CONSTRAINT {FOREIGN_KEY}"
                " FOREIGN KEY (station_id) REFERENCES stations (station_id)"
            )
        else:
            conn.execute(f"ALTER TABLE readings DROP CONSTRAINT {FOREIGN_KEY}")


def foreign_key_cost(url: str, port: int, t0: datetime) -> dict[str, float]:
    """Readings/s with and without the foreign key from readings to stations, alternated
    twice so that a noisy moment of the shared machine does not decide the ratio."""
    best: dict[str, float] = {}
    for round_ in range(2):
        for on in (True, False):
            if not on:
                set_foreign_key(url, False)
            for key, observations, n_messages in (("single", 1, 10000), ("batched", 100, 2000)):
                messages = payloads(n_messages, observations, t0 + timedelta(days=60 + round_))
                n_readings = 3 * observations * n_messages
                reset(url)
                label = (
                    f"foreign key {'on' if on else 'off'}, {observations} observation(s) "
                    f"per message, round {round_ + 1}"
                )
                rate = rate_of(label, until_stored(url, port, messages, n_readings), n_readings)
                name = f"fk_{key}_{'on' if on else 'off'}"
                best[name] = max(best.get(name, 0.0), rate)
            if not on:
                set_foreign_key(url, True)
    return best


def foreign_key_merge_cost(url: str, t0: datetime, rows: int = 100_000, rounds: int = 5) -> float:
    """Median ratio of the readings merge's time with the key to without it.

    The writer's statement shape (INSERT … SELECT … ON CONFLICT DO NOTHING from a staged
    batch) on the same rows, key on and off alternated ``rounds`` times: the database's
    own cost of the check, with the machine's noise spread over both sides."""
    stage = (
        "CREATE TEMP TABLE IF NOT EXISTS fk_stage AS SELECT"
        " 'BN-' || lpad((1 + i %% %(n)s)::text, 2, '0') AS station_id, 'pm25'::text AS parameter,"
        " %(t0)s::timestamptz + i * interval '1 second' AS ts, (i %% 90)::float8 AS value"
        " FROM generate_series(1, %(rows)s) AS i"
    )
    merge = (
        "INSERT INTO readings (station_id, parameter, ts, value, original_value, original_unit,"
        " status, source_format, received_at) SELECT station_id, parameter, ts, value, value,"
        " 'µg/m³', '00', 'aqm_json', now() FROM fk_stage"
        " ON CONFLICT (station_id, parameter, ts) DO NOTHING"
    )
    ratios = []
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(stage, {"n": N_STATIONS, "t0": t0, "rows": rows})
        for _ in range(rounds):
            took = {}
            for on in (True, False):
                conn.execute("TRUNCATE readings")
                if not on:
                    conn.execute(f"ALTER TABLE readings DROP CONSTRAINT {FOREIGN_KEY}")
                start = time.perf_counter()
                conn.execute(merge)
                took[on] = time.perf_counter() - start
                if not on:
                    conn.execute(
                        f"ALTER TABLE readings ADD CONSTRAINT {FOREIGN_KEY}"
                        " FOREIGN KEY (station_id) REFERENCES stations (station_id)"
                    )
            ratios.append(took[True] / took[False])
            print(
                f"  merge of {rows} rows: {took[True]:.2f} s with the key, "
                f"{took[False]:.2f} s without",
                flush=True,
            )
        conn.execute("TRUNCATE readings")
    return statistics.median(ratios)


def main() -> None:
    only_fk = "--foreign-key-only" in sys.argv[1:]
    stations = [f"BN-{i:02d}" for i in range(1, N_STATIONS + 1)]
    with bench_services("aqm-bench-", stations) as (pg, mq):
        url = pg.url()
        t0 = datetime(2020, 6, 1, tzinfo=UTC)
        results: dict[str, float] = {}
        print(f"machine: {describe()}")
        if only_fk:  # the foreign key's cost alone, alternated in one run
            merge_ratio = foreign_key_merge_cost(url, t0)
            print(f"  merge time with/without the foreign key (median of 5): {merge_ratio:.2f}")
            if "--merge-only" in sys.argv[1:]:
                return
            proc = start_ingest(url, mq.port)
            try:
                results = foreign_key_cost(url, mq.port, t0)
            finally:
                proc.terminate()
                proc.wait(30)
            print(
                "  ratio with/without the foreign key readings → stations (best of two each): "
                f"{results['fk_single_on'] / results['fk_single_off']:.2f} (1 observation per "
                f"message), {results['fk_batched_on'] / results['fk_batched_off']:.2f} "
                "(100 observations per message)"
            )
            return

        naive_one = payloads(3000, 1, t0, ("pm25",))
        reset(url)
        results["naive_one"] = rate_of(
            "naive bridge, 1 reading per message",
            run_naive(url, mq.port, naive_one),
            len(naive_one),
        )
        naive_msgs = payloads(3000, 1, t0)
        reset(url)
        results["naive"] = rate_of(
            "naive bridge, 1 observation (3 readings) per message",
            run_naive(url, mq.port, naive_msgs),
            3 * len(naive_msgs),
        )

        proc = start_ingest(url, mq.port)
        try:
            for key, label, observations, n_messages in (
                ("single", "aqm ingest, 1 observation (3 readings) per message", 1, 10000),
                ("batched", "aqm ingest, 100 observations (300 readings) per message", 100, 2000),
            ):
                messages = payloads(n_messages, observations, t0)
                n_readings = 3 * observations * n_messages
                reset(url)
                elapsed = until_stored(url, mq.port, messages, n_readings)
                results[key] = rate_of(label, elapsed, n_readings)

            # latency at a fixed offered rate: 1000 readings/s = 333 msgs/s × 3 readings, 3 s
            paced = payloads(3000, 1, t0 + timedelta(days=30))
            reset(url)
            stamps: list[float] = []
            publish(mq.port, paced[: 300 * 10 // 3], rate_msgs=1000 / 3, stamps=stamps)
            sent = paced[: len(stamps)]
            wait_for_count(url, 3 * len(sent), 120)
            with psycopg.connect(url) as conn:
                inserted: dict[str, float] = dict(
                    conn.execute(
                        "SELECT station_id || ts::text, extract(epoch FROM max(inserted_at))::float8"
                        " FROM readings GROUP BY station_id, ts"
                    ).fetchall()
                )
            lat = []
            for (_topic, payload), stamp in zip(sent, stamps, strict=True):
                body = json.loads(payload)
                key = body["station"] + str(
                    datetime.fromisoformat(body["ts"]).astimezone(UTC)
                ).replace("+00:00", "+00")
                if key in inserted:
                    lat.append(inserted[key] - stamp)
            lat.sort()
            p50 = statistics.median(lat)
            p99 = lat[int(0.99 * (len(lat) - 1))]
            print(
                f"  latency at 1000 readings/s offered: p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms"
                f" over {len(lat)} messages",
                flush=True,
            )
            results |= foreign_key_cost(url, mq.port, t0)
        finally:
            proc.terminate()
            proc.wait(30)
        print(
            f"  ratio with/without the foreign key readings → stations (best of two each): "
            f"{results['fk_single_on'] / results['fk_single_off']:.2f} (1 observation per "
            f"message), {results['fk_batched_on'] / results['fk_batched_off']:.2f} "
            "(100 observations per message)"
        )
        print(
            f"  ratio aqm/naive, same workload (1 observation per message): "
            f"{results['single'] / results['naive']:.1f}×"
        )
        print(
            f"  ratio aqm batched payloads / naive (3 readings per message): "
            f"{results['batched'] / results['naive']:.1f}×"
        )
        print(
            f"  ratio aqm batched payloads / naive (1 reading per message): "
            f"{results['batched'] / results['naive_one']:.1f}×"
        )


if __name__ == "__main__":
    main()
