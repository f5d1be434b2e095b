"""``aqm broker-auth``: RabbitMQ's HTTP authentication backend for the stations' logins."""

from __future__ import annotations

import argparse
from pathlib import Path

from aqm.cli import CliError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "broker-auth",
        help="answer RabbitMQ's login checks: the password, and the login as MQTT client id",
        description=(
            "Serve RabbitMQ's HTTP authentication backend (rabbitmq_auth_backend_http, "
            "auth_backends.1.authn = http) on AQM_BROKER_AUTH_HOST:AQM_BROKER_AUTH_PORT. "
            "A login is allowed when its password matches the hash in the definitions file "
            "`aqm stations credentials` writes (AQM_BROKER_AUTH_DEFINITIONS_FILE, read again "
            "when it changes) and, for MQTT, when the client id is the login, so that no "
            "station can take over another's client id. Each refusal is logged with the "
            "user, client id and reason. See docs/scaling.md."
        ),
    )
    p.add_argument("--host", help="listen address (default AQM_BROKER_AUTH_HOST)")
    p.add_argument("--port", type=int, help="listen port (default AQM_BROKER_AUTH_PORT)")
    p.add_argument(
        "--definitions",
        type=Path,
        metavar="FILE",
        help="rabbitmq-definitions.json (default AQM_BROKER_AUTH_DEFINITIONS_FILE)",
    )
    p.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from aqm_core.settings import load_settings
    from stations.broker_auth import serve

    settings = load_settings(options={
        "broker_auth_host": ("--host", args.host),
        "broker_auth_port": ("--port", args.port),
        "broker_auth_definitions_file": ("--definitions", args.definitions),
    })  # fmt: skip
    definitions = settings.broker_auth_definitions_file
    if not definitions.is_file():
        source = "--definitions" if args.definitions else "AQM_BROKER_AUTH_DEFINITIONS_FILE"
        raise CliError(
            f"{source} {definitions}: no such file; "
            "`aqm stations credentials … --out DIR` writes DIR/rabbitmq-definitions.json"
        )
    print(
        f"aqm broker-auth: http://{settings.broker_auth_host}:{settings.broker_auth_port}"
        f"/auth/user, users from {definitions}",
        flush=True,
    )
    serve(definitions, settings.broker_auth_host, settings.broker_auth_port)
    return 0
