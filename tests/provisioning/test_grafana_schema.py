"""Every generated dashboard loads into Grafana's own typed models (grafana-foundation-sdk).

Grafana cannot run here, so the JSON is checked against the models Grafana Labs generates
from Grafana's schemas, in the build matching the image of docker-compose.yml: a dashboard
is loaded with ``Dashboard.from_json`` (panel options and field config by each panel
type's own model) and written back with ``to_json``; any key of the file that does not come
back is unknown to the schema — a misspelt or invented option — and fails the test, except
the known gaps of the models listed in :data:`KNOWN_GAPS`.
"""

from __future__ import annotations

import copy
import json
import re
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
import yaml
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.cog.plugins import register_default_plugins
from grafana_foundation_sdk.models.dashboard import Dashboard

from dashboards.provisioning import dashboards

REPO = Path(__file__).resolve().parents[2]

KNOWN_GAPS: dict[str, str] = {
    # path (list indices as []) of a key Grafana reads that the 11.3 models do not carry
    "panels[].fieldConfig.defaults.custom.insertNulls": (
        "state-timeline's FieldConfig lacks insertNulls, which Grafana's state timeline "
        "applies (applyNullInsertThreshold); the time series model has it"
    ),
    "templating.list[].definition": (
        "VariableModel has no 'definition', the query text Grafana's editor shows for "
        "query variables"
    ),
}
"""Keys the models drop although Grafana uses them, with why each is kept."""

register_default_plugins()


def _paths(node: Any, prefix: str = "") -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            path = f"{prefix}.{key}" if prefix else key
            found.add(path)
            found |= _paths(value, path)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found |= _paths(value, f"{prefix}[{index}]")
    return found


def _round_trip(board: dict[str, Any]) -> dict[str, Any]:
    model = Dashboard.from_json(copy.deepcopy(board))
    result: dict[str, Any] = json.loads(json.dumps(model, cls=JSONEncoder))
    return result


def unknown_keys(board: dict[str, Any]) -> dict[str, str]:
    """Key paths of ``board`` the models drop → the path with list indices removed."""
    lost = _paths(board) - _paths(_round_trip(board))
    # a lost key hides everything below it: report the top of each lost branch only
    tops = {
        p
        for p in lost
        if not any(p.startswith(q + ".") or p.startswith(q + "[") for q in lost if q != p)
    }
    return {p: re.sub(r"\[\d+\]", "[]", p) for p in tops}


BOARDS = dashboards()


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_dashboard_has_no_key_unknown_to_grafanas_schema(name: str) -> None:
    board = BOARDS[name]
    unknown = unknown_keys(board)
    unexpected = sorted(p for p, generic in unknown.items() if generic not in KNOWN_GAPS)
    assert not unexpected, f"{name}: keys unknown to Grafana's dashboard schema: {unexpected}"
    for path, generic in unknown.items():
        if generic == "panels[].fieldConfig.defaults.custom.insertNulls":
            index = int(path.split("[", 1)[1].split("]", 1)[0])
            assert board["panels"][index]["type"] == "state-timeline", path


def test_known_gaps_are_still_gaps() -> None:
    """A gap the models close must leave the list (it would hide a misspelling otherwise)."""
    seen = {generic for board in BOARDS.values() for generic in unknown_keys(board).values()}
    assert seen == set(KNOWN_GAPS)


@pytest.mark.parametrize(
    ("where", "key"),
    [
        (("panels", 0, "options", "legend"), "showLegnd"),
        (("panels", 0, "fieldConfig", "defaults", "custom"), "fillOpacty"),
        (("panels", 0), "gridpos"),
        ((), "refreh"),
        (("panels", 0, "fieldConfig", "defaults"), "thresold"),
    ],
)
def test_a_misspelt_key_is_caught(where: tuple[Any, ...], key: str) -> None:
    board = copy.deepcopy(BOARDS["aqi-ngay.json"])
    node: Any = board
    for step in where:
        node = node[step]
    node[key] = True
    assert any(p.endswith(key) for p in unknown_keys(board))


def test_models_are_the_build_of_the_compose_grafana_image() -> None:
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))
    image = compose["services"]["grafana"]["image"]
    grafana_version = image.rsplit(":", 1)[1]
    sdk = version("grafana-foundation-sdk")
    assert sdk.split("!", 1)[1] == grafana_version, (sdk, image)
    pyproject = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    assert f'"grafana-foundation-sdk=={sdk}"' in pyproject
