"""The error tree: every error a user can fix derives from AqmError and reads as
``file:line: field: message``; the ``aqm`` command prints it once, as one line."""

from __future__ import annotations

import ast
import importlib
import tomllib
from pathlib import Path

import pytest

from aqm_core.errors import AqmError

REPO = Path(__file__).resolve().parent.parent
PACKAGES: list[str] = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))[
    "tool"
]["hatch"]["build"]["targets"]["wheel"]["packages"]


def test_the_message_begins_with_what_is_known_of_the_place() -> None:
    assert str(AqmError("not a number", file="s.yaml", line=4, field="latitude")) == (
        "s.yaml:4: latitude: not a number"
    )
    assert str(AqmError("no such file", file=Path("aqm.toml"))) == "aqm.toml: no such file"
    assert str(AqmError("expected a year", field="--year")) == "--year: expected a year"
    assert str(AqmError("bad row", line=7)) == "line 7: bad row"
    plain = AqmError("as written")
    assert str(plain) == "as written"
    assert (plain.file, plain.line, plain.field) == (None, None, None)


def test_a_subclass_keeps_the_context_it_set_itself() -> None:
    class LocatedError(AqmError, ValueError):
        def __init__(self, path: str, line: int) -> None:
            self.line = line
            super().__init__(f"{path}:{line}: broken")

    error = LocatedError("a.csv", 3)
    assert (str(error), error.line, error.file) == ("a.csv:3: broken", 3, None)
    assert isinstance(error, ValueError)


def _error_classes() -> list[str]:
    """``path:Name`` of every class of the installed packages named ``…Error``."""
    found = []
    for path in sorted(p for package in PACKAGES for p in (REPO / package).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and node.name.endswith("Error"):
                found.append(f"{path.relative_to(REPO)}:{node.name}")
    return found


@pytest.mark.parametrize("where", _error_classes())
def test_every_error_class_derives_from_aqm_error(where: str) -> None:
    path, name = where.split(":")
    module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
    assert issubclass(getattr(module, name), AqmError)
