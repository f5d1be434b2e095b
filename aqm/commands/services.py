"""``aqm services start|stop|status``: the private broker and database under the data folder."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from aqm_core.defaults import DEFAULT_AMQP_PORT, DEFAULT_MQTT_PORT, DEFAULT_PG_PORT

if TYPE_CHECKING:
    from aqm.local_rabbitmq import RabbitMQInstance
    from aqm.localservices import MosquittoInstance, PostgresInstance
    from aqm_core.settings import Settings

BROKER_CHOICE = (
    f"The broker is Mosquitto on AQM_MQTT_PORT ({DEFAULT_MQTT_PORT}), or with "
    "AQM_BROKER=rabbitmq a private RabbitMQ node (Debian's rabbitmq-server) under "
    f"AQM_DATA_DIR/run/rabbitmq: MQTT on AQM_MQTT_PORT, AMQP on AQM_AMQP_PORT "
    f"({DEFAULT_AMQP_PORT})."
)


def local_services(
    settings: Settings,
) -> tuple[PostgresInstance, MosquittoInstance | RabbitMQInstance]:
    """The instances ``make run`` uses: ``<data_dir>/run/{pg,mosquitto|rabbitmq}``, configured
    ports; the broker is the one ``AQM_BROKER`` names."""
    from aqm.localservices import MosquittoInstance, PostgresInstance

    root = settings.data_dir / "run"
    pg = PostgresInstance(root / "pg", settings.pg_port)
    if settings.broker == "rabbitmq":
        from aqm.local_rabbitmq import RabbitMQInstance

        return pg, RabbitMQInstance(
            root / "rabbitmq",
            settings.mqtt_port,
            settings.amqp_port,
            queue=settings.amqp_queue,
            topic_prefix=settings.topic_prefix,
        )
    return pg, MosquittoInstance(root / "mosquitto", settings.mqtt_port)


def broker_line(mq: MosquittoInstance | RabbitMQInstance, state: str) -> str:
    """The broker's status line, without passwords."""
    from aqm.local_rabbitmq import RabbitMQInstance

    if isinstance(mq, RabbitMQInstance):
        return (
            f"rabbitmq    {state:8} mqtt://127.0.0.1:{mq.port} amqp://127.0.0.1:{mq.amqp_port}"
            f"   (node {mq.node.nodename}, log: {mq.logfile})"
        )
    return f"mosquitto   {state:8} {mq.url()}   (log: {mq.logfile})"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "services",
        help="start/stop the local TimescaleDB and broker (Mosquitto, or RabbitMQ)",
        description=(
            "Private PostgreSQL+TimescaleDB and broker instances under AQM_DATA_DIR/run "
            f"(default .aqm/run) on AQM_PG_PORT ({DEFAULT_PG_PORT}) and AQM_MQTT_PORT "
            f"({DEFAULT_MQTT_PORT}), for development. {BROKER_CHOICE} "
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
    print(broker_line(mq, up[mq.running()]))
    return 0
