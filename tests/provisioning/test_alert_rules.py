"""Alert rules evaluated the way Grafana does: SQL (time series) → reduce last → threshold."""

from __future__ import annotations

import datetime as dt
from typing import Any

import psycopg
import pytest

from dashboards import alerts, overview, station
from dashboards.macros import TimeRange
from dashboards.sql_fragments import SILENT_AFTER, interval_sql, last_seen_cte
from tests.provisioning.seed import END, Runner

pytestmark = pytest.mark.services


def _rule(uid: str) -> dict[str, Any]:
    return next(r for r in alerts.rules() if r["uid"] == uid)


def firing(run_sql: Runner, uid: str, now: dt.datetime = END) -> dict[str, float]:
    """Series (by station_id label) whose last non-null value passes the rule's threshold."""
    rule = _rule(uid)
    query, reduce, threshold = rule["data"]
    assert (reduce["model"]["type"], reduce["model"]["reducer"]) == ("reduce", "last")
    assert reduce["model"]["settings"]["mode"] == "dropNN"
    evaluator = threshold["model"]["conditions"][0]["evaluator"]
    assert evaluator["type"] == "gt"
    lookback = dt.timedelta(seconds=query["relativeTimeRange"]["from"])
    result = run_sql(query["model"]["rawSql"], TimeRange(now - lookback, now))
    assert result.columns == ["time", "station_id", "value"]
    last: dict[str, tuple[dt.datetime, float]] = {}
    for when, station_id, value in result.rows:
        if value is not None and (station_id not in last or when >= last[station_id][0]):
            last[station_id] = (when, value)
    return {s: v for s, (_, v) in last.items() if v > evaluator["params"][0]}


def test_thresholds_are_the_vn_band_tops() -> None:
    assert (alerts.HOURLY_AQI_LIMIT, alerts.DAILY_AQI_LIMIT) == (150, 200)


def test_hourly_aqi_alert_uses_the_latest_hour(seeded_db: str, run_sql: Runner) -> None:
    # BN05 was at 180 two hours ago but 25 now; retired BN04 (300) is ignored.
    assert firing(run_sql, alerts.HOURLY_RULE_UID) == {"BN01": 160.0}


def test_daily_aqi_alert_uses_the_latest_local_day(seeded_db: str, run_sql: Runner) -> None:
    # BN05: 250 on 8 March, 90 on 9 March; BN02's 300 on 7 March is out of the 2-day range.
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
    # 74 min later BN02 has been quiet 119 min; BN01 (79 min) and BN05 (76 min) are silent
    at_74 = END + dt.timedelta(minutes=74)
    assert firing(run_sql, alerts.SILENT_RULE_UID, at_74) == {
        "BN01": 79.0,
        "BN03": 43200.0,
        "BN05": 76.0,
    }
    at_76 = END + dt.timedelta(minutes=76)
    assert firing(run_sql, alerts.SILENT_RULE_UID, at_76) == {
        "BN01": 81.0,
        "BN02": 121.0,
        "BN03": 43200.0,
        "BN05": 78.0,
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
