"""The house's layering, read from the source: the ground floor (``aqm_core``) imports
nothing else of the project, no room imports the ``aqm`` command package on top, and the
pure AQI engine reads no environment (the commands pass it the settings)."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGES: list[str] = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))[
    "tool"
]["hatch"]["build"]["targets"]["wheel"]["packages"]
GROUND_FLOOR = "aqm_core"
CLI = "aqm"


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, top-level package) of every absolute import in ``path``, nested ones included."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module.split(".")[0]))
    return found


def _modules(package: str) -> list[Path]:
    return sorted((REPO / package).rglob("*.py"))


def test_the_packages_are_the_ones_this_test_reads() -> None:
    assert GROUND_FLOOR in PACKAGES and CLI in PACKAGES
    assert all(_modules(package) for package in PACKAGES)


def test_no_room_imports_the_command_package() -> None:
    upward = [
        f"{path.relative_to(REPO)}:{line}: imports {CLI}"
        for package in PACKAGES
        if package != CLI
        for path in _modules(package)
        for line, name in _imports(path)
        if name == CLI
    ]
    assert upward == []


def test_the_ground_floor_imports_nothing_else_of_the_project() -> None:
    project = set(PACKAGES) - {GROUND_FLOOR}
    upward = [
        f"{path.relative_to(REPO)}:{line}: imports {name}"
        for path in _modules(GROUND_FLOOR)
        for line, name in _imports(path)
        if name in project
    ]
    assert upward == []

def test_the_aqi_engine_reads_no_environment() -> None:
    readers = [
        f"{path.relative_to(REPO)}:{node.lineno}"
        for path in _modules("aqi")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Attribute) and node.attr in {"environ", "getenv", "environb"}
    ]
    assert readers == []
