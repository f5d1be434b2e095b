"""The Grafana container's settings are real Grafana settings, and the map works offline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from dashboards import overview

REPO = Path(__file__).resolve().parents[2]

GRAFANA_LANGUAGES = {
    # UI languages of Grafana 11 (public/app/core/internationalization/constants.ts);
    # later releases add more, none of them Vietnamese so far.
    "en-US",
    "fr-FR",
    "es-ES",
    "de-DE",
    "zh-Hans",
    "pt-BR",
    "zh-Hant",
}


def _grafana_env() -> dict[str, Any]:
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))
    env: dict[str, Any] = compose["services"]["grafana"]["environment"]
    return env


def test_grafana_language_is_a_setting_grafana_has() -> None:
    env = _grafana_env()
    assert "GF_DEFAULT_LOCALE" not in env  # not a Grafana setting: it was silently ignored
    assert env["GF_USERS_DEFAULT_LANGUAGE"] in GRAFANA_LANGUAGES
    assert env["GF_DATE_FORMATS_DEFAULT_TIMEZONE"] == "Asia/Ho_Chi_Minh"
    assert env["GF_DATE_FORMATS_FULL_DATE"].startswith("DD/MM/YYYY")


def test_basemap_is_configurable_and_an_outline_needs_no_internet() -> None:
    assert "GF_GEOMAP_DEFAULT_BASELAYER_CONFIG" in _grafana_env()
    board = overview.build()
    geomap = next(p for p in board["panels"] if p["type"] == "geomap")
    assert geomap["options"]["basemap"]["type"] == "default"  # follows the server setting
    layers = geomap["options"]["layers"]
    outlines = [layer for layer in layers if layer["type"] == "geojson"]
    assert outlines[0]["config"]["src"] == "public/maps/countries.geojson"
    assert all(not o["config"]["src"].startswith(("http", "//")) for o in outlines)
    assert layers[-1]["type"] == "markers"  # stations drawn on top, from the database


def test_the_map_draws_the_page_s_province_outline_from_grafana_itself() -> None:
    board = overview.build()
    geomap = next(p for p in board["panels"] if p["type"] == "geomap")
    province = next(
        layer
        for layer in geomap["options"]["layers"]
        if layer["type"] == "geojson" and "countries" not in layer["config"]["src"]
    )
    # Grafana serves /usr/share/grafana/public/… as public/…: the compose file must mount
    # the page's outline exactly where the layer looks for it
    src = province["config"]["src"]
    assert src.startswith("public/maps/")
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))
    mounts = dict(
        v.rsplit(":", 1)[0].split(":", 1)[::-1]
        for v in compose["services"]["grafana"]["volumes"]
        if v.startswith("./")
    )
    source = mounts[f"/usr/share/grafana/{src}"]
    assert (REPO / source).resolve() == REPO / "web" / "static" / "province.geojson"
    assert compose["services"]["grafana"]["image"].startswith("grafana/grafana:")
    # the view frames the province, not every layer (the countries span the world)
    view = geomap["options"]["view"]
    assert view["id"] == "fit" and view["allLayers"] is False
    assert view["layer"] == province["name"]
    assert "Natural Earth" in province["name"] + geomap["description"]
