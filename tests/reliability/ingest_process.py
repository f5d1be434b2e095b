"""``aqm ingest`` as a real process: start, SIGKILL, scrape /metrics, sample its memory."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from aqm.localservices import free_port

_SAMPLE = re.compile(r"^(?P<name>[a-z_]+)(?:\{(?P<labels>[^}]*)\})? (?P<value>\S+)$")


class IngestProcess:
    """One ``aqm ingest`` process with a fixed client id; ``restart`` keeps the id."""

    def __init__(self, db_url: str, mqtt_url: str, client_id: str, log: Path, **env: str) -> None:
        self.db_url, self.mqtt_url, self.client_id, self.log = db_url, mqtt_url, client_id, log
        self.extra_env = env
        self.metrics_port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        self.metrics_port = free_port()
        env = dict(
            os.environ,
            AQM_DATABASE_URL=self.db_url,
            AQM_MQTT_URL=self.mqtt_url,
            AQM_MQTT_CLIENT_ID=self.client_id,
            AQM_METRICS_PORT=str(self.metrics_port),
            AQM_BATCH_MAX_AGE_MS="100",
            **self.extra_env,
        )
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "aqm.cli", "ingest"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def restart_after_kill(self) -> None:
        self.kill()
        self.start()

    def stop(self) -> int:
        """SIGTERM; the exit code (0 when it shut down cleanly)."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(30)

    def ensure_stopped(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def metrics(self) -> dict[str, float]:
        """``name`` or ``name{labels}`` → value, from the live /metrics page."""
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            text = response.read().decode()
        out: dict[str, float] = {}
        for line in text.splitlines():
            match = _SAMPLE.match(line)
            if match:
                key = match["name"] + (f"{{{match['labels']}}}" if match["labels"] else "")
                out[key] = float(match["value"])
        return out

    def healthy(self) -> bool:
        try:
            url = f"http://127.0.0.1:{self.metrics_port}/healthz"
            with urllib.request.urlopen(url, timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def wait_healthy(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not self.healthy():
            assert self.proc is not None and self.proc.poll() is None, self.log.read_text()[-2000:]
            assert time.monotonic() < deadline, f"ingest not healthy after {timeout} s"
            time.sleep(0.1)


def counters(metrics: dict[str, float]) -> dict[str, float]:
    """received, stored, duplicate and rejected (all reasons) from a /metrics scrape."""
    rejected = sum(
        v for k, v in metrics.items() if k.startswith("aqm_ingest_readings_rejected_total")
    )
    return {
        "received": metrics.get("aqm_ingest_readings_received_total", 0.0),
        "stored": metrics.get("aqm_ingest_readings_stored_total", 0.0),
        "duplicate": metrics.get("aqm_ingest_readings_duplicate_total", 0.0),
        "rejected": rejected,
    }


def rss_mb(pid: int) -> float | None:
    """Resident memory of a process in MB (VmRSS), None when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


class RssSampler:
    """Samples a process's VmRSS every 50 ms in a thread; ``peak`` in MB."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0.0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            value = rss_mb(self.pid)
            if value is not None:
                self.peak = max(self.peak, value)
                self.samples += 1
            self._stop.wait(0.05)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join(5)
        return self.peak


def forget_session(port: int, client_id: str) -> None:
    """End a persistent session so the broker stops queueing for a finished test."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    try:
        client.connect("127.0.0.1", port, clean_start=True)
        client.loop_start()
        time.sleep(0.2)
        client.disconnect()
        client.loop_stop()
    except OSError:
        pass
