"""Grafana alert rules, the Vietnamese e-mail template, contact points and routing by severity.

Each rule yields one series per station (the ``station_id`` text column becomes the alert
label, with ``parameter`` where a rule is per parameter), reduced to its last value and
compared with a threshold (or with a second query's series, for limits that change with
the date):

- hourly VN_AQI above the top of "Kém" (> 150: Xấu or worse) — warning;
- daily VN_AQI above the top of "Xấu" (> 200: Rất xấu or worse) — critical;
- a silent station: no reading for longer than the greater of 30 minutes and two of its
  report intervals (``stations.report_interval_s``; :func:`sql_fragments.last_seen_cte`)
  — warning;
- a 24-h mean of yesterday (local day) above the QCVN 05:2023/BTNMT limit in force that
  day, one rule per pollutant with a 24-h limit — warning;
- yesterday's data completeness (valid hours of 24) below the daily minimum of the AQI
  engine, per declared parameter — info;
- Decree 08/2022/NĐ-CP Art. 10: daily VN_AQI ≥ 301 on each of the last 3 local days —
  critical (the province is "seriously polluted" and emergency measures apply).

"No data" is kept apart from "clean air": the AQI rules treat an empty result as OK
(no AQI means nothing to warn the public about), and silence is its own rule measured from
the newest stored measurement of every active station, so a station that stops sending
raises the silence alert instead of quietly looking clean.

Every rule names its panel (``__dashboardUid__``/``__panelId__``), so the notification
links to it; the e-mail template (:data:`EMAIL_TEMPLATE`) writes station, pollutant, value,
band and the local time in Vietnamese.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from aqi.categories import categories
from aqm_core.parameters import PARAMETERS
from dashboards.aqi_style import VN_STANDARD, publishable, publishable_join
from dashboards.datasources import EXPRESSION_UID, POSTGRES
from dashboards.sql_fragments import (
    DAILY_MIN_VALID_HOURS,
    SILENCE_LOOKBACK,
    SILENCE_RULE_VI,
    TIME_TO,
    last_seen_cte,
    limit_sql,
    local_date,
    local_day_start,
    local_days_in_range,
    silent_minutes,
)

FOLDER = "Chất lượng không khí"
CONTACT_POINT = "aqm-email"
CRITICAL_CONTACT_POINT = "aqm-email-khan-cap"
TEMPLATE_NAME = "aqm-email"
HOURLY_RULE_UID = "aqm-aqi-gio-tren-150"
DAILY_RULE_UID = "aqm-aqi-ngay-tren-200"
SILENT_RULE_UID = "aqm-tram-im-lang"
COMPLETENESS_RULE_UID = "aqm-do-day-du-ngay"
SERIOUS_POLLUTION_RULE_UID = "aqm-nd08-dieu10-3-ngay"


def qcvn_rule_uid(pollutant: str) -> str:
    return f"aqm-qcvn-24h-{pollutant}"


def _band_top(name_vi: str) -> int:
    """Upper AQI of a VN band: alerts fire strictly above it."""
    for cat in categories(VN_STANDARD):
        if cat.name_vi == name_vi:
            return cat.upper
    raise KeyError(f"no VN_AQI category named {name_vi!r}")


HOURLY_AQI_LIMIT = _band_top("Kém")  # > 150: Xấu, Rất xấu, Nguy hại
DAILY_AQI_LIMIT = _band_top("Xấu")  # > 200: Rất xấu, Nguy hại
SERIOUS_POLLUTION_AQI = _band_top("Rất xấu") + 1  # 301: Decree 08/2022 Art. 10
SERIOUS_POLLUTION_DAYS = 3
DAILY_COMPLETENESS_MIN = round(100 * DAILY_MIN_VALID_HOURS / 24, 1)
"""Per cent of a day's hours that must be valid (the engine's 18 of 24 for daily means)."""

HOURLY_RANGE = dt.timedelta(hours=3)
DAILY_RANGE = dt.timedelta(days=2)
SERIOUS_POLLUTION_RANGE = dt.timedelta(days=SERIOUS_POLLUTION_DAYS + 1)

YESTERDAY = f"({local_date(TIME_TO)} - 1)"
"""The last local day that has ended at the evaluation time."""

# The AQI rules (hourly, daily, Decree 08 Art. 10) judge only station-days whose class may
# publish AQI (``aqi_publishable``); an indicative station's AQI never raises them.
HOURLY_SQL = f"""
SELECT a.hour AS "time", a.station_id, a.aqi::double precision AS value
FROM aqi_hourly a
JOIN stations s ON s.station_id = a.station_id
{publishable_join("a.station_id", local_date("a.hour"))}
WHERE a.standard = '{VN_STANDARD}' AND a.aqi IS NOT NULL AND s.status = 'active'
  AND $__timeFilter(a.hour) AND {publishable()}
ORDER BY 1, 2
"""

DAILY_SQL = f"""
SELECT {local_day_start("a.day")} AS "time", a.station_id, a.aqi::double precision AS value
FROM aqi_daily a
JOIN stations s ON s.station_id = a.station_id
{publishable_join("a.station_id", "a.day")}
WHERE a.standard = '{VN_STANDARD}' AND a.aqi IS NOT NULL AND s.status = 'active'
  AND {local_days_in_range("a.day")} AND {publishable()}
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


def qcvn_pollutants() -> list[str]:
    """Pollutants measured by stations that have a QCVN 24-h limit, in parameter order."""
    return [
        name
        for name, param in PARAMETERS.items()
        if param.is_pollutant and limit_sql(name, "24h", "d") is not None
    ]


def qcvn_mean_sql(pollutant: str) -> str:
    """Yesterday's 24-h mean per active station (only with enough valid hours).

    Read per station through the primary key of ``hourly`` (it has no index on the hour).
    """
    return f"""
SELECT {local_day_start(YESTERDAY)} AS "time", s.station_id, d.value
FROM stations s
CROSS JOIN LATERAL (
  SELECT avg(h.mean) FILTER (WHERE h.valid) AS value,
         count(*) FILTER (WHERE h.valid) AS valid_hours
  FROM hourly h
  WHERE h.station_id = s.station_id AND h.parameter = '{pollutant}'
    AND h.hour >= {local_day_start(YESTERDAY)} AND h.hour < {local_day_start(YESTERDAY + " + 1")}
) d
WHERE s.status = 'active' AND d.valid_hours >= {DAILY_MIN_VALID_HOURS}
ORDER BY 2
"""


def qcvn_limit_sql(pollutant: str) -> str:
    """The 24-h limit in force yesterday, one series per active station (for the math)."""
    limit = limit_sql(pollutant, "24h", YESTERDAY)
    return f"""
SELECT {local_day_start(YESTERDAY)} AS "time", s.station_id,
       ({limit})::double precision AS value
FROM stations s
WHERE s.status = 'active'
ORDER BY 2
"""


# Valid hours of yesterday per active station and parameter it declares or sent, in per
# cent of 24; a station installed later than yesterday is not judged yet. What it sent is
# looked up per station and known parameter (ingest rejects any other) on the primary key.
COMPLETENESS_SQL = f"""
WITH agg AS (
  SELECT s.station_id, p.parameter, d.valid_hours
  FROM stations s
  CROSS JOIN parameters p
  CROSS JOIN LATERAL (
    SELECT count(*) AS n, count(*) FILTER (WHERE h.valid) AS valid_hours
    FROM hourly h
    WHERE h.station_id = s.station_id AND h.parameter = p.parameter
      AND h.hour >= {local_day_start(YESTERDAY)} AND h.hour < {local_day_start(YESTERDAY + " + 1")}
  ) d
  WHERE s.status = 'active' AND d.n > 0
),
pairs AS (
  SELECT s.station_id, unnest(s.parameters) AS parameter
  FROM stations s
  WHERE s.status = 'active' AND (s.installed_on IS NULL OR s.installed_on <= {YESTERDAY})
  UNION
  SELECT agg.station_id, agg.parameter FROM agg
)
SELECT {local_day_start(YESTERDAY)} AS "time", pr.station_id, pr.parameter,
       (100.0 * coalesce(agg.valid_hours, 0) / 24)::double precision AS value
FROM pairs pr
LEFT JOIN agg ON agg.station_id = pr.station_id AND agg.parameter = pr.parameter
ORDER BY 2, 3
"""

# Days with daily VN_AQI ≥ 301 among the last 3 ended local days, per active station.
SERIOUS_POLLUTION_SQL = f"""
SELECT {local_day_start(YESTERDAY)} AS "time", s.station_id,
       count(a.day)::double precision AS value
FROM stations s
LEFT JOIN aqi_daily a
  ON a.station_id = s.station_id AND a.standard = '{VN_STANDARD}'
 AND a.aqi >= {SERIOUS_POLLUTION_AQI}
 AND a.day > {YESTERDAY} - {SERIOUS_POLLUTION_DAYS} AND a.day <= {YESTERDAY}
 AND aqi_publishable(a.station_id, a.day)
WHERE s.status = 'active'
GROUP BY s.station_id
ORDER BY 2
"""


def _sql_data(sql: str, lookback: dt.timedelta, ref_id: str = "A") -> dict[str, Any]:
    return {
        "refId": ref_id,
        "relativeTimeRange": {"from": int(lookback.total_seconds()), "to": 0},
        "datasourceUid": POSTGRES.uid,
        "model": {
            "refId": ref_id,
            "datasource": POSTGRES.ref(),
            "editorMode": "code",
            "format": "time_series",
            "rawQuery": True,
            "rawSql": sql.strip(),
            "intervalMs": 60000,
            "maxDataPoints": 43200,
        },
    }


EXPR_REF = {"type": "__expr__", "uid": EXPRESSION_UID}


def _reduce(ref_id: str, source: str) -> dict[str, Any]:
    return {
        "refId": ref_id,
        "datasourceUid": EXPRESSION_UID,
        "model": {
            "refId": ref_id,
            "datasource": EXPR_REF,
            "type": "reduce",
            "expression": source,
            "reducer": "last",
            "settings": {"mode": "dropNN"},
        },
    }


def _threshold(ref_id: str, source: str, kind: str, value: float) -> dict[str, Any]:
    return {
        "refId": ref_id,
        "datasourceUid": EXPRESSION_UID,
        "model": {
            "refId": ref_id,
            "datasource": EXPR_REF,
            "type": "threshold",
            "expression": source,
            "conditions": [{"evaluator": {"type": kind, "params": [value]}}],
        },
    }


def _math(ref_id: str, expression: str) -> dict[str, Any]:
    return {
        "refId": ref_id,
        "datasourceUid": EXPRESSION_UID,
        "model": {
            "refId": ref_id,
            "datasource": EXPR_REF,
            "type": "math",
            "expression": expression,
        },
    }


def vn_band_template(value: str) -> str:
    """Go template naming the VN_AQI band of ``value`` (Decision 1459 names)."""
    bands = categories(VN_STANDARD)
    parts = [f"{{{{ if le {value} {bands[0].upper}.0 }}}}{bands[0].name_vi}"]
    parts += [f"{{{{ else if le {value} {c.upper}.0 }}}}{c.name_vi}" for c in bands[1:-1]]
    parts.append(f"{{{{ else }}}}{bands[-1].name_vi}{{{{ end }}}}")
    return "".join(parts)


def _panel_ids() -> dict[tuple[str, str], int]:
    """(dashboard uid, panel title) → panel id, from the dashboards as generated."""
    from dashboards import daily_aqi, data_quality, overview, station

    builders: list[Callable[[], dict[str, Any]]] = [
        overview.build,
        station.build,
        daily_aqi.build,
        data_quality.build,
    ]
    ids = {}
    for build in builders:
        board = build()
        for panel in board["panels"]:
            ids[(board["uid"], panel["title"])] = panel["id"]
    return ids


def _panel_of(uid: str, title_start: str) -> tuple[str, int]:
    matches = [
        (u, i) for (u, t), i in _panel_ids().items() if u == uid and t.startswith(title_start)
    ]
    if len(matches) != 1:
        raise LookupError(f"{uid}: {len(matches)} panels titled {title_start!r}…")
    return matches[0]


def _rule(
    uid: str,
    title: str,
    data: list[dict[str, Any]],
    *,
    condition: str,
    no_data: str,
    summary: str,
    description: str,
    severity: str,
    panel: tuple[str, int],
    pollutant: str,
    value: str,
    band: str,
) -> dict[str, Any]:
    dashboard_uid, panel_id = panel
    return {
        "uid": uid,
        "title": title,
        "condition": condition,
        "data": data,
        "noDataState": no_data,
        "execErrState": "Error",
        "for": "0s",
        "isPaused": False,
        "annotations": {
            "summary": summary,
            "description": description,
            "pollutant": pollutant,
            "value": value,
            "band": band,
            "__dashboardUid__": dashboard_uid,
            "__panelId__": str(panel_id),
        },
        "labels": {"severity": severity, "app": "aqm"},
    }


def _simple(
    uid: str, title: str, sql: str, lookback: dt.timedelta, kind: str, threshold: float, **kw: Any
) -> dict[str, Any]:
    data = [_sql_data(sql, lookback), _reduce("B", "A"), _threshold("C", "B", kind, threshold)]
    return _rule(uid, title, data, condition="C", **kw)


def qcvn_rule(pollutant: str) -> dict[str, Any]:
    param = PARAMETERS[pollutant]
    data = [
        _sql_data(qcvn_mean_sql(pollutant), DAILY_RANGE, "A"),
        _sql_data(qcvn_limit_sql(pollutant), DAILY_RANGE, "L"),
        _reduce("B", "A"),
        _reduce("M", "L"),
        _math("C", "$B > $M"),
    ]
    return _rule(
        qcvn_rule_uid(pollutant),
        f"{param.name_vi}: trung bình 24 giờ vượt QCVN 05:2023/BTNMT",
        data,
        condition="C",
        no_data="OK",
        summary=(
            f"Trạm {{{{ $labels.station_id }}}}: {param.name_vi} trung bình 24 giờ hôm qua "
            f'{{{{ printf "%.1f" $values.B.Value }}}} {param.unit}, giới hạn '
            f"{{{{ $values.M.Value }}}} {param.unit}"
        ),
        description=(
            "Trung bình 24 giờ của ngày hôm qua (ngày địa phương, đủ "
            f"{DAILY_MIN_VALID_HOURS} giờ hợp lệ) vượt giới hạn QCVN 05:2023/BTNMT có hiệu lực "
            "vào ngày đó."
        ),
        severity="warning",
        panel=_panel_of("aqm-tram", f"{param.name_vi} ("),
        pollutant=param.name_vi,
        value=f'{{{{ printf "%.1f" $values.B.Value }}}} {param.unit} (giới hạn '
        f"{{{{ $values.M.Value }}}})",
        band="vượt QCVN 05:2023/BTNMT",
    )


def rules() -> list[dict[str, Any]]:
    """Every rule, in the order of the provisioning file."""
    aqi_value = '{{ printf "%.0f" $values.B.Value }}'
    return [
        _simple(
            HOURLY_RULE_UID,
            f"AQI giờ vượt {HOURLY_AQI_LIMIT} (mức Xấu trở lên)",
            HOURLY_SQL,
            HOURLY_RANGE,
            "gt",
            HOURLY_AQI_LIMIT,
            no_data="OK",
            summary="Trạm {{ $labels.station_id }}: VN_AQI giờ = " + aqi_value,
            description=(
                f"VN_AQI giờ gần nhất (trong 3 giờ qua) vượt {HOURLY_AQI_LIMIT}. Không có AQI "
                "không gây cảnh báo ở đây; trạm mất tín hiệu được cảnh báo riêng."
            ),
            severity="warning",
            panel=_panel_of("aqm-tram", "AQI giờ"),
            pollutant="VN_AQI giờ",
            value=aqi_value,
            band=vn_band_template("$values.B.Value"),
        ),
        _simple(
            DAILY_RULE_UID,
            f"AQI ngày vượt {DAILY_AQI_LIMIT} (mức Rất xấu trở lên)",
            DAILY_SQL,
            DAILY_RANGE,
            "gt",
            DAILY_AQI_LIMIT,
            no_data="OK",
            summary="Trạm {{ $labels.station_id }}: VN_AQI ngày = " + aqi_value,
            description=f"VN_AQI của ngày gần nhất (ngày địa phương) vượt {DAILY_AQI_LIMIT}.",
            severity="critical",
            panel=_panel_of("aqm-aqi-ngay", "VN_AQI ngày theo trạm"),
            pollutant="VN_AQI ngày",
            value=aqi_value,
            band=vn_band_template("$values.B.Value"),
        ),
        _simple(
            SILENT_RULE_UID,
            "Trạm im lặng",
            SILENT_SQL,
            HOURLY_RANGE,
            "gt",
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
            panel=_panel_of("aqm-tong-quan", "AQI giờ mới nhất và tín hiệu trạm"),
            pollutant="tín hiệu trạm",
            value="{{ $values.B }} phút không có số đo",
            band="im lặng",
        ),
        *[qcvn_rule(p) for p in qcvn_pollutants()],
        _simple(
            COMPLETENESS_RULE_UID,
            f"Độ đầy đủ số liệu ngày dưới {DAILY_COMPLETENESS_MIN:g} %",
            COMPLETENESS_SQL,
            DAILY_RANGE,
            "lt",
            DAILY_COMPLETENESS_MIN,
            no_data="OK",
            summary=(
                "Trạm {{ $labels.station_id }}, {{ $labels.parameter }}: "
                '{{ printf "%.0f" $values.B.Value }} % giờ hợp lệ hôm qua'
            ),
            description=(
                f"Ngày hôm qua (ngày địa phương) có dưới {DAILY_MIN_VALID_HOURS} giờ hợp lệ trên "
                "24: không đủ để tính trung bình 24 giờ và AQI ngày."
            ),
            severity="info",
            panel=_panel_of("aqm-chat-luong-du-lieu", "Độ đầy đủ số liệu"),
            pollutant="{{ $labels.parameter }}",
            value='{{ printf "%.0f" $values.B.Value }} % giờ hợp lệ',
            band="thiếu số liệu",
        ),
        _simple(
            SERIOUS_POLLUTION_RULE_UID,
            f"VN_AQI ngày ≥ {SERIOUS_POLLUTION_AQI} trong {SERIOUS_POLLUTION_DAYS} ngày liên tiếp"
            " (NĐ 08/2022 Điều 10)",
            SERIOUS_POLLUTION_SQL,
            SERIOUS_POLLUTION_RANGE,
            "gt",
            SERIOUS_POLLUTION_DAYS - 1,
            no_data="OK",
            summary=(
                "Trạm {{ $labels.station_id }}: VN_AQI ngày ≥ "
                f"{SERIOUS_POLLUTION_AQI} trong {SERIOUS_POLLUTION_DAYS} ngày liên tiếp"
            ),
            description=(
                f"VN_AQI ngày ≥ {SERIOUS_POLLUTION_AQI} (mức Nguy hại) trong "
                f"{SERIOUS_POLLUTION_DAYS} ngày địa phương liên tiếp đến hết hôm qua: ô nhiễm "
                "không khí nghiêm trọng theo Điều 10 Nghị định 08/2022/NĐ-CP, cần áp dụng biện "
                "pháp khẩn cấp."
            ),
            severity="critical",
            panel=_panel_of("aqm-aqi-ngay", "VN_AQI ngày theo trạm"),
            pollutant="VN_AQI ngày",
            value=f"{{{{ $values.B }}}}/{SERIOUS_POLLUTION_DAYS} ngày ≥ {SERIOUS_POLLUTION_AQI}",
            band=categories(VN_STANDARD)[-1].name_vi,
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


ICT_OFFSET_NS = 7 * 3600 * 1_000_000_000
"""Asia/Ho_Chi_Minh is UTC+7 all year (no daylight saving): times in the mail are shifted by
this many nanoseconds and labelled ICT, which works in every Grafana version's templates."""

EMAIL_TEMPLATE = (
    '{{ define "aqm.email.subject" }}'
    '[{{ if eq .Status "firing" }}CẢNH BÁO{{ else }}ĐÃ HẾT{{ end }}] '
    "{{ .CommonLabels.alertname }}"
    "{{ if .CommonLabels.station_id }} – trạm {{ .CommonLabels.station_id }}{{ end }}"
    " ({{ len .Alerts.Firing }} đang cảnh báo)"
    "{{ end }}\n"
    '{{ define "aqm.email.time" }}'
    f'{{{{ (.Add {ICT_OFFSET_NS}).Format "15:04 02/01/2006" }}}} (giờ Việt Nam)'
    "{{ end }}\n"
    '{{ define "aqm.email.alert" }}'
    "Cảnh báo: {{ .Labels.alertname }}\n"
    "Trạm: {{ .Labels.station_id }}\n"
    "Chất ô nhiễm / chỉ số: {{ .Annotations.pollutant }}\n"
    "Giá trị: {{ .Annotations.value }}\n"
    "Mức: {{ .Annotations.band }}\n"
    'Bắt đầu: {{ template "aqm.email.time" .StartsAt }}\n'
    '{{ if eq .Status "resolved" }}Kết thúc: {{ template "aqm.email.time" .EndsAt }}\n'
    "{{ end }}"
    "{{ .Annotations.summary }}\n"
    "{{ .Annotations.description }}\n"
    "{{ if .PanelURL }}Xem biểu đồ: {{ .PanelURL }}"
    "{{ if .Labels.station_id }}&var-station={{ .Labels.station_id }}{{ end }}\n{{ end }}"
    "{{ end }}\n"
    '{{ define "aqm.email.message" }}'
    "{{ if .Alerts.Firing }}ĐANG CẢNH BÁO ({{ len .Alerts.Firing }})\n\n"
    '{{ range .Alerts.Firing }}{{ template "aqm.email.alert" . }}\n{{ end }}{{ end }}'
    "{{ if .Alerts.Resolved }}ĐÃ HẾT ({{ len .Alerts.Resolved }})\n\n"
    '{{ range .Alerts.Resolved }}{{ template "aqm.email.alert" . }}\n{{ end }}{{ end }}'
    "{{ end }}\n"
)
"""Vietnamese e-mail subject and body: station, pollutant, value, band, local time, panel link."""


def _email_receiver(uid: str, addresses: str) -> dict[str, Any]:
    return {
        "uid": uid,
        "type": "email",
        "settings": {
            "addresses": addresses,
            "singleEmail": True,
            "subject": '{{ template "aqm.email.subject" . }}',
            "message": '{{ template "aqm.email.message" . }}',
        },
        "disableResolveMessage": False,
    }


def notifications_file() -> dict[str, Any]:
    """``provisioning/grafana/alerting/notifications.yaml``: template, contact points, routes.

    Critical alerts (daily AQI in Rất xấu or worse, Decree 08 Art. 10) go to their own
    contact point at once and are repeated hourly; warnings go to the default one every
    4 hours; completeness (info) once a day.
    """
    return {
        "apiVersion": 1,
        "templates": [{"orgId": 1, "name": TEMPLATE_NAME, "template": EMAIL_TEMPLATE}],
        "contactPoints": [
            {
                "orgId": 1,
                "name": CONTACT_POINT,
                "receivers": [_email_receiver(CONTACT_POINT, "${AQM_ALERT_EMAIL}")],
            },
            {
                "orgId": 1,
                "name": CRITICAL_CONTACT_POINT,
                "receivers": [
                    _email_receiver(CRITICAL_CONTACT_POINT, "${AQM_ALERT_EMAIL_CRITICAL}")
                ],
            },
        ],
        "policies": [
            {
                "orgId": 1,
                "receiver": CONTACT_POINT,
                "group_by": ["grafana_folder", "alertname"],
                "group_wait": "30s",
                "group_interval": "5m",
                "repeat_interval": "4h",
                "routes": [
                    {
                        "receiver": CRITICAL_CONTACT_POINT,
                        "object_matchers": [["severity", "=", "critical"]],
                        "group_wait": "10s",
                        "repeat_interval": "1h",
                    },
                    {
                        "receiver": CONTACT_POINT,
                        "object_matchers": [["severity", "=", "info"]],
                        "repeat_interval": "24h",
                    },
                ],
            }
        ],
    }
