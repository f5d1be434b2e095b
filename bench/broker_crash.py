"""Broker persistence benchmark: what each autosave setting costs, and what a kill -9 loses.

Mosquitto keeps queued messages in memory and writes its whole state to disk every
``autosave_interval`` seconds, or, with ``autosave_on_changes true``, every
``autosave_interval`` changes (a queued message is one). A kill -9 (OOM kill, power cut)
loses what was queued since the last save. For each setting, on the production
configuration (password file and ACL from ``aqm stations credentials``, the example
catalogue's stations logging in as themselves):

1. ingest's persistent session is created and left (ingest away, so messages queue);
2. the stations publish ``--messages`` one-observation messages at QoS 1 as fast as the
   broker acknowledges them: **throughput**, and its ratio to the time-based baseline;
3. right after the last PUBACK the broker gets SIGKILL, is restarted, and ingest's
   session is drained: **lost** = acknowledged to stations but gone.

Run: ``.venv/bin/python -m bench.broker_crash [--messages N]``.
"""

from __future__ import annotations

import argparse
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from bench.machine import describe
from tests.production_broker import INGEST_USERS, ProductionBroker, start_production_broker
from tests.reliability.station_traffic import StationClient, messages

INGEST = INGEST_USERS[0]
# (label, autosave_on_changes, autosave_interval); the first is the ratio's baseline.
SETTINGS: tuple[tuple[str, bool, int], ...] = (
    ("every 60 s (previous setting)", False, 60),
    ("every 5 s", False, 5),
    ("every 1 s", False, 1),
    ("every 1,000 changes", True, 1000),
    ("every 100 changes", True, 100),
    ("every 10 changes", True, 10),
    ("every change", True, 1),
)

BACKLOG_SETTINGS = tuple(s for s in SETTINGS if s[2] in (60, 1000, 100))


@dataclass
class Result:
    label: str
    seconds: float
    sent: int
    lost: int
    save_bytes: int
    backlog: int = 0

    @property
    def rate(self) -> float:
        return self.sent / self.seconds


def with_autosave(broker: ProductionBroker, on_changes: bool, interval: int) -> None:
    """Rewrite the running configuration's autosave lines and restart the broker."""
    text = broker.instance.config_text or ""
    text = re.sub(r"(?m)^autosave_on_changes .*\n", "", text)
    text = re.sub(
        r"(?m)^autosave_interval .*$",
        f"autosave_interval {interval}\nautosave_on_changes {str(on_changes).lower()}",
        text,
    )
    broker.stop()
    broker.instance.config_text = text
    broker.start()


def ingest_session(broker: ProductionBroker, inbox: list[bytes] | None = None) -> mqtt.Client:
    """Connect as ingest with a persistent session and subscribe; acks every message."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=INGEST, protocol=mqtt.MQTTv5)
    client.username_pw_set(INGEST, broker.passwords[INGEST])
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = 3600
    props.ReceiveMaximum = 1000
    subscribed = threading.Event()
    client.on_connect = lambda c, *_: c.subscribe("aqm/v1/stations/+/readings", qos=1)
    client.on_subscribe = lambda *_: subscribed.set()
    if inbox is not None:
        client.on_message = lambda _c, _u, m: inbox.append(bytes(m.payload))
    client.connect("127.0.0.1", broker.port, clean_start=False, properties=props)
    client.loop_start()
    assert subscribed.wait(10), "ingest could not subscribe"
    return client


def close(client: mqtt.Client) -> None:
    client.disconnect()
    client.loop_stop()


def run_one(
    broker: ProductionBroker,
    label: str,
    on_changes: bool,
    interval: int,
    n_messages: int,
    backlog: int = 0,
) -> Result:
    with_autosave(broker, on_changes, interval)
    close(ingest_session(broker))  # ingest away: from now on its messages queue
    stations = broker.stations()
    clients = {s: StationClient(broker, s) for s in stations}
    if backlog:  # queued before the measured messages, and read back too
        before = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(days=3)
        early = messages(stations, backlog // len(stations), start=before, step_s=1)
        for message in early:
            clients[message.station].send(message.payload, message.topic)
        for s in stations:
            clients[s].wait_acked(backlog // len(stations), timeout=1800)
            clients[s].acks = 0
    else:
        early = []
    sent = messages(stations, n_messages // len(stations))
    by_station = {s: [m for m in sent if m.station == s] for s in stations}

    def send(station: str) -> None:
        for message in by_station[station]:
            clients[station].send(message.payload, message.topic)
        clients[station].wait_acked(len(by_station[station]), timeout=600)

    start = time.monotonic()
    threads = [threading.Thread(target=send, args=(s,)) for s in stations]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.monotonic() - start
    broker.kill()  # every message above was acknowledged to its station
    save = broker.data_dir / "mosquitto.db"
    save_bytes = save.stat().st_size if save.exists() else 0
    for client in clients.values():
        client.client.loop_stop()
    broker.start()
    inbox: list[bytes] = []
    ingest = ingest_session(broker, inbox)
    expected = {m.payload for m in sent} | {m.payload for m in early}
    quiet_since, seen = time.monotonic(), 0
    while time.monotonic() - quiet_since < 2.0 and len(set(inbox)) < len(expected):
        if len(inbox) != seen:
            seen, quiet_since = len(inbox), time.monotonic()
        time.sleep(0.1)
    close(ingest)
    lost = len(expected - set(inbox))
    # leave an empty session for the next setting
    forget = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=INGEST, protocol=mqtt.MQTTv5)
    forget.username_pw_set(INGEST, broker.passwords[INGEST])
    forget.connect("127.0.0.1", broker.port, clean_start=True)
    forget.loop_start()
    time.sleep(0.3)
    close(forget)
    return Result(label, seconds, len(sent), lost, save_bytes, len(early))


def report(results: Sequence[Result]) -> str:
    base = results[0]
    lines = [
        "| autosave | messages/s accepted | ratio to baseline | lost by kill -9 | "
        "persistence file at the kill |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.label} | {r.rate:,.0f} | {r.rate / base.rate:.2f} | "
            f"{r.lost:,} of {r.sent + r.backlog:,} | {r.save_bytes / 1e6:.1f} MB |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # not a multiple of any interval, so a save never falls exactly on the last message
    parser.add_argument(
        "--messages",
        type=int,
        default=10_005,
        help="messages published per setting (default 10,005)",
    )
    parser.add_argument(
        "--backlog",
        type=int,
        default=50_000,
        help="messages queued before the measured ones in the second table",
    )
    args = parser.parse_args()
    print(describe())
    root = Path(tempfile.mkdtemp(prefix="aqm-bench-broker-"))
    broker = start_production_broker(root)
    try:
        results = []
        for label, on_changes, interval in SETTINGS:
            result = run_one(broker, label, on_changes, interval, args.messages)
            print(
                f"{label}: {result.rate:,.0f} messages/s, lost {result.lost:,} of {result.sent:,}",
                flush=True,
            )
            results.append(result)
        print()
        print(report(results))
        # The whole state is written at each save, so its cost grows with what is queued.
        backlogged = []
        for label, on_changes, interval in BACKLOG_SETTINGS:
            result = run_one(broker, label, on_changes, interval, args.messages, args.backlog)
            print(
                f"{label}, {args.backlog:,} queued before: {result.rate:,.0f} messages/s, "
                f"lost {result.lost:,} of {result.sent + result.backlog:,}",
                flush=True,
            )
            backlogged.append(result)
        print()
        print(f"With {args.backlog:,} messages already queued for the absent ingest:")
        print(report(backlogged))
    finally:
        broker.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
