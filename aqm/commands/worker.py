"""``aqm worker``: keep the hourly means and the hourly/daily AQI tables current."""

from __future__ import annotations

import argparse
import logging

from aqm.cli import CliError
from aqm.commands.db import database_error, settings_with_database_url


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "worker",
        help="run the AQI worker (dirty station-hours → hourly, aqi_hourly, aqi_daily)",
        description=(
            "Claim the station-hours ingest marked dirty (FOR UPDATE SKIP LOCKED, so several "
            "workers may run), recompute their hourly means and the VN_AQI (vn_1459_2019) "
            "and US AQI (us_epa_2024) of every hour and local day that depends on them, and "
            "upsert hourly, aqi_hourly and aqi_daily in one transaction per claim. "
            "SIGTERM/SIGINT: finish the claim in flight, commit, exit 0. Connects with "
            "AQM_DATABASE_URL (production: the aqm_worker role); AQM_WORKER_BATCH_HOURS, "
            "AQM_WORKER_POLL_S, AQM_HOURLY_MIN_COMPLETENESS and AQM_TIMEZONE apply. "
            "With AQM_WORKER_METRICS_PORT, it also serves missing samples per station "
            "over the last 24 h on /metrics (docs/gaps.md). It rewrites the open data "
            "files of station-years whose data changed in AQM_OPENDATA_DIR, each at most "
            "once per AQM_OPENDATA_INTERVAL_S (docs/opendata.md)."
        ),
    )
    p.add_argument(
        "--once", action="store_true", help="drain the queue, then exit (instead of polling)"
    )
    p.add_argument(
        "--batch-hours", type=int, metavar="N",
        help="dirty station-hours per claim (default AQM_WORKER_BATCH_HOURS)",
    )  # fmt: skip
    p.add_argument("--database-url", help="override AQM_DATABASE_URL")
    p.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    import signal
    import threading

    import psycopg

    from worker.service import drain_once, run_worker

    if args.batch_hours is not None and args.batch_hours < 1:
        raise CliError(f"--batch-hours must be at least 1, got {args.batch_hours}")
    settings = settings_with_database_url(args.database_url)
    url = settings.database_url
    logging.getLogger("worker").setLevel(min(logging.getLogger().level, logging.INFO))
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda _signum, _frame: stop.set())
    if settings.worker_metrics_port and not args.once:
        from worker.gap_metrics import start_gap_exporter

        host, port = settings.worker_metrics_host, settings.worker_metrics_port
        try:
            port, _ = start_gap_exporter(url, settings.timezone, host, port, stop)
        except OSError as exc:
            raise CliError(f"AQM_WORKER_METRICS_PORT: cannot listen on {host}:{port}: "
                           f"{exc.strerror or exc}") from exc  # fmt: skip
        logging.getLogger("worker").info("missing-sample metrics on port %d", port)
    if settings.opendata_interval_s and not args.once:
        from opendata.regenerate import start_regenerator

        start_regenerator(settings, stop, database_url=url)
    try:
        if args.once:
            total = drain_once(url, settings, batch_hours=args.batch_hours, stop=stop)
            print(f"queue drained: {total.describe()}")
        else:
            run_worker(settings, stop, database_url=url, batch_hours=args.batch_hours)
    except ValueError as exc:  # e.g. AQM_TIMEZONE with DST or a fractional offset
        raise CliError(str(exc)) from exc
    except psycopg.OperationalError as exc:
        raise database_error(url, exc) from exc
    return 0
