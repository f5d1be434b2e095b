"""``aqm ftp``: receive Circular 10/2021/TT-BTNMT files over FTP (or from a spool folder)
and store them like MQTT messages."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from aqm.cli import CliError

if TYPE_CHECKING:
    from ingest.files.inbox import InboxFile


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "ftp",
        help="receive Circular 10 files over FTP (or from a spool folder) into TimescaleDB",
        description=(
            "Run an FTP server for station dataloggers (Circular 10/2021/TT-BTNMT Art. 39: "
            "one file per measurement, pushed by FTP). Each active station logs in with its "
            "id and password (the accounts file AQM_FTP_ACCOUNTS_FILE, written by `aqm "
            "stations credentials`) and may only write into its own folder; explicit TLS "
            "(FTPS) is offered when AQM_FTP_TLS_CERT is set. A file is stored once its "
            "upload completed, through the same decode → validate → write path as MQTT "
            "messages, and archived only after its transaction committed. With --spool DIR "
            "no server runs: files a Department's own FTP server writes into DIR/<station>/ "
            "are stored instead (complete when unchanged for AQM_FTP_SPOOL_SETTLE_S "
            "seconds, or renamed from a temporary name). SIGTERM/SIGINT finish the batch "
            "in flight. Details: docs/ftp.md."
        ),
    )
    p.add_argument(
        "--spool",
        type=Path,
        metavar="DIR",
        help="process files in DIR/<station>/… instead of running a server",
    )
    p.add_argument("--host", help="listen address (default AQM_FTP_HOST)")
    p.add_argument("--port", type=int, help="control port (default AQM_FTP_PORT)")
    p.add_argument(
        "--metrics-port",
        type=int,
        metavar="PORT",
        help="Prometheus /metrics (default AQM_FTP_METRICS_PORT; 0: off)",
    )
    p.set_defaults(handler=_run)
    actions = p.add_subparsers(dest="ftp_command", metavar="ACTION")
    deliver = actions.add_parser(
        "deliver",
        help="a simulated Circular 10 datalogger delivering one station's files by FTP",
        description=(
            "Simulate one station's datalogger (readings as `aqm simulate` makes them) "
            "uploading one Circular 10 file per measurement to an FTP server (aqm ftp by "
            "default): <Province>_<Facility>_<Station>_yyyyMMddHHmmss.txt in "
            "<Station>/yyyy/MM/dd/. The password comes from AQM_DATALOGGER_PASSWORD. Files "
            "that cannot be sent are kept and sent oldest first when the server is back."
        ),
    )
    deliver.add_argument("--station", required=True, help="station id (its FTP account)")
    deliver.add_argument("--host", default="127.0.0.1", help="FTP server (default 127.0.0.1)")
    deliver.add_argument("--port", type=int, help="FTP port (default AQM_FTP_PORT)")
    deliver.add_argument("--tls", action="store_true", help="explicit TLS (AUTH TLS)")
    deliver.add_argument("--start", default="-3h",
                         help="first sample: hours back as -Nh (default -3h)")
    deliver.add_argument("--speedup", type=float, default=60.0,
                         help="simulated seconds per wall second until now (0: at once)")
    deliver.add_argument("--province", default="BN", help="the file name's <Province>")
    deliver.add_argument("--facility", default="QTMT", help="the file name's <Facility>")
    deliver.set_defaults(handler=_deliver)


def _run(args: argparse.Namespace) -> int:
    import asyncio
    import signal

    from prometheus_client import start_http_server

    from aqm_core.settings import load_settings
    from ingest.files.accounts import Accounts
    from ingest.files.inbox import Inbox
    from ingest.files.metrics import FtpMetrics
    from ingest.files.processor import FileProcessor
    from ingest.files.server import ServerThread, build_server
    from ingest.files.spool import SpoolWatcher

    settings = load_settings(options={
        "ftp_host": ("--host", args.host),
        "ftp_port": ("--port", args.port),
        "ftp_metrics_port": ("--metrics-port", args.metrics_port),
    })  # fmt: skip
    logging.getLogger("aqm").setLevel(min(logging.getLogger().level, logging.INFO))
    # pyftpdlib logs every command at INFO; aqm logs each file received and stored. Its
    # warnings (refused logins, aborted transfers) stay; -v shows everything.
    if not args.verbose:
        logging.getLogger("pyftpdlib").setLevel(logging.WARNING)
    if settings.ftp_tls_key is not None and settings.ftp_tls_cert is None:
        raise CliError("AQM_FTP_TLS_KEY is set but AQM_FTP_TLS_CERT is not")
    if settings.ftp_tls_required and settings.ftp_tls_cert is None:
        raise CliError("AQM_FTP_TLS_REQUIRED needs AQM_FTP_TLS_CERT (and AQM_FTP_TLS_KEY)")
    for name, path in (
        ("AQM_FTP_TLS_CERT", settings.ftp_tls_cert),
        ("AQM_FTP_TLS_KEY", settings.ftp_tls_key),
    ):
        if path is not None and not path.is_file():
            raise CliError(f"{name}={path}: no such file")
    metrics = FtpMetrics()
    inbox = Inbox(settings.ftp_dir, settings.ftp_archive_days)
    server_thread: ServerThread | None = None
    scanners: tuple[Callable[[], list[InboxFile]], ...] = ()
    if args.spool is not None:
        spool = Path(args.spool)
        if not spool.is_dir():
            raise CliError(f"--spool {spool}: no such folder")
        inbox.prepare([])
        scanners = (SpoolWatcher(spool, settings.ftp_spool_settle_s).scan,)
    processor = FileProcessor(settings, inbox, metrics, scanners)
    if args.spool is None:
        if not settings.ftp_accounts_file.is_file():
            raise CliError(
                f"AQM_FTP_ACCOUNTS_FILE={settings.ftp_accounts_file}: no such file; "
                "write it with `aqm stations credentials CATALOGUE --out DIR`"
            )
        accounts = Accounts(settings.ftp_accounts_file)
        inbox.prepare(accounts.users)
        try:
            server = build_server(settings, inbox, accounts, processor.submit_threadsafe, metrics)
        except OSError as exc:
            where = "--port" if args.port is not None else "AQM_FTP_PORT"
            raise CliError(
                f"{where} {settings.ftp_port}: cannot listen on {settings.ftp_host}: {exc.strerror}"
            ) from exc
        server_thread = ServerThread(server)
    if settings.ftp_metrics_port:
        try:
            start_http_server(
                settings.ftp_metrics_port, addr=settings.metrics_host, registry=metrics.registry
            )
        except OSError as exc:
            raise CliError(
                f"AQM_FTP_METRICS_PORT {settings.ftp_metrics_port}: cannot listen: {exc.strerror}"
            ) from exc

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        task = asyncio.create_task(processor.run(stop))
        await asyncio.sleep(0)  # the processor takes files before the server gives any
        if server_thread is not None:
            server_thread.start()
            host, port = server_thread.address
            log = logging.getLogger("aqm.ftp")
            log.info(
                "FTP server on %s:%d (%s), files in %s",
                host,
                port,
                "explicit TLS offered" if settings.ftp_tls_cert else "no TLS",
                settings.ftp_dir,
            )
        await task

    try:
        asyncio.run(main())
    finally:
        if server_thread is not None:
            server_thread.stop()
    return 0


def _deliver(args: argparse.Namespace) -> int:
    import re
    import signal
    import threading
    from datetime import UTC, datetime, timedelta
    from zoneinfo import ZoneInfo

    from aqm.commands.stations import load_checked_catalogue
    from aqm_core.settings import load_settings
    from stations.ftp_datalogger import FtpTarget, deliver
    from stations.simulator import generate

    settings = load_settings()
    logging.getLogger("aqm").setLevel(min(logging.getLogger().level, logging.INFO))
    password = settings.datalogger_password
    if not password:
        raise CliError("set AQM_DATALOGGER_PASSWORD to the station's password")
    match = re.fullmatch(r"-(\d+(?:\.\d+)?)h", args.start)
    if match is None:
        raise CliError(f"--start {args.start!r}: expected hours back, e.g. -3h")
    catalogue = load_checked_catalogue(settings.stations_file)
    station = catalogue.get(args.station)
    if station is None or not station.active:
        raise CliError(f"--station {args.station}: not an active station of "
                       f"{settings.stations_file}")
    now = datetime.now(UTC)
    start = now - timedelta(hours=float(match[1]))
    target = FtpTarget(args.host, args.port or settings.ftp_port, args.station, password,
                       args.tls, args.province, args.facility)
    publications = generate([station], start, None, fmt="tt10_text")
    log = logging.getLogger("aqm.datalogger")
    log.info("delivering %s by FTP to %s:%d from %s", args.station, target.host, target.port,
             start.astimezone(ZoneInfo(settings.timezone)).strftime("%Y-%m-%d %H:%M"))
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, frame: stop.set())
    sent = deliver(publications, target, ZoneInfo(settings.timezone), speedup=args.speedup,
                   stop=stop)
    log.info("%d files delivered", sent)
    return 0
