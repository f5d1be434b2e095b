"""Dashboard variables shared by several dashboards: the station(s) and the AQI standard."""

from __future__ import annotations

from dashboards.aqi_style import STANDARDS, VN_STANDARD
from dashboards.panels import Json, custom_variable, sql_variable

RETIRED_SUFFIX = " — đã ngừng hoạt động"

# Active stations first, then retired ones (selectable for their history), marked as such.
STATION_OPTIONS_SQL = f"""
SELECT station_id AS __value,
       name || ' (' || station_id || ')'
         || CASE WHEN status = 'retired' THEN '{RETIRED_SUFFIX}' ELSE '' END AS __text
FROM stations
ORDER BY status = 'retired', station_id
"""


def station_variable(*, multi: bool) -> Json:
    """``$station``: one station, or several (with "All") when ``multi``; retired ones too."""
    return sql_variable("station", "Trạm", STATION_OPTIONS_SQL, multi=multi)


def standard_variable() -> Json:
    """``$standard``: the AQI method, VN_AQI by default."""
    return custom_variable("standard", "Chỉ số", STANDARDS, default=VN_STANDARD)
