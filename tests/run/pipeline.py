"""Drive `aqm run` as a person does: start it, watch its status until readings and VN_AQI
appear, look at something while it runs, then press Ctrl-C."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

TOTALS = re.compile(r"readings stored ([\d,]+) .*hourly VN_AQI values ([\d,]+)")
RUN = ["run", "--no-live", "--speedup", "1200", "--history-hours", "6"]
CHILDREN = ("ingest", "worker", "web", "simulator")


@dataclass(frozen=True)
class Finished:
    """What `aqm run` printed and how it ended."""

    text: str
    returncode: int | None
    readings: int
    aqi_values: int

    def assert_stopped_cleanly(self) -> None:
        assert self.returncode == 0, self.text[-3000:]
        for child in CHILDREN:
            assert re.search(rf"{child} stopped \(exit (0|-15)\)", self.text), (
                f"{child} did not stop cleanly"
            )


def run_until_vn_aqi(
    env: dict[str, str], probe: Callable[[], T], within_s: float, stop_timeout_s: float
) -> tuple[Finished, T | None]:
    """Run `aqm run` until its status shows readings and VN_AQI (at most ``within_s``),
    call ``probe`` while it still runs, then send SIGINT (Ctrl-C) and wait for the end."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "aqm", *RUN],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    output: list[str] = []
    readings = aqi_values = 0
    seen: T | None = None
    started = time.monotonic()
    try:
        for line in proc.stdout:
            output.append(line)
            if match := TOTALS.search(line):
                readings, aqi_values = (int(g.replace(",", "")) for g in match.groups())
                if readings and aqi_values:
                    seen = probe()
                    break
            assert time.monotonic() - started < within_s, (
                f"no VN_AQI within {within_s:.0f} s:\n" + "".join(output[-40:])
            )
        proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
        rest, _ = proc.communicate(timeout=stop_timeout_s)
    finally:
        if proc.poll() is None:
            proc.kill()
    output.append(rest)
    return Finished("".join(output), proc.returncode, readings, aqi_values), seen
