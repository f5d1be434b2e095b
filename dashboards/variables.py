"""Dashboard variables shared by several dashboards: the station(s) and the AQI standard."""

from __future__ import annotations

from dashboards.aqi_style import STANDARDS, VN_STANDARD
from dashboards.panels import Json, custom_variable, sql_variable

STATION_OPTIONS_SQL = """
SELECT station_id AS __value, name || ' (' || station_id || ')' AS __text
FROM stations
WHERE status = 'active'
ORDER BY station_id
"""


def station_variable(*, multi: bool) -> Json:
    """``$station``: one active station, or several (with "All") when ``multi``."""
    return sql_variable("station", "Trạm", STATION_OPTIONS_SQL, multi=multi)


def standard_variable() -> Json:
    """``$standard``: the AQI method, VN_AQI by default."""
    return custom_variable("standard", "Chỉ số", STANDARDS, default=VN_STANDARD)
