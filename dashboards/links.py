"""Links between the dashboards: from a station's row or map point to its own dashboard, and back.

Grafana interpolates the link when it is followed: ``${__data.fields["Mã trạm"]}`` is the
station id of the row (or map point) and ``${__url_time_range}`` the range being viewed, so
the station dashboard opens on that station and that range.
"""

from __future__ import annotations

from dashboards.panels import Json

STATION_DASHBOARD_UID = "aqm-tram"
OVERVIEW_DASHBOARD_UID = "aqm-tong-quan"
STATION_ID_FIELD = "Mã trạm"
"""The column every station table (and the map) carries the station id in."""


def station_url(*, keep_standard: bool = False) -> str:
    """URL of the station dashboard for the row's station and the current time range."""
    url = (
        f'/d/{STATION_DASHBOARD_UID}/tram?var-station=${{__data.fields["{STATION_ID_FIELD}"]}}'
        "&${__url_time_range}"
    )
    return url + "&${standard:queryparam}" if keep_standard else url


def station_link(*, keep_standard: bool = False) -> Json:
    return {
        "title": 'Xem trang trạm ${__data.fields["Trạm"]}',
        "url": station_url(keep_standard=keep_standard),
        "targetBlank": False,
    }


def station_link_override(field_name: str = "Trạm", *, keep_standard: bool = False) -> Json:
    """Field override: clicking the station's name opens its dashboard."""
    return {
        "matcher": {"id": "byName", "options": field_name},
        "properties": [{"id": "links", "value": [station_link(keep_standard=keep_standard)]}],
    }


def overview_link() -> Json:
    """Dashboard link from the station dashboard back to the overview, keeping the range."""
    return {
        "type": "link",
        "title": "← Tổng quan",
        "url": f"/d/{OVERVIEW_DASHBOARD_UID}/tong-quan",
        "icon": "dashboard",
        "tooltip": "Quay lại trang tổng quan",
        "asDropdown": False,
        "includeVars": False,
        "keepTime": True,
        "targetBlank": False,
        "tags": [],
    }
