"""``aqm services start|stop|status``: the private broker and database under the data folder."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aqm.localservices import MosquittoInstance, PostgresInstance
    from aqm_core.settings import Settings


def local_services(settings: Settings) -> tuple[PostgresInstance, MosquittoInstance]:
    """The instances ``make run`` uses: ``<data_dir>/run/{pg,mosquitto}``, configured ports."""
    from aqm.localservices import MosquittoInstance, PostgresInstance

    root = settings.data_dir / "run"
    return (
        PostgresInstance(root / "pg", settings.pg_port),
        MosquittoInstance(root / "mosquitto", settings.mqtt_port),
    )


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "services",
        help="start/stop the local TimescaleDB and Mosquitto",
        description=(
            "Private PostgreSQL+TimescaleDB and Mosquitto instances under AQM_DATA_DIR/run "
            "(default .aqm/run) on AQM_PG_PORT (55432) and AQM_MQTT_PORT (51883), for development. "
            "Install the servers first with scripts/install-services.sh."
        ),
    )
    p.add_argument("action", choices=("start", "stop", "status"))
    p.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from aqm_core.settings import load_settings

    pg, mq = local_services(load_settings())
    if args.action == "start":
        pg.start()
        mq.start()
    elif args.action == "stop":
        mq.stop()
        pg.stop()
    up = {True: "running", False: "stopped"}
    print(f"postgresql  {up[pg.running()]:8} {pg.url()}   (log: {pg.logfile})")
    print(f"mosquitto   {up[mq.running()]:8} {mq.url()}   (log: {mq.logfile})")
    return 0
