"""Alert rules evaluated the way Grafana does: SQL (time series) → reduce last → threshold."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import psycopg
import pytest

from dashboards import alerts, overview, station
from dashboards.datasources import EXPRESSION_UID
from dashboards.sql_fragments import SILENT_AFTER, interval_sql, last_seen_cte
from tests.provisioning.macros import TimeRange
from tests.provisioning.seed import END, ICT, Runner, insert_hourly, insert_stations

pytestmark = pytest.mark.services


def _rule(uid: str) -> dict[str, Any]:
    return next(r for r in alerts.rules() if r["uid"] == uid)


Labels = tuple[str, ...]


def _series(result: Any) -> dict[Labels, float]:
    """Last non-null value of each series (labels = the text columns), as reduce/last/dropNN."""
    label_columns = [c for c in result.columns if c not in ("time", "value")]
    last: dict[Labels, tuple[dt.datetime, float]] = {}
    for row in result.as_dicts():
        labels = tuple(row[c] for c in label_columns)
        value = row["value"]
        if value is not None and (labels not in last or row["time"] >= last[labels][0]):
            last[labels] = (row["time"], float(value))
    return {labels: v for labels, (_, v) in last.items()}


def evaluate(run_sql: Runner, uid: str, now: dt.datetime = END) -> dict[Any, float]:
    """Evaluate a rule as Grafana does: SQL queries (time series), reduce, threshold/math.

    Returns the firing series (keyed by station_id, or (station_id, parameter)) with the
    value of the first reduce expression.
    """
    rule = _rule(uid)
    values: dict[str, dict[Labels, float]] = {}
    conditions: dict[str, dict[Labels, bool]] = {}
    for item in rule["data"]:
        model = item["model"]
        if item["datasourceUid"] != EXPRESSION_UID:
            lookback = dt.timedelta(seconds=item["relativeTimeRange"]["from"])
            result = run_sql(model["rawSql"], TimeRange(now - lookback, now))
            assert result.columns[0] == "time" and result.columns[-1] == "value"
            values[item["refId"]] = _series(result)
        elif model["type"] == "reduce":
            assert (model["reducer"], model["settings"]["mode"]) == ("last", "dropNN")
            values[item["refId"]] = values[model["expression"]]
        elif model["type"] == "threshold":
            evaluator = model["conditions"][0]["evaluator"]
            compare = {"gt": float.__gt__, "lt": float.__lt__}[evaluator["type"]]
            limit = float(evaluator["params"][0])
            conditions[item["refId"]] = {
                k: compare(v, limit) for k, v in values[model["expression"]].items()
            }
        else:
            assert model["type"] == "math"
            left, op, right = model["expression"].split()
            assert op == ">"
            lhs, rhs = values[left.lstrip("$")], values[right.lstrip("$")]
            # Grafana joins the two sides' series on equal labels
            conditions[item["refId"]] = {k: lhs[k] > rhs[k] for k in lhs if k in rhs}
    first_reduce = next(d["refId"] for d in rule["data"] if d["model"].get("type") == "reduce")
    fired = conditions[rule["condition"]]
    return {(k[0] if len(k) == 1 else k): values[first_reduce][k] for k, on in fired.items() if on}


def firing(run_sql: Runner, uid: str, now: dt.datetime = END) -> dict[Any, float]:
    return evaluate(run_sql, uid, now)


def test_thresholds_are_the_vn_band_tops() -> None:
    assert (alerts.HOURLY_AQI_LIMIT, alerts.DAILY_AQI_LIMIT) == (150, 200)


def test_hourly_aqi_alert_uses_the_latest_hour(seeded_db: str, run_sql: Runner) -> None:
    # BN05 was at 180 two hours ago but 25 now; retired BN04 (300) is ignored, and so is the
    # low-cost BN06 (350): its AQI may not be published.
    assert firing(run_sql, alerts.HOURLY_RULE_UID) == {"BN01": 160.0}


def test_daily_aqi_alert_uses_the_latest_local_day(seeded_db: str, run_sql: Runner) -> None:
    # BN05: 250 on 8 March, 90 on 9 March; BN02's 300 on 7 March is out of the 2-day range;
    # the low-cost BN06 (260 on 9 March) may not publish AQI.
    assert firing(run_sql, alerts.DAILY_RULE_UID) == {"BN01": 210.0}


def test_silence_alert_fires_for_silent_stations_only(seeded_db: str, run_sql: Runner) -> None:
    # BN02's last AQI was clean (42) but it stopped sending: silence, not clean air.
    # BN03 has no reading in 30 days: the whole lookback in minutes.
    assert firing(run_sql, alerts.SILENT_RULE_UID) == {"BN02": 45.0, "BN03": 43200.0}
    # 20 minutes earlier BN02 had only been quiet for 25 minutes.
    assert firing(run_sql, alerts.SILENT_RULE_UID, END - dt.timedelta(minutes=20)) == {
        "BN03": 43200.0
    }


def test_no_data_is_not_clean_air() -> None:
    states = {r["uid"]: r["noDataState"] for r in alerts.rules()}
    assert states[alerts.HOURLY_RULE_UID] == "OK"
    assert states[alerts.DAILY_RULE_UID] == "OK"
    # silence is measured from readings, and an empty result (no active station) is shown
    assert states[alerts.SILENT_RULE_UID] == "NoData"
    assert "readings" in alerts.SILENT_SQL and "aqi" not in alerts.SILENT_SQL.lower()


def test_silence_alert_follows_each_station_report_interval(
    seeded_db: str, run_sql: Runner
) -> None:
    # BN02 reports hourly: silent only after 2 × 60 min, not after 30 min.
    with psycopg.connect(seeded_db, autocommit=True) as conn:
        conn.execute("UPDATE stations SET report_interval_s = 3600 WHERE station_id = 'BN02'")
    assert firing(run_sql, alerts.SILENT_RULE_UID) == {"BN03": 43200.0}
    # 74 min later BN02 has been quiet 119 min; BN01 (79 min), BN05 (76 min) and BN06
    # (75 min: silence concerns indicative stations too) are silent
    at_74 = END + dt.timedelta(minutes=74)
    assert firing(run_sql, alerts.SILENT_RULE_UID, at_74) == {
        "BN01": 79.0,
        "BN03": 43200.0,
        "BN05": 76.0,
        "BN06": 75.0,
    }
    at_76 = END + dt.timedelta(minutes=76)
    assert firing(run_sql, alerts.SILENT_RULE_UID, at_76) == {
        "BN01": 81.0,
        "BN02": 121.0,
        "BN03": 43200.0,
        "BN05": 78.0,
        "BN06": 77.0,
    }


def test_every_silence_query_uses_the_one_rule() -> None:
    cte = last_seen_cte()
    floor = interval_sql(SILENT_AFTER)
    assert floor in cte and "report_interval_s" in cte
    for sql in (
        alerts.SILENT_SQL,
        overview.SILENT_COUNT_SQL,
        overview.LATEST_TABLE_SQL,
        station.SILENCE_SQL,
    ):
        assert cte in sql
        rest = sql.replace(cte, "")
        assert floor not in rest and "report_interval_s" not in rest


def _hours(start: dt.datetime, count: int) -> list[dt.datetime]:
    return [start + dt.timedelta(hours=i) for i in range(count)]


def test_qcvn_24h_alert_uses_the_limit_in_force_that_day(clean_db: str, run_sql: Runner) -> None:
    """PM2.5 24-h limit: 50 µg/m³ until 31/12/2025, 45 from 01/01/2026 (QCVN 05:2023)."""
    with psycopg.connect(clean_db, autocommit=True) as conn:
        insert_stations(conn)
        for i, hour in enumerate(_hours(dt.datetime(2025, 12, 31, tzinfo=ICT), 24)):
            insert_hourly(conn, "BN01", "pm25", hour, 48.0, valid=i >= 4)  # 20 valid, mean 48
        for i, hour in enumerate(_hours(dt.datetime(2026, 1, 1, tzinfo=ICT), 18)):
            insert_hourly(conn, "BN01", "pm25", hour, 46.0 if i % 2 else 48.0)  # mean 47
            insert_hourly(conn, "BN02", "pm25", hour, 40.0)  # under the new limit
        for hour in _hours(dt.datetime(2026, 1, 1, tzinfo=ICT), 17):  # 17 valid hours only
            insert_hourly(conn, "BN05", "pm25", hour, 300.0)
        for hour in _hours(dt.datetime(2025, 12, 31, tzinfo=ICT), 24):
            insert_hourly(conn, "BN02", "pm10", hour, 101.0)  # PM10 limit 100
    pm25 = alerts.qcvn_rule_uid("pm25")
    # On 1 January the day judged is 31 December: 48 < 50 (that day's limit), nothing fires.
    assert evaluate(run_sql, pm25, dt.datetime(2026, 1, 1, 9, tzinfo=ICT)) == {}
    # On 2 January it is 1 January: 47 > 45; BN05 has too few valid hours for a mean.
    assert evaluate(run_sql, pm25, dt.datetime(2026, 1, 2, 9, tzinfo=ICT)) == {
        "BN01": pytest.approx(47.0)
    }
    assert evaluate(
        run_sql, alerts.qcvn_rule_uid("pm10"), dt.datetime(2026, 1, 1, 9, tzinfo=ICT)
    ) == {"BN02": pytest.approx(101.0)}
    assert set(alerts.qcvn_pollutants()) >= {"pm25", "pm10", "no2", "so2"}


def test_daily_completeness_alert_per_declared_parameter(clean_db: str, run_sql: Runner) -> None:
    with psycopg.connect(clean_db, autocommit=True) as conn:
        insert_stations(conn)
        conn.execute("UPDATE stations SET parameters = '{pm25,no2,pm10}' WHERE station_id = 'BN01'")
        conn.execute(
            "UPDATE stations SET parameters = '{pm25}', installed_on = '2025-03-10'"
            " WHERE station_id = 'BN05'"
        )
        day = dt.datetime(2025, 3, 9, tzinfo=ICT)
        for i, hour in enumerate(_hours(day, 24)):
            insert_hourly(conn, "BN01", "pm25", hour, 10.0, valid=i < 20)  # 20/24
            if i < 10:
                insert_hourly(conn, "BN01", "no2", hour, 10.0)  # 10/24
            if i < 18:
                insert_hourly(conn, "BN02", "pm25", hour, 10.0)  # 18/24: exactly enough
    # END is 10 March 12:00 ICT: yesterday is 9 March. pm10 declared but never received: 0 %.
    got = evaluate(run_sql, alerts.COMPLETENESS_RULE_UID)
    assert got == {
        ("BN01", "no2"): pytest.approx(100 * 10 / 24),
        ("BN01", "pm10"): 0.0,
    }
    assert alerts.DAILY_COMPLETENESS_MIN == 75.0  # 18 of 24 hours


def test_serious_pollution_needs_three_consecutive_days(clean_db: str, run_sql: Runner) -> None:
    """Decree 08/2022 Art. 10: daily VN_AQI ≥ 301 for 3 consecutive days."""
    days = [dt.date(2025, 3, d) for d in (6, 7, 8, 9)]  # END: 10 March, yesterday 9 March
    series: dict[str, list[int | None]] = {
        "BN01": [100, 320, 301, 450],  # 7, 8, 9 March ≥ 301: fires
        "BN02": [350, 350, 300, 400],  # 300 on 8 March breaks the run
        "BN05": [400, 400, 400, None],  # no AQI yesterday
        "BN03": [400, 400, 400, 400],  # a low-cost sensor: its AQI may not be published
    }
    with psycopg.connect(clean_db, autocommit=True) as conn:
        insert_stations(conn)
        conn.execute("UPDATE stations SET public_aqi = true, parameters = '{pm25,o3,no2}'")
        conn.execute(
            "UPDATE stations SET station_type = 'low_cost_sensor', public_aqi = false"
            " WHERE station_id = 'BN03'"
        )
        for station_id, values in series.items():
            for day, aqi in zip(days, values, strict=True):
                conn.execute(
                    "INSERT INTO aqi_daily (station_id, standard, day, aqi, method_version)"
                    " VALUES (%s, 'vn_1459_2019', %s, %s, 'test')",
                    (station_id, day, aqi),
                )
        # today (10 March, not over) at 500 does not count for BN02
        conn.execute(
            "INSERT INTO aqi_daily (station_id, standard, day, aqi, method_version)"
            " VALUES ('BN02', 'vn_1459_2019', '2025-03-10', 500, 'test')"
        )
    assert evaluate(run_sql, alerts.SERIOUS_POLLUTION_RULE_UID) == {"BN01": 3.0}
    assert alerts.SERIOUS_POLLUTION_AQI == 301


def test_every_rule_links_to_an_existing_panel() -> None:
    from dashboards.provisioning import dashboards

    panels = {
        (board["uid"], panel["id"]): panel["title"]
        for board in dashboards().values()
        for panel in board["panels"]
    }
    expected_titles = {
        alerts.HOURLY_RULE_UID: "AQI giờ",
        alerts.DAILY_RULE_UID: "VN_AQI ngày theo trạm",
        alerts.SERIOUS_POLLUTION_RULE_UID: "VN_AQI ngày theo trạm",
        alerts.SILENT_RULE_UID: "AQI giờ mới nhất và tín hiệu trạm",
        alerts.COMPLETENESS_RULE_UID: "Độ đầy đủ số liệu theo trạm và thông số",
        alerts.qcvn_rule_uid("pm25"): "Bụi PM2.5 (µg/m³) so với QCVN 05:2023/BTNMT",
    }
    for rule in alerts.rules():
        notes = rule["annotations"]
        key = (notes["__dashboardUid__"], int(notes["__panelId__"]))
        assert key in panels, rule["uid"]
        if rule["uid"] in expected_titles:
            assert panels[key] == expected_titles[rule["uid"]], rule["uid"]
        for field in ("summary", "description", "pollutant", "value", "band"):
            assert notes[field], (rule["uid"], field)


def test_band_template_names_the_vn_bands() -> None:
    text = alerts.vn_band_template("$x")
    assert text.startswith("{{ if le $x 50.0 }}Tốt{{ else if le $x 100.0 }}Trung bình")
    assert "{{ else if le $x 300.0 }}Rất xấu{{ else }}Nguy hại{{ end }}" in text


def test_notifications_route_by_severity_with_the_vietnamese_template() -> None:
    data = alerts.notifications_file()
    template = data["templates"][0]["template"]
    defined = set(re.findall(r'\{\{ define "([^"]+)" \}\}', template))
    assert defined == {
        "aqm.email.subject",
        "aqm.email.time",
        "aqm.email.alert",
        "aqm.email.message",
    }
    for field in (
        ".Labels.station_id",
        ".Annotations.pollutant",
        ".Annotations.value",
        ".Annotations.band",
        ".StartsAt",
        ".PanelURL",
    ):
        assert field in template
    assert "(.Add 25200000000000)" in template and "giờ Việt Nam" in template
    used = set()
    for point in data["contactPoints"]:
        for receiver in point["receivers"]:
            settings = receiver["settings"]
            used |= set(
                re.findall(r'template "([^"]+)"', settings["subject"] + settings["message"])
            )
    assert used == {"aqm.email.subject", "aqm.email.message"}
    names = {p["name"] for p in data["contactPoints"]}
    policy = data["policies"][0]
    assert policy["receiver"] in names
    routes = {r["object_matchers"][0][2]: r["receiver"] for r in policy["routes"]}
    assert routes["critical"] == alerts.CRITICAL_CONTACT_POINT != policy["receiver"]
    severities = {r["uid"]: r["labels"]["severity"] for r in alerts.rules()}
    assert severities[alerts.SERIOUS_POLLUTION_RULE_UID] == "critical"
    assert severities[alerts.COMPLETENESS_RULE_UID] == "info"
    assert set(severities.values()) <= {"critical", "warning", "info"}
