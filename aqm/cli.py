"""The ``aqm`` command: one entry point whose subcommands live in their own rooms.

Each group lives in ``aqm/commands/<group>.py`` and exposes ``register(subparsers)``;
this file only assembles them, so ``aqm --help`` lists everything the project can do.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Callable, Sequence

from aqm_core import __version__
from aqm_core.errors import AqmError

# Rooms that contribute subcommands, in the order ``--help`` lists them.
COMMAND_MODULES: tuple[str, ...] = (
    "aqm.commands.run",
    "aqm.commands.services",
    "aqm.commands.db",
    "aqm.commands.ingest",
    "aqm.commands.worker",
    "aqm.commands.stations",
    "aqm.commands.simulate",
    "aqm.commands.aqi",
    "aqm.commands.report",
    "aqm.commands.gaps",
    "aqm.commands.grafana",
    "aqm.commands.ftp",
    "aqm.commands.forward",
    "aqm.commands.qc",
    "aqm.commands.web",
    "aqm.commands.opendata",
    "aqm.commands.broker_auth",
)

Handler = Callable[[argparse.Namespace], int]


class CliError(AqmError):
    """A command-line argument the user can fix (the option at fault named first).

    Like every :class:`~aqm_core.errors.AqmError` a command lets escape, it is printed
    by :func:`main` as one line without a traceback, exit status 2.
    """


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aqm",
        description=(
            "Air-quality monitoring: ingest station readings from MQTT into TimescaleDB, "
            "compute VN_AQI (Decision 1459/QĐ-TCMT) and US EPA AQI, and report on them. "
            "Configuration comes from AQM_* environment variables and an optional "
            "aqm.toml file (see README)."
        ),
    )
    parser.add_argument("--version", action="version", version=f"aqm {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        module.register(sub)
    return parser


def configure_logging(verbosity: int) -> None:
    level = logging.WARNING - 10 * min(verbosity + 1, 2)
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%Y-%m-%d %H:%M:%S",
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.verbose)
    handler: Handler = args.handler
    try:
        return handler(args)
    except AqmError as exc:
        print(f"aqm {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    # Run as ``python -m aqm.cli`` this file is loaded twice (as __main__ and as aqm.cli);
    # delegate so CliError raised by commands is the class main() catches.
    from aqm.cli import main as cli_main

    sys.exit(cli_main())
