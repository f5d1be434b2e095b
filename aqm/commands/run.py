"""``aqm run``: the pipeline on local services (what ``make run`` starts)."""

from __future__ import annotations

import argparse
import importlib.util
import math
from typing import TYPE_CHECKING

from aqm.cli import CliError
from aqm.commands.services import BROKER_CHOICE

if TYPE_CHECKING:
    from aqm_core.settings import Settings
    from stations.catalogue import Catalogue


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "run",
        help="run everything locally: services, ingest, AQI worker, simulated stations",
        description=(
            "Start the private TimescaleDB and broker (AQM_DATA_DIR, AQM_PG_PORT, "
            "AQM_MQTT_PORT), migrate the schema, load the station catalogue "
            "(AQM_STATIONS_FILE), then run the "
            "ingest service, the AQI worker, the public page (aqm web, its address printed) and "
            "the station simulator, with a live status table "
            "(readings stored, latest VN_AQI per station). Ctrl-C stops everything cleanly. "
            f"{BROKER_CHOICE} With RabbitMQ, stations publish MQTT to the node and ingest "
            "consumes its quorum queue over AMQP (AQM_AMQP_URL set for it)."
        ),
    )
    p.add_argument(
        "--speedup",
        type=float,
        default=300.0,
        help="simulated seconds per real second until the simulation reaches now "
        "(default 300: five hours a minute), then real time",
    )
    p.add_argument(
        "--history-hours",
        type=float,
        default=12.0,
        help="the simulator starts this many hours in the past (default 12)",
    )
    p.add_argument("--no-simulator", action="store_true", help="do not start simulated stations")
    p.add_argument(
        "--duration", type=float, help="stop after this many seconds (default: until Ctrl-C)"
    )
    p.add_argument(
        "--no-live", action="store_true", help="print the status every 5 s instead of a live table"
    )
    p.add_argument(
        "--keep-services", action="store_true", help="leave the broker and database running"
    )
    p.set_defaults(handler=_run)


def _available(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _check_arguments(args: argparse.Namespace) -> None:
    if not math.isfinite(args.speedup) or args.speedup < 0:
        raise CliError(f"--speedup {args.speedup}: must be a positive number "
                       "(0: as fast as possible)")
    if not math.isfinite(args.history_hours) or args.history_hours < 0:
        raise CliError(f"--history-hours {args.history_hours}: must be a number of hours, "
                       "0 or more")
    if args.duration is not None and not (math.isfinite(args.duration) and args.duration > 0):
        raise CliError(f"--duration {args.duration}: must be a positive number of seconds")


def _run(args: argparse.Namespace) -> int:
    from aqm.commands.db import connect
    from aqm.commands.services import local_services
    from aqm.commands.stations import load_checked_catalogue
    from aqm.run import Child, run_pipeline
    from aqm_core.settings import load_settings
    from stations.registry import sync_catalogue
    from storage.migrate import migrate

    _check_arguments(args)
    settings = load_settings()
    # A catalogue that cannot be used stops here, before any service starts.
    catalogue = load_checked_catalogue(settings.stations_file)
    pg, mq = local_services(settings)
    pg.start()
    mq.start()
    try:
        migrate(pg.url(), role_passwords=settings.role_passwords)
        with connect(pg.url()) as conn:  # stations are what ingest accepts
            sync_catalogue(conn, catalogue)
        logs = settings.data_dir / "run" / "logs"
        children = [
            Child(
                "ingest",
                ["ingest", "--metrics-port", str(settings.metrics_port)],
                logs / "ingest.log",
            )
        ]
        if _available("aqm.commands.worker"):
            children.append(Child("worker", ["worker"], logs / "worker.log"))
        if _available("aqm.commands.web"):
            children.append(
                Child("web", ["web"], logs / "web.log",
                      url=f"http://{settings.web_host}:{settings.web_port}/")
            )  # fmt: skip
        ftp_station = _ftp_station(catalogue, settings) if _available("aqm.commands.ftp") else None
        if ftp_station is not None:
            children.append(Child("ftp", ["ftp", "--metrics-port", "0"], logs / "ftp.log"))
        if not args.no_simulator and _available("aqm.commands.simulate"):
            mqtt_stations = [
                s.station_id for s in catalogue.active() if s.station_id != ftp_station
            ]
            children.append(
                Child(
                    "simulator",
                    [
                        "simulate",
                        "--speedup",
                        str(args.speedup),
                        "--start",
                        f"-{args.history_hours}h",
                        "--follow",
                        *(["--stations", *mqtt_stations] if ftp_station else []),
                    ],
                    logs / "simulator.log",
                )
            )
            if ftp_station is not None:
                children.append(
                    Child(
                        "datalogger (FTP)",
                        ["ftp", "deliver", "--station", ftp_station, "--speedup",
                         str(args.speedup), f"--start=-{args.history_hours}h"],
                        logs / "datalogger.log",
                    )
                )
        return run_pipeline(settings, pg, mq, children, args.duration, live=not args.no_live)
    finally:
        if not args.keep_services:
            mq.stop()
            pg.stop()



def _ftp_station(catalogue: Catalogue, settings: Settings) -> str | None:
    """The station that delivers Circular 10 files by FTP in `make run` (the last active
    automatic station, when there are two or more stations): its account is written with
    a fresh password, which the simulated datalogger reads from AQM_DATALOGGER_PASSWORD."""
    import os

    from stations.mosquitto_passwords import hash_password, new_password, write_password_file

    active = catalogue.active()
    automatic = [s for s in active if s.station_type == "fixed_automatic"]
    if len(active) < 2 or not automatic:
        return None
    station = automatic[-1].station_id
    password = new_password()
    secrets = settings.data_dir / "run" / "secrets"
    secrets.mkdir(parents=True, exist_ok=True, mode=0o700)
    accounts = secrets / "ftp-users"
    write_password_file(accounts, {station: hash_password(password)},
                        "FTP account of the simulated datalogger of `aqm run`")
    os.environ["AQM_FTP_ACCOUNTS_FILE"] = str(accounts)
    os.environ["AQM_FTP_DIR"] = str(settings.data_dir / "run" / "ftp")
    os.environ["AQM_DATALOGGER_PASSWORD"] = password
    return station
