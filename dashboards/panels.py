"""Builders for the pieces of Grafana dashboard JSON: queries, panels, variables, dashboards.

Plain dictionaries in the shape Grafana 11 saves (schemaVersion 39); each builder fills only
the keys aqm uses and Grafana completes the rest with its defaults when it loads the file.
Panels are laid out in rows of a 24-column grid by :func:`dashboard`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from dashboards.datasources import POSTGRES, PROMETHEUS, DatasourceRef

Json = dict[str, Any]
SqlFormat = Literal["table", "time_series"]

SCHEMA_VERSION = 39
GRID_COLUMNS = 24

STACKED_BARS: Json = {
    "drawStyle": "bars",
    "stacking": {"mode": "normal", "group": "A"},
    "fillOpacity": 80,
}
"""Field config of a time series drawn as stacked bars (counts per reason or status)."""

HOURLY_GAP_MS = 3_600_000
"""``custom.insertNulls`` of hourly series: a gap longer than one hour is drawn as a gap.

SQL rows exist only for hours that have them, and Grafana inserts no nulls into SQL
series by itself: without this a line runs straight across an outage. Grafana (time
series and state timeline alike) puts a null one threshold after a point followed by a
longer gap, and one after the last point when the range goes on.
"""
DAILY_GAP_MS = 86_400_000
"""``custom.insertNulls`` of series with one point per local day."""


def sql_query(sql: str, *, ref_id: str = "A", fmt: SqlFormat = "table") -> Json:
    """A raw SQL target for the TimescaleDB data source (what the SDK has no builder for)."""
    return {
        "refId": ref_id,
        "datasource": POSTGRES.ref(),
        "editorMode": "code",
        "format": fmt,
        "rawQuery": True,
        "rawSql": sql.strip(),
    }


def prom_query(
    expr: str, *, legend: str = "__auto", ref_id: str = "A", instant: bool = False
) -> Json:
    """A PromQL target for the Prometheus data source."""
    return {
        "refId": ref_id,
        "datasource": PROMETHEUS.ref(),
        "editorMode": "code",
        "expr": expr.strip(),
        "legendFormat": legend,
        "range": not instant,
        "instant": instant,
    }


def thresholds(base: str, steps: Sequence[tuple[float, str]] = ()) -> Json:
    """Absolute thresholds: ``base`` colour below the first step, then each (value, colour)."""
    return {
        "mode": "absolute",
        "steps": [{"color": base, "value": None}]
        + [{"color": colour, "value": value} for value, colour in steps],
    }


def text_colour_mappings(colours: Sequence[tuple[str, str]]) -> list[Json]:
    """Value mappings that colour a text value (e.g. a category name)."""
    return [
        {
            "type": "value",
            "options": {
                text: {"color": colour, "index": index, "text": text}
                for index, (text, colour) in enumerate(colours)
            },
        }
    ]


def number_text_mappings(labels: Sequence[tuple[float, str, str]]) -> list[Json]:
    """Value mappings number → (text, colour), e.g. 1 → "Đã kết nối" in green."""
    return [
        {
            "type": "value",
            "options": {
                _number_key(value): {"color": colour, "index": index, "text": text}
                for index, (value, text, colour) in enumerate(labels)
            },
        }
    ]


def _number_key(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def override(field_name: str, properties: dict[str, Any]) -> Json:
    """Field override matched by the field's display name."""
    return {
        "matcher": {"id": "byName", "options": field_name},
        "properties": [{"id": key, "value": value} for key, value in properties.items()],
    }


def query_override(ref_id: str, properties: dict[str, Any]) -> Json:
    """Override of every field (the time field included) returned by one query."""
    return {
        "matcher": {"id": "byFrameRefID", "options": ref_id},
        "properties": [{"id": key, "value": value} for key, value in properties.items()],
    }


@dataclass
class Panel:
    """One panel before layout; ``width``/``height`` in grid units."""

    kind: str
    title: str
    targets: list[Json]
    width: int = 12
    height: int = 8
    description: str = ""
    unit: str | None = None
    decimals: int | None = None
    threshold: Json | None = None
    colour_mode: str | None = None
    mappings: list[Json] = field(default_factory=list)
    overrides: list[Json] = field(default_factory=list)
    options: Json = field(default_factory=dict)
    custom: Json = field(default_factory=dict)
    min_value: float | None = None
    max_value: float | None = None
    new_row: bool = False

    @property
    def datasource(self) -> DatasourceRef:
        uids = {t["datasource"]["uid"] for t in self.targets}
        if len(uids) != 1:
            raise ValueError(
                f"panel {self.title!r}: targets must share one data source, got {uids}"
            )
        return PROMETHEUS if uids == {PROMETHEUS.uid} else POSTGRES

    def to_json(self, panel_id: int, x: int, y: int) -> Json:
        defaults: Json = {"custom": dict(self.custom), "mappings": self.mappings}
        if self.unit is not None:
            defaults["unit"] = self.unit
        if self.decimals is not None:
            defaults["decimals"] = self.decimals
        if self.threshold is not None:
            defaults["thresholds"] = self.threshold
        if self.colour_mode is not None:
            defaults["color"] = {"mode": self.colour_mode}
        if self.min_value is not None:
            defaults["min"] = self.min_value
        if self.max_value is not None:
            defaults["max"] = self.max_value
        return {
            "id": panel_id,
            "type": self.kind,
            "title": self.title,
            "description": self.description,
            "datasource": self.datasource.ref(),
            "gridPos": {"x": x, "y": y, "w": self.width, "h": self.height},
            "targets": self.targets,
            "fieldConfig": {"defaults": defaults, "overrides": self.overrides},
            "options": self.options,
        }


def custom_variable(
    name: str, label: str, options: Sequence[tuple[str, str]], *, default: str
) -> Json:
    """A fixed list of (value, text) options; single value."""
    chosen = next(text for value, text in options if value == default)
    return {
        "type": "custom",
        "name": name,
        "label": label,
        "query": ",".join(f"{text} : {value}" for value, text in options),
        "current": {"selected": True, "text": chosen, "value": default},
        "options": [
            {"selected": value == default, "text": text, "value": value} for value, text in options
        ],
        "multi": False,
        "includeAll": False,
        "hide": 0,
    }


def sql_variable(name: str, label: str, sql: str, *, multi: bool) -> Json:
    """A variable whose options come from SQL (columns ``__value`` and ``__text``).

    Multi-value variables also offer "All" (``$__all``, expanded to every option).
    """
    return {
        "type": "query",
        "name": name,
        "label": label,
        "datasource": POSTGRES.ref(),
        "definition": sql.strip(),
        "query": sql.strip(),
        "refresh": 1,  # on dashboard load: new stations appear without editing anything
        "sort": 0,
        "multi": multi,
        "includeAll": multi,
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]} if multi else {},
        "options": [],
        "hide": 0,
    }


def dashboard(
    *,
    uid: str,
    title: str,
    description: str,
    panels: Sequence[Panel],
    variables: Sequence[Json] = (),
    time_from: str = "now-24h",
    refresh: str = "1m",
    tags: Sequence[str] = (),
    timezone: str,
    links: Sequence[Json] = (),
) -> Json:
    """A whole dashboard; panels flow left to right, a panel that does not fit starts a row."""
    placed: list[Json] = []
    x = y = row_height = 0
    for panel_id, panel in enumerate(panels, start=1):
        if panel.new_row or x + panel.width > GRID_COLUMNS:
            x, y, row_height = 0, y + row_height, 0
        placed.append(panel.to_json(panel_id, x, y))
        x += panel.width
        row_height = max(row_height, panel.height)
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["aqm", *tags],
        "timezone": timezone,
        "weekStart": "monday",
        "editable": False,
        "graphTooltip": 1,
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "refresh": refresh,
        "time": {"from": time_from, "to": "now"},
        "timepicker": {},
        "fiscalYearStartMonth": 0,
        "liveNow": False,
        "annotations": {"list": []},
        "links": [
            *links,
            {
                "type": "dashboards",
                "tags": ["aqm"],
                "asDropdown": True,
                "title": "Bảng điều khiển",
                "includeVars": False,
                "keepTime": True,
            },
        ],
        "templating": {"list": list(variables)},
        "panels": placed,
    }
