"""The two Grafana data sources aqm provisions, with pinned uids every panel refers to.

Connection details come from the environment when Grafana starts (Grafana expands
``$VAR``/``${VAR}`` in provisioning YAML and ``$__env{VAR}`` for secrets); nothing
secret is written to the repository.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class DatasourceRef:
    uid: str
    type: str
    name: str

    def ref(self) -> dict[str, str]:
        return {"type": self.type, "uid": self.uid}


# Plugin id of the core PostgreSQL data source since Grafana 10.3 ("postgres" is its alias).
POSTGRES = DatasourceRef("aqm-timescaledb", "grafana-postgresql-datasource", "aqm TimescaleDB")
PROMETHEUS = DatasourceRef("aqm-prometheus", "prometheus", "aqm Prometheus")
EXPRESSION_UID = "__expr__"  # Grafana's server-side expressions (reduce, threshold) in alerts

READER_ROLE = "aqm_reader"
ENVIRONMENT = {
    "AQM_DB_HOST": "TimescaleDB host name as seen from the Grafana container",
    "AQM_DB_PORT": "TimescaleDB port (5432 inside docker-compose)",
    "AQM_DB_NAME": "database name (aqm)",
    "AQM_READER_PASSWORD": "password of the read-only aqm_reader role",
    "AQM_PROMETHEUS_URL": "Prometheus base URL, e.g. http://prometheus:9090",
    "AQM_ALERT_EMAIL": "address(es) alerts are mailed to, separated by ';'",
}
"""Environment variables the provisioning files read, and what each must hold."""


def datasources_file() -> dict[str, Any]:
    """``provisioning/grafana/datasources/aqm.yaml``."""
    return {
        "apiVersion": 1,
        "prune": True,
        "datasources": [
            {
                "name": POSTGRES.name,
                "type": POSTGRES.type,
                "uid": POSTGRES.uid,
                "access": "proxy",
                "url": "${AQM_DB_HOST}:${AQM_DB_PORT}",
                "user": READER_ROLE,
                "isDefault": True,
                "editable": False,
                "jsonData": {
                    "database": "${AQM_DB_NAME}",
                    # The database sits on the compose network next to Grafana.
                    "sslmode": "disable",
                    "postgresVersion": 1500,
                    "timescaledb": True,
                    # Stations report every 1-5 min; finer $__interval buckets would be empty.
                    "timeInterval": "1m",
                    "maxOpenConns": 10,
                    "maxIdleConns": 10,
                    "connMaxLifetime": 14400,
                },
                "secureJsonData": {"password": "$__env{AQM_READER_PASSWORD}"},
            },
            {
                "name": PROMETHEUS.name,
                "type": PROMETHEUS.type,
                "uid": PROMETHEUS.uid,
                "access": "proxy",
                "url": "${AQM_PROMETHEUS_URL}",
                "isDefault": False,
                "editable": False,
                "jsonData": {"httpMethod": "POST", "timeInterval": "15s"},
            },
        ],
    }
