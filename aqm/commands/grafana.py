"""``aqm grafana generate [--check]``: write (or verify) the Grafana provisioning files.

The dashboards, alert rules, notification template and data sources under
``provisioning/grafana/`` are generated from ``dashboards/`` and the AQI tables of ``aqi/``;
``--check`` writes nothing and fails when a committed file differs from a fresh generation.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from aqm.cli import CliError

if TYPE_CHECKING:
    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]


def register(sub: Subparsers) -> None:
    group = sub.add_parser(
        "grafana",
        help="generate the Grafana dashboards and alerts",
        description=(
            "Grafana provisioning: data sources, the Vietnamese dashboards, alert rules and "
            "the e-mail notification template, generated from dashboards/ (docs/grafana.md)."
        ),
    )
    actions = group.add_subparsers(dest="grafana_command", metavar="ACTION", required=True)
    generate = actions.add_parser(
        "generate",
        help="write provisioning/grafana/ (or check it with --check)",
        description=(
            "Write every Grafana provisioning file under provisioning/grafana/ (or --out) and "
            "print the files that changed. With --check, write nothing and exit 1 naming every "
            "file that is missing, differs or is left over."
        ),
    )
    generate.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if any file is stale"
    )
    generate.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="the provisioning folder (default: provisioning/grafana/ beside dashboards/)",
    )
    generate.set_defaults(handler=run_generate)


def run_generate(args: argparse.Namespace) -> int:
    from dashboards.provisioning import PROVISIONING_DIR, stale_files, write_all

    out: Path = args.out or PROVISIONING_DIR
    if out.exists() and not out.is_dir():
        raise CliError(f"{out}: not a folder")
    if args.check:
        stale = stale_files(out)
        for rel in stale:
            print(f"{out / rel}: stale (run aqm grafana generate)", file=sys.stderr)
        if not stale:
            print(f"{out}: up to date")
        return 1 if stale else 0
    for path in write_all(out):
        print(f"wrote {path}")
    return 0
