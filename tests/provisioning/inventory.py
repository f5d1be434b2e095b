"""Every query held by the generated provisioning: panel targets, variable queries, alert data.

Used to check the provisioning as a whole (data source uids, SQL run against a real
database through :mod:`tests.provisioning.macros`, PromQL metric names).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from dashboards import alerts
from dashboards.datasources import EXPRESSION_UID, POSTGRES


@dataclass(frozen=True)
class Query:
    """One query and where it lives (``file › panel › refId``)."""

    location: str
    datasource_uid: str
    text: str
    fmt: str  # "table", "time_series", "variable" (SQL) or "promql"
    alert_lookback_s: int | None = None

    @property
    def is_sql(self) -> bool:
        return self.datasource_uid == POSTGRES.uid


def dashboard_queries(name: str, board: Mapping[str, Any]) -> Iterator[Query]:
    for variable in board.get("templating", {}).get("list", []):
        if variable.get("type") == "query":
            yield Query(
                f"{name} › ${variable['name']}",
                variable["datasource"]["uid"],
                variable["query"],
                "variable",
            )
    for panel in board.get("panels", []):
        for target in panel.get("targets", []):
            where = f"{name} › {panel['title']} › {target['refId']}"
            uid = target["datasource"]["uid"]
            if "rawSql" in target:
                yield Query(where, uid, target["rawSql"], target.get("format", "time_series"))
            else:
                yield Query(where, uid, target["expr"], "promql")


def alert_queries(rules_file: Mapping[str, Any] | None = None) -> Iterator[Query]:
    data = rules_file or alerts.rules_file()
    for group in data["groups"]:
        for rule in group["rules"]:
            for item in rule["data"]:
                if item["datasourceUid"] == EXPRESSION_UID:
                    continue
                model = item["model"]
                yield Query(
                    f"alert {rule['uid']} › {item['refId']}",
                    item["datasourceUid"],
                    model["rawSql"],
                    model.get("format", "time_series"),
                    item["relativeTimeRange"]["from"] - item["relativeTimeRange"]["to"],
                )


def all_queries(boards: Mapping[str, Mapping[str, Any]]) -> list[Query]:
    found = [q for name, board in boards.items() for q in dashboard_queries(name, board)]
    return found + list(alert_queries())
