"""``aqm --help`` and ``aqm <command> --help`` load no command's dependencies: each
command imports them when it runs (bench/cli_startup.py measures the time)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from aqm.cli import COMMAND_MODULES

REPO = Path(__file__).resolve().parent.parent
HEAVY = ("numpy", "psycopg", "psycopg_pool", "matplotlib", "docx", "openpyxl", "pydantic",
         "pydantic_settings", "rich", "paho", "pyftpdlib", "prometheus_client", "yaml",
         "numba", "asyncio")  # fmt: skip

PROBE = """
import json, sys
from aqm.cli import main
try:
    main(sys.argv[1:])
except SystemExit as exc:
    assert exc.code == 0, exc.code
heavy = json.loads(HEAVY)
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules} & set(heavy))))
"""


def _loaded_by(args: list[str]) -> list[str]:
    code = PROBE.replace("json.loads(HEAVY)", repr(list(HEAVY)))
    completed = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=REPO, capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    loaded: list[str] = json.loads(completed.stdout.strip().splitlines()[-1])
    return loaded


def _commands() -> list[list[str]]:
    from aqm.cli import build_parser

    parser = build_parser()
    commands: list[list[str]] = []
    subparsers = parser._subparsers
    assert subparsers is not None
    for action in subparsers._group_actions:
        for name, sub in getattr(action, "choices", {}).items():
            commands.append([name])
            nested = sub._subparsers
            for inner in nested._group_actions if nested is not None else ():
                commands += [[name, child] for child in getattr(inner, "choices", {})]
    return commands


def test_the_help_loads_no_dependency_of_any_command() -> None:
    assert _loaded_by(["--help"]) == []


@pytest.mark.parametrize("command", _commands(), ids=" ".join)
def test_a_command_help_loads_no_dependency(command: list[str]) -> None:
    assert _loaded_by([*command, "--help"]) == []


def test_every_command_module_is_probed() -> None:
    assert len(_commands()) >= len(COMMAND_MODULES)
