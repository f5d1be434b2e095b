"""Grafana alert rules, the e-mail contact point and the notification policy, as provisioning data.

Three rules, each one series per station (the ``station_id`` text column becomes the alert
label), reduced to its last value and compared with a threshold:

- hourly AQI above the top of "Kém" (> 150: Xấu or worse) at any station;
- daily AQI above the top of "Xấu" (> 200: Rất xấu or worse);
- a silent station: no reading for longer than the greater of 30 minutes and two of its
  report intervals (``stations.report_interval_s``; :func:`sql_fragments.last_seen_cte`).

"No data" is kept apart from "clean air": the AQI rules treat an empty result as OK
(no AQI means nothing to warn the public about), and silence is its own rule measured from
the newest stored measurement of every active station, so a station that stops sending
raises the silence alert instead of quietly looking clean.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from aqi.categories import categories
from dashboards.aqi_style import VN_STANDARD
from dashboards.datasources import EXPRESSION_UID, POSTGRES
from dashboards.sql_fragments import (
    SILENCE_LOOKBACK,
    SILENCE_RULE_VI,
    TIME_TO,
    last_seen_cte,
    local_day_start,
    local_days_in_range,
    silent_minutes,
)

FOLDER = "Chất lượng không khí"
CONTACT_POINT = "aqm-email"
HOURLY_RULE_UID = "aqm-aqi-gio-tren-150"
DAILY_RULE_UID = "aqm-aqi-ngay-tren-200"
SILENT_RULE_UID = "aqm-tram-im-lang"


def _band_top(name_vi: str) -> int:
    """Upper AQI of a VN band: alerts fire strictly above it."""
    for cat in categories(VN_STANDARD):
        if cat.name_vi == name_vi:
            return cat.upper
    raise KeyError(f"no VN_AQI category named {name_vi!r}")


HOURLY_AQI_LIMIT = _band_top("Kém")  # > 150: Xấu, Rất xấu, Nguy hại
DAILY_AQI_LIMIT = _band_top("Xấu")  # > 200: Rất xấu, Nguy hại

HOURLY_RANGE = dt.timedelta(hours=3)
DAILY_RANGE = dt.timedelta(days=2)

HOURLY_SQL = f"""
SELECT a.hour AS "time", a.station_id, a.aqi::double precision AS value
FROM aqi_hourly a
JOIN stations s ON s.station_id = a.station_id
WHERE a.standard = '{VN_STANDARD}' AND a.aqi IS NOT NULL AND s.status = 'active'
  AND $__timeFilter(a.hour)
ORDER BY 1, 2
"""

DAILY_SQL = f"""
SELECT {local_day_start("a.day")} AS "time", a.station_id, a.aqi::double precision AS value
FROM aqi_daily a
JOIN stations s ON s.station_id = a.station_id
WHERE a.standard = '{VN_STANDARD}' AND a.aqi IS NOT NULL AND s.status = 'active'
  AND {local_days_in_range("a.day")}
ORDER BY 1, 2
"""

# Minutes silent for a silent station, 0 for one that is not: each station has its own
# threshold (``last_seen.silent``), so the rule's threshold is 0. A station not seen within
# the lookback counts as silent for the whole lookback.
SILENT_SQL = f"""
WITH {last_seen_cte()}
SELECT {TIME_TO} AS "time", station_id,
       (CASE WHEN silent
             THEN coalesce({silent_minutes("last_ts")},
                           {int(SILENCE_LOOKBACK.total_seconds() // 60)})
             ELSE 0 END)::double precision AS value
FROM last_seen
ORDER BY station_id
"""
SILENT_THRESHOLD = 0


def _sql_data(sql: str, lookback: dt.timedelta) -> dict[str, Any]:
    return {
        "refId": "A",
        "relativeTimeRange": {"from": int(lookback.total_seconds()), "to": 0},
        "datasourceUid": POSTGRES.uid,
        "model": {
            "refId": "A",
            "datasource": POSTGRES.ref(),
            "editorMode": "code",
            "format": "time_series",
            "rawQuery": True,
            "rawSql": sql.strip(),
            "intervalMs": 60000,
            "maxDataPoints": 43200,
        },
    }


def _expressions(threshold: float) -> list[dict[str, Any]]:
    expr_ref = {"type": "__expr__", "uid": EXPRESSION_UID}
    return [
        {
            "refId": "B",
            "datasourceUid": EXPRESSION_UID,
            "model": {
                "refId": "B",
                "datasource": expr_ref,
                "type": "reduce",
                "expression": "A",
                "reducer": "last",
                "settings": {"mode": "dropNN"},
            },
        },
        {
            "refId": "C",
            "datasourceUid": EXPRESSION_UID,
            "model": {
                "refId": "C",
                "datasource": expr_ref,
                "type": "threshold",
                "expression": "B",
                "conditions": [{"evaluator": {"type": "gt", "params": [threshold]}}],
            },
        },
    ]


def _rule(
    uid: str,
    title: str,
    sql: str,
    lookback: dt.timedelta,
    threshold: float,
    *,
    no_data: str,
    summary: str,
    description: str,
    severity: str,
) -> dict[str, Any]:
    return {
        "uid": uid,
        "title": title,
        "condition": "C",
        "data": [_sql_data(sql, lookback), *_expressions(threshold)],
        "noDataState": no_data,
        "execErrState": "Error",
        "for": "0s",
        "isPaused": False,
        "annotations": {"summary": summary, "description": description},
        "labels": {"severity": severity, "app": "aqm"},
    }


def rules() -> list[dict[str, Any]]:
    """Every rule, in the order of the provisioning file."""
    return [
        _rule(
            HOURLY_RULE_UID,
            f"AQI giờ vượt {HOURLY_AQI_LIMIT} (mức Xấu trở lên)",
            HOURLY_SQL,
            HOURLY_RANGE,
            HOURLY_AQI_LIMIT,
            no_data="OK",
            summary="Trạm {{ $labels.station_id }}: VN_AQI giờ = {{ $values.B }}",
            description=(
                f"VN_AQI giờ gần nhất (trong 3 giờ qua) vượt {HOURLY_AQI_LIMIT}. Không có AQI "
                "không gây cảnh báo ở đây; trạm mất tín hiệu được cảnh báo riêng."
            ),
            severity="warning",
        ),
        _rule(
            DAILY_RULE_UID,
            f"AQI ngày vượt {DAILY_AQI_LIMIT} (mức Rất xấu trở lên)",
            DAILY_SQL,
            DAILY_RANGE,
            DAILY_AQI_LIMIT,
            no_data="OK",
            summary="Trạm {{ $labels.station_id }}: VN_AQI ngày = {{ $values.B }}",
            description=f"VN_AQI của ngày gần nhất (ngày địa phương) vượt {DAILY_AQI_LIMIT}.",
            severity="critical",
        ),
        _rule(
            SILENT_RULE_UID,
            "Trạm im lặng",
            SILENT_SQL,
            HOURLY_RANGE,
            SILENT_THRESHOLD,
            # An empty result means no active station at all, which is worth a look.
            no_data="NoData",
            summary="Trạm {{ $labels.station_id }} không gửi số đo {{ $values.B }} phút",
            description=(
                f"Trạm im lặng: {SILENCE_RULE_VI}. "
                "Tính từ số đo mới nhất đã lưu (readings.ts), không phải từ giá trị AQI. "
                f"{int(SILENCE_LOOKBACK.total_seconds() // 60)} phút nghĩa là không có số đo nào "
                f"trong {SILENCE_LOOKBACK.days} ngày."
            ),
            severity="warning",
        ),
    ]


def rules_file() -> dict[str, Any]:
    """``provisioning/grafana/alerting/rules.yaml``."""
    return {
        "apiVersion": 1,
        "groups": [
            {
                "orgId": 1,
                "name": "aqm-chat-luong-khong-khi",
                "folder": FOLDER,
                "interval": "1m",
                "rules": rules(),
            }
        ],
    }


def notifications_file() -> dict[str, Any]:
    """``provisioning/grafana/alerting/notifications.yaml``: contact point and policy."""
    return {
        "apiVersion": 1,
        "contactPoints": [
            {
                "orgId": 1,
                "name": CONTACT_POINT,
                "receivers": [
                    {
                        "uid": CONTACT_POINT,
                        "type": "email",
                        "settings": {"addresses": "${AQM_ALERT_EMAIL}", "singleEmail": True},
                        "disableResolveMessage": False,
                    }
                ],
            }
        ],
        "policies": [
            {
                "orgId": 1,
                "receiver": CONTACT_POINT,
                "group_by": ["grafana_folder", "alertname"],
                "group_wait": "30s",
                "group_interval": "5m",
                "repeat_interval": "4h",
            }
        ],
    }
