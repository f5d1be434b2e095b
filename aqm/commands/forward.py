"""``aqm forward``: send every station's Circular 10 files to the Ministry (or any FTP
destination), and read the delivery log."""

from __future__ import annotations

import argparse
import logging
from datetime import datetime
from pathlib import Path
from types import FrameType

from aqm.cli import CliError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "forward",
        help="forward Circular 10 files to the Ministry's FTP server; read the delivery log",
        description=(
            "Forward each station's data to the destinations of a TOML file "
            "(AQM_FORWARD_CONFIG or --config; format in docs/ftp.md): files received by "
            "FTP as received, and for stations that publish over MQTT a Circular 10 file "
            "per measurement time built from the stored readings. Oldest first; a "
            "destination that is down is retried with backoff and catches up in time "
            "order; a delivery is recorded (forward_deliveries) only after the server "
            "confirmed it. `aqm forward log` shows the log of a station or file."
        ),
    )
    p.add_argument(
        "--config", type=Path, metavar="FILE", help="destinations file (default AQM_FORWARD_CONFIG)"
    )
    p.add_argument(
        "--metrics-port",
        type=int,
        metavar="PORT",
        help="Prometheus /metrics (default AQM_FORWARD_METRICS_PORT; 0: off)",
    )
    p.set_defaults(handler=_run)
    actions = p.add_subparsers(dest="forward_command", metavar="ACTION")
    log_cmd = actions.add_parser(
        "log",
        help="the delivery log of a station (or a file) over a period",
        description=(
            "Print what was forwarded for a station between two local times: per file and "
            "destination, when aqm had the data, attempts, first and last error, when the "
            "destination confirmed it and the delay. Answers the Ministry's question "
            "'where is file X?'."
        ),
    )
    log_cmd.add_argument("--station", help="station id")
    log_cmd.add_argument("--file", dest="file_name", help="a file name (or part of it)")
    log_cmd.add_argument(
        "--from",
        dest="start",
        metavar="LOCAL_TIME",
        help="first measurement time, e.g. 2025-03-01T08:00",
    )
    log_cmd.add_argument("--to", dest="end", metavar="LOCAL_TIME", help="last measurement time")
    log_cmd.add_argument("--destination", help="only this destination")
    log_cmd.add_argument("--database-url", help="override AQM_DATABASE_URL")
    log_cmd.set_defaults(handler=_log)


def _run(args: argparse.Namespace) -> int:
    import signal
    import threading

    from prometheus_client import start_http_server

    from aqm_core.settings import load_settings
    from forward.config import load_destinations
    from forward.metrics import ForwardMetrics
    from forward.sender import Forwarder

    settings = load_settings(options={
        "forward_config": ("--config", args.config),
        "forward_metrics_port": ("--metrics-port", args.metrics_port),
    })  # fmt: skip
    logging.getLogger("aqm").setLevel(min(logging.getLogger().level, logging.INFO))
    if settings.forward_config is None:
        raise CliError("no destinations: set AQM_FORWARD_CONFIG or give --config FILE")
    destinations = load_destinations(settings.forward_config)
    metrics = ForwardMetrics()
    if settings.forward_metrics_port:
        try:
            start_http_server(
                settings.forward_metrics_port, addr=settings.metrics_host, registry=metrics.registry
            )
        except OSError as exc:
            raise CliError(
                f"AQM_FORWARD_METRICS_PORT {settings.forward_metrics_port}: "
                f"cannot listen: {exc.strerror}"
            ) from exc
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    threads = []
    for destination in destinations:
        forwarder = Forwarder(settings.database_url, destination, metrics, settings.timezone)
        thread = threading.Thread(
            target=forwarder.run, args=(stop,), name=f"forward-{destination.name}"
        )
        thread.start()
        threads.append(thread)
        logging.getLogger("aqm.forward").info(
            "forwarding to %s (%s:%d, %s)",
            destination.name,
            destination.host,
            destination.port,
            "TLS" if destination.tls else "no TLS",
        )
    while any(t.is_alive() for t in threads):
        for t in threads:
            t.join(0.5)
    return 0


LOG_SQL = """
SELECT destination, station_id, measured_at, remote_path || '/' || file_name, origin,
       available_at, attempts, first_error, last_error, delivered_at,
       delivered_at - available_at, given_up_at
FROM forward_deliveries
WHERE (%(station)s::text IS NULL OR station_id = %(station)s)
  AND (%(file)s::text IS NULL OR file_name LIKE '%%' || %(file)s || '%%')
  AND (%(start)s::timestamptz IS NULL OR measured_at >= %(start)s)
  AND (%(end)s::timestamptz IS NULL OR measured_at <= %(end)s)
  AND (%(destination)s::text IS NULL OR destination = %(destination)s)
ORDER BY measured_at, destination
LIMIT 5000
"""


def _log(args: argparse.Namespace) -> int:
    from zoneinfo import ZoneInfo

    import psycopg
    from rich.console import Console
    from rich.table import Table

    from aqm.commands.db import settings_with_database_url

    settings = settings_with_database_url(args.database_url)
    tz = ZoneInfo(settings.timezone)

    def when(text: str | None, option: str) -> datetime | None:
        if text is None:
            return None
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise CliError(
                f"{option} {text!r}: expected a local time such as 2025-03-01T08:00"
            ) from None
        return value if value.tzinfo else value.replace(tzinfo=tz)

    params = {
        "station": args.station,
        "file": args.file_name,
        "start": when(args.start, "--from"),
        "end": when(args.end, "--to"),
        "destination": args.destination,
    }
    try:
        with psycopg.connect(settings.database_url, connect_timeout=5) as conn:
            rows = conn.execute(LOG_SQL, params).fetchall()
    except psycopg.errors.UndefinedTable as exc:
        raise CliError("no forward_deliveries table; run `aqm db migrate`") from exc
    table = Table(title="forward_deliveries")
    for column in (
        "destination",
        "station",
        "measured (local)",
        "file",
        "from",
        "available",
        "attempts",
        "first error",
        "last error",
        "delivered",
        "delay",
    ):
        table.add_column(column)
    for (
        dest,
        station,
        measured,
        path,
        origin,
        available,
        attempts,
        first,
        last,
        delivered,
        delay,
        given_up,
    ) in rows:
        state = (
            delivered.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")
            if delivered
            else "GIVEN UP"
            if given_up
            else "pending"
        )
        table.add_row(
            dest,
            station,
            measured.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S"),
            path,
            origin,
            available.astimezone(tz).strftime("%H:%M:%S"),
            str(attempts),
            first or "",
            last or "",
            state,
            f"{delay.total_seconds():.0f} s" if delay is not None else "",
        )
    Console(width=200).print(table)
    print(f"{len(rows)} deliveries")
    return 0
