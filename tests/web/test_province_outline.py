"""The bundled province outline (``web/static/province.geojson``): a valid polygon of the
whole province as it is since 1 July 2025, around every example station, and credited.

No service and no network: the file is checked as it is committed.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely
from numpy.typing import NDArray
from shapely.geometry import MultiPolygon, Point, Polygon, shape

from aqm_core.settings import Settings
from stations.catalogue import load_catalogue

REPO = Path(__file__).resolve().parents[2]
OUTLINE = REPO / "web" / "static" / "province.geojson"
NOTICE = REPO / "web" / "static" / "province.NOTICE.md"

# Vietnam's mainland between its extreme points: Lũng Cú 23°23′N, Đất Mũi (Cà Mau) 8°34′N,
# A Pa Chải 102°08′E, Mũi Đôi 109°28′E; rounded outwards.
VIETNAM = (102.1, 8.5, 109.5, 23.4)
# Natural area of Bắc Ninh province after the merger with Bắc Giang: 4,718.6 km² (the
# merger project submitted to the Government on 28 April 2025). Old Bắc Ninh alone is
# about 823 km², so an outline of the former province fails by far.
AREA_KM2 = 4718.6
AUTHALIC_RADIUS_KM = 6371.0072  # WGS 84


def _document() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(OUTLINE.read_text(encoding="utf-8"))
    return document


def _outline() -> Polygon | MultiPolygon:
    geometry = shapely.union_all([shape(f["geometry"]) for f in _document()["features"]])
    assert isinstance(geometry, Polygon | MultiPolygon)
    return geometry


def _area_km2(geometry: Polygon | MultiPolygon) -> float:
    """Area in the sinusoidal projection of the authalic sphere, which keeps areas."""

    def sinusoidal(lonlat: NDArray[np.float64]) -> NDArray[np.float64]:
        lon, lat = np.radians(lonlat[:, 0]), np.radians(lonlat[:, 1])
        return np.column_stack([AUTHALIC_RADIUS_KM * lon * np.cos(lat), AUTHALIC_RADIUS_KM * lat])

    return float(shapely.transform(geometry, sinusoidal).area)


def test_the_outline_is_valid_geojson_of_polygons() -> None:
    document = _document()
    assert document["type"] == "FeatureCollection"
    assert document["features"]
    for feature in document["features"]:
        assert feature["type"] == "Feature"
        geometry = feature["geometry"]
        assert geometry["type"] in {"Polygon", "MultiPolygon"}
        polygons = (
            [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
        )
        for polygon in polygons:
            for n, ring in enumerate(polygon):
                assert len(ring) >= 4 and ring[0] == ring[-1]  # RFC 7946 §3.1.6: closed
                assert all(len(p) == 2 and all(math.isfinite(v) for v in p) for p in ring)
                # RFC 7946 §3.1.6: exterior rings counter-clockwise, holes clockwise
                assert shapely.LinearRing(ring).is_ccw == (n == 0)
        assert shape(geometry).is_valid, shapely.is_valid_reason(shape(geometry))


def test_the_outline_lies_in_vietnam_and_is_the_merged_province() -> None:
    outline = _outline()
    west, south, east, north = outline.bounds
    assert VIETNAM[0] <= west < east <= VIETNAM[2]
    assert VIETNAM[1] <= south < north <= VIETNAM[3]
    assert _area_km2(outline) == pytest.approx(AREA_KM2, rel=0.03)


def test_the_area_formula_on_a_known_square() -> None:
    # one degree of latitude by one of longitude at the equator: (R·π/180)² ≈ 12,364 km²
    square = Polygon([(0, 0), (1, 0), (1, 1), (0, 1)])
    side = AUTHALIC_RADIUS_KM * math.pi / 180
    # the projected square is a trapezoid with sides 1 and cos 1°: (1 + cos 1°)/2 ≈ 0.99992
    assert _area_km2(square) == pytest.approx(side * side, rel=1e-4)


def test_every_station_of_the_example_catalogue_is_inside() -> None:
    # the catalogue `make run` (`aqm run`) loads unless AQM_STATIONS_FILE says otherwise
    path = Settings.model_fields["stations_file"].default
    assert path == REPO / "stations" / "catalogue.example.yaml"
    catalogue = load_catalogue(path)
    assert len(catalogue) >= 5
    outline = _outline()
    outside = [
        s.station_id for s in catalogue if not outline.contains(Point(s.longitude, s.latitude))
    ]
    assert outside == []


def test_the_source_is_credited() -> None:
    properties = _document()["features"][0]["properties"]
    # the page shows `note` and `attribution` under the map (web/static/app.js)
    assert "Natural Earth" in properties["attribution"]
    assert "gần đúng" not in properties["note"]  # no longer a hand drawing
    assert "202/2025/QH15" in properties["note"]
    assert {p["iso_3166_2"] for p in properties["source"]["features"]} == {"VN-56", "VN-54"}
    notice = NOTICE.read_text(encoding="utf-8")
    assert "Natural Earth" in notice and "public domain" in notice
    assert properties["source"]["sha256"] in notice
    for doc in ("docs/web.md", "docs/grafana.md"):
        text = (REPO / doc).read_text(encoding="utf-8")
        assert "Natural Earth" in text and "province.NOTICE.md" in text, doc


def test_the_file_stays_small_for_a_phone() -> None:
    assert OUTLINE.stat().st_size < 64 * 1024
