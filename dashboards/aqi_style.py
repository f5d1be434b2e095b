"""AQI bands as Grafana sees them: thresholds, value mappings and SQL, all from ``aqi.categories``.

Nothing here holds a number or colour of its own: every band limit, name and hex colour is
read from the category tables of the AQI engine, so the dashboards follow them when they
change (regenerate with ``aqm grafana generate``).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from aqi.categories import Category, categories
from dashboards.panels import Json, text_colour_mappings, thresholds

STANDARDS: tuple[tuple[str, str], ...] = (
    ("vn_1459_2019", "VN_AQI (QĐ 1459/QĐ-TCMT)"),
    ("us_epa_2024", "AQI Hoa Kỳ (US EPA 2024)"),
)
"""The AQI methods stored in aqi_hourly/aqi_daily, with their Vietnamese labels."""
VN_STANDARD = "vn_1459_2019"

NO_DATA_TEXT = "Không có dữ liệu"
NO_DATA_COLOUR = "#808080"  # neutral grey: "no data" must never look like clean air

# Indicative stations (low-cost sensors, mobile units, or any station whose class that day
# may not publish AQI: Circular 10/2021/TT-BTNMT Art. 29-30, ``aqi_publishable()``) show
# concentrations only. In province views they carry this value, text and a colour that is
# no VN_AQI band's.
INDICATIVE_VALUE = -2
INDICATIVE_TEXT = "Chỉ thị — không công bố AQI"
INDICATIVE_SUFFIX = " (chỉ thị — không công bố AQI)"
INDICATIVE_COLOUR = "#5794F2"  # blue: not a colour of Decision 1459


def aqi_thresholds(standard: str = VN_STANDARD) -> Json:
    """Colour an AQI value by its band (steps at each band's lower bound)."""
    bands = categories(standard)
    return thresholds(bands[0].hex, [(c.lower, c.hex) for c in bands[1:]])


def band_thresholds(standard: str = VN_STANDARD) -> Json:
    """Colour a band index (``Category.index``); -1 (no data) grey, -2 (indicative) blue."""
    return thresholds(
        INDICATIVE_COLOUR,
        [(-1, NO_DATA_COLOUR), *((c.index, c.hex) for c in categories(standard))],
    )


def category_name_mappings() -> list[Json]:
    """Category names of every offered standard → their colour, plus "no data" in grey and
    "indicative" in blue."""
    colours: dict[str, str] = {}
    for standard, _ in STANDARDS:
        for cat in categories(standard):
            if colours.setdefault(cat.name_vi, cat.hex) != cat.hex:
                raise ValueError(f"category {cat.name_vi!r} has two colours across standards")
    return text_colour_mappings(
        [*colours.items(), (NO_DATA_TEXT, NO_DATA_COLOUR), (INDICATIVE_TEXT, INDICATIVE_COLOUR)]
    )


def band_index_mappings(standard: str = VN_STANDARD) -> list[Json]:
    """Band index → Vietnamese name (for the map's legend and tooltips)."""
    options: Json = {
        str(c.index): {"text": c.name_vi, "color": c.hex, "index": c.index}
        for c in categories(standard)
    }
    options["-1"] = {"text": NO_DATA_TEXT, "color": NO_DATA_COLOUR, "index": len(options)}
    options[str(INDICATIVE_VALUE)] = {
        "text": INDICATIVE_TEXT,
        "color": INDICATIVE_COLOUR,
        "index": len(options),
    }
    return [{"type": "value", "options": options}]


def _sql_text(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def bands_values_sql(standards: Sequence[str] | None = None) -> str:
    """``(VALUES …) AS band(standard, idx, name_vi, lower, upper)``, the last band open-ended.

    Joined on ``aqi >= lower AND (aqi <= upper OR upper IS NULL)``: the band follows from
    the AQI value itself, so panels do not depend on how the worker numbers categories.
    """
    rows = []
    for standard in standards or [s for s, _ in STANDARDS]:
        bands: tuple[Category, ...] = categories(standard)
        for cat in bands:
            upper = "NULL::int" if cat is bands[-1] else str(cat.upper)
            name = _sql_text(cat.name_vi)
            rows.append(f"({_sql_text(standard)}, {cat.index}, {name}, {cat.lower}, {upper})")
    return (
        "(VALUES\n      "
        + ",\n      ".join(rows)
        + "\n    ) AS band(standard, idx, name_vi, lower, upper)"
    )


def band_index_sql(aqi_expr: str, standard: str = VN_STANDARD) -> str:
    """The band index (0…5) of an integer AQI as a CASE on the bands' upper ends; NULL for
    NULL (or a value below the first band).

    The same answer as :func:`band_join` for one known standard, without a join: over
    months of station-days the join's range test on every band cost more than the rest
    of the query. The bands of ``aqi.categories`` are contiguous, which this relies on.
    """
    bands: tuple[Category, ...] = categories(standard)
    for before, after in itertools.pairwise(bands):
        if after.lower != before.upper + 1:
            raise ValueError(f"{standard}: band {after.index} does not follow band {before.index}")
    branches = [f"WHEN {aqi_expr} <= {c.upper} THEN {c.index}" for c in bands[:-1]]
    return (
        f"CASE WHEN {aqi_expr} < {bands[0].lower} THEN NULL "
        + " ".join(branches)
        + f" WHEN {aqi_expr} >= {bands[-1].lower} THEN {bands[-1].index} END"
    )


def band_join(alias: str, aqi_expr: str) -> str:
    """Join condition matching ``band`` rows to an AQI value of the same standard."""
    return (
        f"band.standard = {alias}.standard AND {aqi_expr} >= band.lower"
        f" AND ({aqi_expr} <= band.upper OR band.upper IS NULL)"
    )


def band_range_mappings(standard: str = VN_STANDARD) -> list[Json]:
    """AQI value → band name and colour (ranges of each band), -1 → "no data" in grey and
    -2 → indicative (no AQI published) in blue.

    Cells, tooltips and legends then say the band (Decision 1459: Tốt, Trung bình, Kém,
    Xấu, Rất xấu, Nguy hại), not only its colour.
    """
    bands = categories(standard)
    mappings: list[Json] = [
        {
            "type": "range",
            "options": {
                "from": c.lower,
                "to": c.upper,
                "result": {"text": c.name_vi, "color": c.hex, "index": c.index},
            },
        }
        for c in bands
    ]
    mappings.append(
        {
            "type": "value",
            "options": {
                "-1": {"text": NO_DATA_TEXT, "color": NO_DATA_COLOUR, "index": len(bands)},
                str(INDICATIVE_VALUE): {
                    "text": INDICATIVE_TEXT,
                    "color": INDICATIVE_COLOUR,
                    "index": len(bands) + 1,
                },
            },
        }
    )
    return mappings


def publishable_join(station_expr: str, day_expr: str, alias: str = "cls") -> str:
    """``LEFT JOIN station_class_periods`` on the class in force on a local date.

    ``coalesce({alias}.aqi_publishable, false)`` then answers ``aqi_publishable(station,
    day)`` (migration 0015) for many station-days at once: the periods of a station do not
    overlap and the first one reaches back indefinitely.
    """
    return (
        f"LEFT JOIN station_class_periods {alias} ON {alias}.station_id = {station_expr}"
        f" AND ({alias}.valid_from IS NULL OR {day_expr} >= {alias}.valid_from)"
        f" AND ({alias}.valid_to IS NULL OR {day_expr} < {alias}.valid_to)"
    )


def publishable(alias: str = "cls") -> str:
    """The boolean of :func:`publishable_join` (false for a station without a class row)."""
    return f"coalesce({alias}.aqi_publishable, false)"
