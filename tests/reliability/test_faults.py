"""Faults during a stream of 100,800 readings from 20 simulated stations.

Each scenario runs ``aqm ingest`` as a real process on the fault lab's own TimescaleDB
and Mosquitto, publishes the same stream through a publisher with a persistent session,
injects its fault, and then checks: ``readings`` holds exactly the published readings
(none lost, none twice); the counters of the ingest process reconcile (received = stored
+ duplicates + rejected); after the AQI worker drains the queue, ``hourly``,
``aqi_hourly`` and ``aqi_daily`` equal those of a clean run of the same readings.
Figures go to the test log (``-s``) and to docs/reliability.md.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from .conftest import FaultLab
from .convergence import (
    count,
    drain,
    drain_with_workers,
    ingest_cleanly,
    snapshot,
    stored_readings,
)
from .ingest_process import IngestProcess, RssSampler, counters, forget_session
from .stream import DurablePublisher, Stream, build_stream, stream_start

pytestmark = [pytest.mark.services, pytest.mark.slow]

N_STATIONS = 20
HOURS = 105  # 20 stations × 105 messages × 48 readings = 100,800 readings
PACED_RATE = 140.0  # messages/s: the stream lasts ~15 s, long enough to fault it


@dataclass(frozen=True)
class Reference:
    snapshot: dict[str, list[tuple[object, ...]]]
    worker_now: datetime
    rows: dict[str, int]


@pytest.fixture(scope="session")
def stream() -> Stream:
    s = build_stream(N_STATIONS, HOURS, stream_start(days_ago=9))
    assert s.n_readings >= 100_000
    return s


@pytest.fixture(scope="session")
def reference(fault_lab: FaultLab, stream: Stream) -> Reference:
    """The clean run: same readings, no fault, one worker drain."""
    db = fault_lab.new_database(stream.stations)
    url = fault_lab.url(db)
    ingest_cleanly(url, [stream.probe, *stream.messages], stream.stations)
    assert count(url, "SELECT count(*) FROM readings") == stream.n_readings
    now = datetime.now(UTC)
    drain(fault_lab.url(db, "aqm_worker"), now)
    snap = snapshot(url)
    assert all(snap.values()), {k: len(v) for k, v in snap.items()}
    return Reference(snap, now, {k: len(v) for k, v in snap.items()})


class Run:
    """One fault run: its database, its ingest process and a durable publisher."""

    def __init__(self, lab: FaultLab, stream: Stream, log: Path, **env: str) -> None:
        self.lab, self.stream = lab, stream
        self.db = lab.new_database(stream.stations)
        self.url = lab.url(self.db)
        self.client_id = f"aqm-ingest-fault-{uuid.uuid4().hex[:8]}"
        self.ingest = IngestProcess(self.url, lab.broker.url(), self.client_id, log, **env)
        self.publisher = DurablePublisher(lab.broker.port, f"rel-pub-{uuid.uuid4().hex[:8]}")
        self.published = 0
        self.final_metrics: dict[str, float] = {}
        deadline = time.monotonic() + 30
        while count(self.url, "SELECT count(*) FROM readings") < 1:  # then it is subscribed
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            self.publisher.publish([stream.probe])
            self.published += 1
            time.sleep(0.3)

    def publish_in_background(self, rate: float | None) -> threading.Thread:
        thread = threading.Thread(
            target=self.publisher.publish, args=(self.stream.messages, rate), daemon=True
        )
        self.published += len(self.stream.messages)
        thread.start()
        return thread

    def wait_stored(self, timeout: float) -> float:
        """Wait until every message is acked by the broker and every reading stored."""
        started = time.monotonic()
        self.publisher.wait_acked(self.published, timeout)
        n = self.stream.n_readings
        while (stored := count(self.url, "SELECT count(*) FROM readings")) < n:
            assert time.monotonic() - started < timeout, f"{stored} of {n} readings stored"
            time.sleep(0.2)
        return time.monotonic() - started

    def check_exactly_once(self, rejects: int = 0) -> None:
        time.sleep(1.0)  # a late redelivery must not add a row
        rows = stored_readings(self.url)
        duplicated = [k for k, c in Counter(rows).items() if c > 1]
        assert not duplicated, duplicated[:5]
        stored = set(rows)
        missing = self.stream.expected - stored
        extra = stored - self.stream.expected
        assert not missing and not extra, (sorted(missing)[:5], sorted(extra)[:5])
        assert count(self.url, "SELECT count(*) FROM rejected_messages") == rejects

    def check_counters(self, whole_stream: bool) -> dict[str, float]:
        self.final_metrics = self.ingest.metrics()
        c = counters(self.final_metrics)
        assert c["received"] == c["stored"] + c["duplicate"] + c["rejected"], c
        if whole_stream:  # one process saw the whole stream: it stored every reading once
            assert c["stored"] == self.stream.n_readings, c
        return c

    def check_convergence(self, reference: Reference) -> float:
        started = time.monotonic()
        drain(self.lab.url(self.db, "aqm_worker"), reference.worker_now)
        got = snapshot(self.url)
        for table, rows in reference.snapshot.items():
            assert len(got[table]) == len(rows), (table, len(got[table]), len(rows))
            diff = [(a, b) for a, b in zip(got[table], rows, strict=True) if a != b]
            assert not diff, (table, len(diff), diff[:2])
        return time.monotonic() - started

    def finish(self) -> None:
        assert self.ingest.stop() == 0, "ingest did not exit cleanly on SIGTERM"
        self.publisher.close()
        forget_session(self.lab.broker.port, self.client_id)

    def abandon(self) -> None:
        self.ingest.ensure_stopped()
        self.publisher.close()
        forget_session(self.lab.broker.port, self.client_id)


def run_scenario(
    lab: FaultLab,
    stream: Stream,
    reference: Reference,
    tmp_path: Path,
    fault: Callable[[Run, float], str],
    rate: float | None = PACED_RATE,
    whole_stream: bool = True,
    **env: str,
) -> Run:
    run = Run(lab, stream, tmp_path / "ingest.log", **env)
    try:
        started = time.monotonic()
        publishing = run.publish_in_background(rate)
        what = fault(run, started)
        publishing.join(120)
        converge = run.wait_stored(timeout=150)
        total = time.monotonic() - started
        run.check_exactly_once()
        c = run.check_counters(whole_stream)
        aqi_s = run.check_convergence(reference)
        print(
            f"\n[{what}] {stream.n_readings} readings in {len(stream.messages)} messages; "
            f"all stored {total:.1f} s after the first publish ({converge:.1f} s after the "
            f"last); counters of the last process {c}; worker drain {aqi_s:.1f} s; "
            f"AQI rows {reference.rows}"
        )
        run.finish()
        return run
    except BaseException:
        run.abandon()
        raise


@pytest.mark.timeout(240)
def test_five_sigkills_lose_nothing_and_store_nothing_twice(
    fault_lab: FaultLab, stream: Stream, reference: Reference, tmp_path: Path
) -> None:
    duration = len(stream.messages) / PACED_RATE
    rng = random.Random(20250301)
    moments = sorted(rng.uniform(0.5, duration - 1.0) for _ in range(5))
    kills: list[float] = []

    def kill_five_times(run: Run, started: float) -> str:
        for moment in moments:
            # at least 1.2 s between kills: the new process must be running to be killed
            at = max(moment, (kills[-1] + 1.2) if kills else 0.0)
            time.sleep(max(0.0, started + at - time.monotonic()))
            run.ingest.restart_after_kill()
            kills.append(time.monotonic() - started)
        return "5 × SIGKILL at " + ", ".join(f"{k:.1f}" for k in kills) + " s"

    run_scenario(fault_lab, stream, reference, tmp_path, kill_five_times, whole_stream=False)
    assert len(kills) == 5


@pytest.mark.timeout(240)
def test_database_restart_mid_stream(
    fault_lab: FaultLab, stream: Stream, reference: Reference, tmp_path: Path
) -> None:
    def restart_database(run: Run, started: float) -> str:
        time.sleep(len(stream.messages) / PACED_RATE * 0.4)
        t = time.monotonic()
        fault_lab.pg.restart("fast")
        return (
            f"TimescaleDB fast restart at {t - started:.1f} s (down {time.monotonic() - t:.1f} s)"
        )

    run = run_scenario(fault_lab, stream, reference, tmp_path, restart_database)
    assert run.final_metrics["aqm_ingest_db_errors_total"] >= 1  # the restart did hit ingest


@pytest.mark.timeout(240)
def test_broker_restart_mid_stream(
    fault_lab: FaultLab, stream: Stream, reference: Reference, tmp_path: Path
) -> None:
    reconnects: list[int] = []

    def restart_broker(run: Run, started: float) -> str:
        time.sleep(len(stream.messages) / PACED_RATE * 0.5)
        t = time.monotonic()
        fault_lab.broker.restart()
        reconnects.append(0)
        return f"Mosquitto restart at {t - started:.1f} s (down {time.monotonic() - t:.1f} s)"

    run = run_scenario(fault_lab, stream, reference, tmp_path, restart_broker)
    assert run.publisher.reconnects >= 1  # the publisher really lost its connection


BALLAST_MESSAGES = 240
BALLAST_BYTES = 2_500_000  # each above AQM_MAX_PAYLOAD_BYTES (1 MiB): rejected unread
MAX_UNACKED = 20
RSS_BOUND_MB = 400


def interleave(
    messages: list[tuple[str, bytes]], ballast: list[tuple[str, bytes]]
) -> list[tuple[str, bytes]]:
    """A ballast message after every ninth message of the stream."""
    ballast = list(ballast)
    mixed: list[tuple[str, bytes]] = []
    for i, message in enumerate(messages):
        mixed.append(message)
        if i % 9 == 8 and ballast:
            mixed.append(ballast.pop())
    return mixed + ballast


@pytest.mark.timeout(240)
@pytest.mark.parametrize(
    "n_ballast",
    [0, BALLAST_MESSAGES],
    ids=["stream-only", "with-600MB-of-oversized-payloads"],
)
def test_burst_far_beyond_what_the_database_absorbs(
    fault_lab: FaultLab, stream: Stream, reference: Reference, tmp_path: Path, n_ballast: int
) -> None:
    """The whole stream at full speed (and, in the second case, 600 MB of oversized
    payloads between its messages), offered at once.

    With the ballast the backlog (~610 MB) is far larger than the bound: an ingest that
    took in everything the broker offered would exceed it. With ``AQM_MAX_UNACKED=20``
    the broker should hold the backlog and ingest's memory should stay flat.
    """
    ballast = [
        (
            f"aqm/v1/stations/{stream.stations[i % N_STATIONS]}/readings",
            f"{i:08d}".encode() + b"x" * BALLAST_BYTES,
        )
        for i in range(n_ballast)
    ]
    mixed = interleave(stream.messages, ballast)
    backlog_mb = sum(len(p) for _, p in mixed) / 1e6
    env = {"AQM_MAX_UNACKED": str(MAX_UNACKED)} if n_ballast else {}
    run = Run(fault_lab, stream, tmp_path / "ingest.log", **env)
    try:
        sampler = RssSampler(run.ingest.pid)
        started = time.monotonic()
        run.publisher.publish(mixed)
        run.published += len(mixed)
        run.publisher.wait_acked(run.published, 120)
        offered_s = time.monotonic() - started  # until the broker held all of it
        run.wait_stored(timeout=200)
        total = time.monotonic() - started
        peak = sampler.stop()
        print(
            f"\n[burst, {n_ballast} oversized] {stream.n_readings} readings ({backlog_mb:.0f} MB "
            f"backlog) accepted by the broker in {offered_s:.1f} s "
            f"({stream.n_readings / offered_s:.0f} readings/s offered); all stored after "
            f"{total:.1f} s ({stream.n_readings / total:.0f} readings/s absorbed); ingest RSS "
            f"peak {peak:.0f} MB ({sampler.samples} samples; {env or 'default settings'})"
        )
        run.check_exactly_once(rejects=n_ballast)
        c = run.check_counters(whole_stream=True)
        assert c["rejected"] == n_ballast
        aqi_s = run.check_convergence(reference)
        print(f"  counters {c}; worker drain {aqi_s:.1f} s")
        # How much faster it was offered than absorbed is printed above, not asserted:
        # it depends on the machine's load, and tests never fail on timing.
        if n_ballast:
            assert backlog_mb > 1.5 * RSS_BOUND_MB
        assert peak < RSS_BOUND_MB, f"ingest RSS reached {peak:.0f} MB"
        run.finish()
    except BaseException:
        run.abandon()
        raise


@pytest.mark.timeout(240)
def test_three_ingest_instances_and_two_workers_give_the_single_instance_result(
    fault_lab: FaultLab, stream: Stream, reference: Reference, tmp_path: Path
) -> None:
    """Three ``aqm ingest`` on ``$share/ingest/…``, one SIGKILLed mid-stream, then two AQI
    workers on one queue: the same readings and AQI rows as the clean single run."""
    db = fault_lab.new_database(stream.stations)
    url = fault_lab.url(db)
    group = f"ingest{uuid.uuid4().hex[:6]}"
    ids = [f"aqm-ingest-{group}-{i}" for i in range(3)]
    instances = [
        IngestProcess(
            url,
            fault_lab.broker.url(),
            cid,
            tmp_path / f"ingest-{i}.log",
            AQM_MQTT_SHARED_GROUP=group,
        )
        for i, cid in enumerate(ids)
    ]
    publisher = DurablePublisher(fault_lab.broker.port, f"rel-pub-{group}")
    try:
        for instance in instances:
            instance.wait_healthy()
        published = 0
        deadline = time.monotonic() + 30
        while count(url, "SELECT count(*) FROM readings") < 1:
            assert time.monotonic() < deadline, "the shared subscription never delivered"
            publisher.publish([stream.probe])
            published += 1
            time.sleep(0.3)
        time.sleep(1.0)  # every instance has subscribed by now (healthy + probe + margin)
        started = time.monotonic()
        thread = threading.Thread(target=publisher.publish, args=(stream.messages, PACED_RATE * 2))
        thread.start()
        time.sleep(3.0)
        instances[1].restart_after_kill()  # a crash in a group: its unacked share comes back
        thread.join(60)
        published += len(stream.messages)
        publisher.wait_acked(published, 60)
        while count(url, "SELECT count(*) FROM readings") < stream.n_readings:
            assert time.monotonic() - started < 120, "readings missing"
            time.sleep(0.2)
        ingest_s = time.monotonic() - started
        time.sleep(1.0)
        rows = stored_readings(url)
        assert len(rows) == len(set(rows)) and set(rows) == stream.expected
        shares = [counters(i.metrics())["received"] for i in instances]
        assert sum(1 for s in shares if s > 0) >= 2, shares  # the load was really shared
        worker_s = drain_with_workers(
            fault_lab.url(db, "aqm_worker"), reference.worker_now, n=2, batch_hours=100
        )
        got = snapshot(url)
        for table, expected_rows in reference.snapshot.items():
            assert got[table] == expected_rows, table
        print(
            f"\n[scale-out] 3 ingest instances (one SIGKILLed at 3 s): {stream.n_readings} "
            f"readings stored once in {ingest_s:.1f} s; items received per instance since "
            f"its last start {shares}; 2 workers drained the queue in {worker_s:.1f} s "
            f"(claims of 100 station-hours); AQI tables equal the clean run"
        )
        for instance in instances:
            assert instance.stop() == 0
    finally:
        for instance in instances:
            instance.ensure_stopped()
        publisher.close()
        for cid in ids:
            forget_session(fault_lab.broker.port, cid)
