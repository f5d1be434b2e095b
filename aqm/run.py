"""``aqm run``: the whole pipeline on local services, with a live status in the terminal.

Starts the private TimescaleDB and broker (Mosquitto, or RabbitMQ with
``AQM_BROKER=rabbitmq``), migrates the schema, loads the station
catalogue, then runs the ingest service, the AQI worker and the station simulator as
child processes (their logs go to ``<data_dir>/run/logs``). Ctrl-C stops the children
(each finishes its work in flight), then the services.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from aqi.categories import VN_CATEGORIES
from aqi.pollutants import DISPLAY_NAMES
from aqm.local_rabbitmq import RabbitMQInstance
from aqm.localservices import MosquittoInstance, PostgresInstance
from aqm_core.settings import Settings


@dataclass
class Child:
    name: str
    argv: list[str]
    log: Path
    process: subprocess.Popen[bytes] | None = None
    url: str | None = None  # where a person opens what the child serves

    def start(self, env: dict[str, str]) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "aqm", *self.argv],
                env=env,
                stdout=out,
                stderr=out,
                start_new_session=True,  # Ctrl-C reaches us; we stop the children in order
            )

    def stop(self, timeout: float = 30.0) -> int | None:
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else None
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    @property
    def state(self) -> str:
        if self.process is None:
            return "not started"
        code = self.process.poll()
        return "running" if code is None else f"exited ({code})"


STATUS_SQL = """
SELECT s.station_id, s.name, seen.last_seen, seen.n_recent, a.hour, a.aqi, a.category, a.dominant
FROM stations s
LEFT JOIN (
    SELECT station_id, max(inserted_at) AS last_seen,
           count(*) FILTER (WHERE inserted_at > now() - interval '1 minute') AS n_recent
    FROM readings WHERE inserted_at > now() - interval '1 hour' GROUP BY station_id
) seen USING (station_id)
LEFT JOIN LATERAL (
    SELECT hour, aqi, category, dominant FROM aqi_hourly
    WHERE station_id = s.station_id AND standard = 'vn_1459_2019' AND aqi IS NOT NULL
    ORDER BY hour DESC LIMIT 1
) a ON true
WHERE s.status = 'active'
ORDER BY s.station_id
"""

TOTALS_SQL = """
SELECT (SELECT count(*) FROM readings),
       (SELECT count(*) FROM readings WHERE inserted_at > now() - interval '1 minute'),
       (SELECT count(*) FROM rejected_messages),
       (SELECT count(*) FROM aqi_hourly WHERE aqi IS NOT NULL),
       (SELECT count(*) FROM aqi_dirty_hours)
"""


def status_view(
    conn: psycopg.Connection[tuple[object, ...]], children: Sequence[Child], settings: Settings
) -> Group:

    totals = conn.execute(TOTALS_SQL).fetchone() or (0, 0, 0, 0, 0)
    header = Text.assemble(
        ("aqm ", "bold"),
        f"readings stored {totals[0]:,} ({totals[1]:,} in the last minute) · ",
        f"rejected {totals[2]:,} · hourly VN_AQI values {totals[3]:,} · "
        f"queued station-hours {totals[4]:,}",
    )
    procs = Text("  ".join(f"{c.name}: {c.state}" for c in children), style="dim")
    pages = Text("  ".join(f"{c.name}: {c.url}" for c in children if c.url), style="bold")
    table = Table(title="Trạm quan trắc — VN_AQI giờ mới nhất", expand=False)
    table.add_column("Trạm", no_wrap=True)
    table.add_column("Tên", no_wrap=True, overflow="ellipsis", max_width=32)
    for title in ("Nhận lúc", "/phút", "Giờ AQI", "VN_AQI", "Mức", "Chất chính"):
        table.add_column(title, no_wrap=True, min_width=len(title))
    tz = ZoneInfo(settings.timezone)
    for sid, name, last_seen, n_recent, hour, aqi, category, dominant in conn.execute(STATUS_SQL):
        cat = VN_CATEGORIES[int(category) - 1] if category else None  # type: ignore[call-overload]
        style = f"black on {cat.hex}" if cat else ""
        table.add_row(
            str(sid),
            str(name),
            last_seen.astimezone(tz).strftime("%H:%M:%S") if last_seen else "—",  # type: ignore[attr-defined]
            str(n_recent or 0),
            hour.astimezone(tz).strftime("%d/%m %H:00") if hour else "—",  # type: ignore[attr-defined]
            Text(str(aqi) if aqi is not None else "—", style=style),
            Text(cat.name_vi if cat else "chưa có", style=style),
            DISPLAY_NAMES.get(str(dominant), "—"),
        )
    logs = Text(f"logs: {settings.data_dir / 'run' / 'logs'}   Ctrl-C to stop", style="dim")
    return Group(header, procs, pages, table, logs)


def run_pipeline(
    settings: Settings,
    pg: PostgresInstance,
    mq: MosquittoInstance | RabbitMQInstance,
    children: list[Child],
    duration: float | None,
    live: bool,
) -> int:
    # a log file or pipe gets a table wide enough to read; a terminal keeps its width
    console = Console() if sys.stdout.isatty() else Console(width=132)
    env = dict(
        os.environ,
        AQM_DATABASE_URL=pg.url(),
        AQM_MQTT_URL=mq.url(),
        AQM_DATA_DIR=str(settings.data_dir),
        AQM_PG_PORT=str(settings.pg_port),
        AQM_MQTT_PORT=str(settings.mqtt_port),
        AQM_STATIONS_FILE=str(settings.stations_file),
    )
    if isinstance(mq, RabbitMQInstance):
        env.update(mq.client_env())
        console.log(
            f"broker: RabbitMQ node {mq.node.nodename}, MQTT 127.0.0.1:{mq.port}, "
            f"AMQP 127.0.0.1:{mq.amqp_port}, queue {mq.queue} (log {mq.logfile})"
        )
    for child in children:
        child.start(env)
        console.log(f"started {child.name}: aqm {' '.join(child.argv)} (log {child.log})")
        if child.url:
            console.log(f"{child.name}: open {child.url}")
    deadline = time.monotonic() + duration if duration else None
    try:
        with psycopg.connect(pg.url(), autocommit=True) as conn:
            if live:
                with Live(
                    status_view(conn, children, settings),
                    console=console,
                    refresh_per_second=1,
                    screen=False,
                ) as view:
                    while deadline is None or time.monotonic() < deadline:
                        time.sleep(2)
                        view.update(status_view(conn, children, settings))
            else:
                while deadline is None or time.monotonic() < deadline:
                    time.sleep(5)
                    console.print(status_view(conn, children, settings))
    except KeyboardInterrupt:
        console.log("stopping…")
    finally:
        for child in reversed(children):
            code = child.stop()
            console.log(f"{child.name} stopped (exit {code})")
    failed = [c for c in children if c.process and c.process.returncode not in (0, -signal.SIGTERM)]
    return 1 if failed else 0
