"""``aqm ingest``: run the MQTT → TimescaleDB ingest service."""

from __future__ import annotations

import argparse
import logging

from aqm.cli import CliError
from aqm_core.defaults import DEFAULT_METRICS_PORT


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "ingest",
        help="run the ingest service (MQTT → TimescaleDB)",
        description=(
            "Subscribe to station readings (QoS 1, persistent session, manual acks), validate "
            "them, store them in batches and acknowledge each message only after its batch is "
            "committed. Serves Prometheus metrics and /healthz on AQM_METRICS_HOST (default "
            "127.0.0.1) and AQM_METRICS_PORT. "
            "SIGTERM/SIGINT: finish the batch in flight, commit, ack, disconnect, exit 0. "
            "Configured by AQM_* variables (see README)."
        ),
    )
    p.add_argument(
        "--client-id", help="MQTT client id (default AQM_MQTT_CLIENT_ID); unique per instance"
    )
    p.add_argument(
        "--shared-group", help="join the shared subscription $share/GROUP/… to split the load"
    )
    p.add_argument(
        "--metrics-port", type=int, metavar="PORT",
        help="port for /metrics and /healthz (default: AQM_METRICS_PORT if set, else "
             f"{DEFAULT_METRICS_PORT}; 0: off)",
    )  # fmt: skip
    p.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    import asyncio
    import signal

    from aqm_core.settings import load_settings
    from ingest.metrics import IngestMetrics, serve_http
    from ingest.service import IngestService

    settings = load_settings(
        options={
            "mqtt_client_id": ("--client-id", args.client_id or None),
            "mqtt_shared_group": ("--shared-group", args.shared_group or None),
            "metrics_port": ("--metrics-port", args.metrics_port),
        }
    )
    logging.getLogger("aqm").setLevel(min(logging.getLogger().level, logging.INFO))
    metrics = IngestMetrics()
    service = IngestService(settings, metrics)
    try:
        server = (
            serve_http(metrics, settings.metrics_port, metrics.healthy, settings.metrics_host)
            if settings.metrics_port
            else None
        )
    except OSError as exc:  # in use, or privileged
        where = "--metrics-port" if args.metrics_port is not None else "AQM_METRICS_PORT"
        raise CliError(
            f"{where} {settings.metrics_port} (AQM_METRICS_HOST "
            f"{settings.metrics_host}): cannot listen: {exc.strerror}"
        ) from exc

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await service.run(stop)

    try:
        asyncio.run(main())
    finally:
        if server:
            server.shutdown()
    return 0
