"""`aqm run` (what `make run` starts): data flows within a minute; Ctrl-C stops everything."""

from __future__ import annotations

import json
import os
import re
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from aqm.localservices import free_port, port_open
from tests.run.pipeline import run_until_vn_aqi

pytestmark = [pytest.mark.services, pytest.mark.slow, pytest.mark.timeout(240)]


def test_pipeline_shows_readings_and_vn_aqi_then_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    pg_port, mqtt_port = free_port(), free_port()
    env = dict(
        os.environ,
        AQM_DATA_DIR=str(tmp_path / "aqm"),
        AQM_OPENDATA_DIR=str(tmp_path / "opendata"),
        AQM_PG_PORT=str(pg_port),
        AQM_MQTT_PORT=str(mqtt_port),
        AQM_METRICS_PORT=str(free_port()),
        AQM_DATABASE_URL=f"postgresql://postgres@127.0.0.1:{pg_port}/aqm",
        AQM_MQTT_URL=f"mqtt://127.0.0.1:{mqtt_port}",
        AQM_FTP_PORT=str(free_port()),
        AQM_WEB_PORT=str(web_port := free_port()),
        AQM_FTP_PASSIVE_PORTS="{0}-{0}".format(free_port()),
        COLUMNS="160",
    )
    page = f"http://127.0.0.1:{web_port}/"
    finished, current = run_until_vn_aqi(
        env, lambda: _public_document(f"{page}api/v1/current"), within_s=150, stop_timeout_s=60
    )
    text = finished.text
    assert finished.readings > 0 and finished.aqi_values > 0, text[-3000:]
    assert f"web: open {page}" in text
    assert current is not None, text[-3000:]
    assert current["type"] == "FeatureCollection" and current["features"], current
    finished.assert_stopped_cleanly()
    assert not port_open(pg_port) and not port_open(mqtt_port), "services left running"
    # one simulated station delivered Circular 10 files by FTP, stored by aqm ftp
    for child in ("ftp", "datalogger \\(FTP\\)"):
        assert re.search(rf"{child} stopped \(exit (0|-15)\)", text), f"{child} did not stop"
    ftp_log = (tmp_path / "aqm" / "run" / "logs" / "ftp.log").read_text()
    assert re.search(r"\d+ files stored: [1-9]\d* readings new", ftp_log), ftp_log[-2000:]


def _public_document(url: str, patience_s: float = 60.0) -> Any:
    """The JSON at ``url`` of the public page, once aqm web listens (it starts with the rest)."""
    deadline = time.monotonic() + patience_s
    while True:
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                return json.load(response)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
