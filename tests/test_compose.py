"""docker-compose.yml agrees with the code: services, commands, settings, ports, mounts.

Docker cannot run here, so this reads the compose file the way compose would and checks
every name it shares with the code and the repository.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from aqm.cli import build_parser
from aqm.settings import Settings
from storage.migrate import ROLE_PASSWORD_ENV

REPO = Path(__file__).resolve().parent.parent
COMPOSE: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
AQM_SERVICES = ("migrate", "ingest", "worker", "ftp", "forward")
SETTINGS_ENV = {f"AQM_{name.upper()}" for name in Settings.model_fields}
ENV_REF = re.compile(r"\$(?:__env)?\{([A-Z0-9_]+)\}")


def interpolate(value: str) -> str:
    """Replace ${VAR}, ${VAR:?message} and ${VAR:-default} as compose would, with a value."""
    return re.sub(r"\$\{[A-Z0-9_]+(?::[?-][^}]*)?\}", "secret", value)


def env(service: str) -> dict[str, str]:
    return {k: interpolate(str(v)) for k, v in (SERVICES[service].get("environment") or {}).items()}


def mounts(service: str) -> list[tuple[str, str]]:
    out = []
    for spec in SERVICES[service].get("volumes", []):
        source, target = spec.split(":")[:2]
        out.append((source, target))
    return out


def test_the_expected_services_exist() -> None:
    assert set(SERVICES) == {
        "mosquitto",
        "timescaledb",
        "migrate",
        "ingest",
        "worker",
        "prometheus",
        "grafana",
        "ftp",
        "forward",
    }
    assert (
        SERVICES["timescaledb"]["image"].startswith("timescale/timescaledb:")
        and "pg17" in SERVICES["timescaledb"]["image"]
    )


@pytest.mark.parametrize("service", AQM_SERVICES)
def test_aqm_services_run_real_commands_with_real_settings(service: str) -> None:
    build_parser().parse_args(SERVICES[service]["command"])  # exits on an unknown command
    unknown = (
        {k for k in env(service) if k.startswith("AQM_")}
        - SETTINGS_ENV
        - set(ROLE_PASSWORD_ENV.values())
    )
    assert not unknown, f"{service}: environment names no setting: {sorted(unknown)}"


def test_database_urls_use_the_roles_the_migrations_create() -> None:
    roles_sql = (REPO / "storage/migrations/0003_roles.sql").read_text()
    expected_user = {"migrate": "postgres", "ingest": "aqm_ingest", "worker": "aqm_worker"}
    for service, user in expected_user.items():
        url = urlsplit(env(service)["AQM_DATABASE_URL"])
        assert url.hostname == "timescaledb" and url.username == user and url.path == "/aqm"
        if user != "postgres":
            assert f"CREATE ROLE {user}" in roles_sql
    ftp_url = urlsplit(env("ftp")["AQM_DATABASE_URL"])
    assert ftp_url.hostname == "timescaledb" and ftp_url.username == "aqm_ingest"
    forward_url = urlsplit(env("forward")["AQM_DATABASE_URL"])
    assert forward_url.hostname == "timescaledb" and forward_url.username == "aqm_forward"
    forwarding_sql = (REPO / "storage/migrations/0013_ftp_files_forwarding.sql").read_text()
    assert "CREATE ROLE aqm_forward" in forwarding_sql
    mqtt = urlsplit(env("ingest")["AQM_MQTT_URL"])
    assert mqtt.scheme == "mqtt" and mqtt.hostname == "mosquitto"
    assert f"{mqtt.port}:{mqtt.port}" in SERVICES["mosquitto"]["ports"]


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_every_mounted_repository_path_exists(service: str) -> None:
    for source, _ in mounts(service):
        if source.startswith("./secrets"):
            assert "/secrets/" in (REPO / ".gitignore").read_text()  # generated at deployment
        elif source.startswith("./"):
            assert (REPO / source).exists(), f"{service} mounts missing {source}"


def test_grafana_gets_its_provisioning_and_every_variable_it_references() -> None:
    targets = {t for _, t in mounts("grafana")}
    for kind in ("datasources", "dashboards", "alerting"):
        assert f"/etc/grafana/provisioning/{kind}" in targets
        assert (f"./provisioning/grafana/{kind}", f"/etc/grafana/provisioning/{kind}") in mounts(
            "grafana"
        )
    provider = yaml.safe_load((REPO / "provisioning/grafana/dashboards/aqm.yaml").read_text())
    for p in provider["providers"]:
        path = p["options"]["path"]
        mounted = [t for t in targets if path.startswith(t)]
        assert mounted, f"dashboard path {path} is not mounted"
        local = REPO / "provisioning/grafana/dashboards" / Path(path).relative_to(mounted[0])
        assert any(local.glob("*.json")), f"no dashboards in {local}"
    referenced: set[str] = set()
    for f in (REPO / "provisioning/grafana").rglob("*.yaml"):
        referenced |= set(ENV_REF.findall(f.read_text()))
    missing = referenced - set(env("grafana"))
    assert not missing, f"grafana provisioning references unset variables {sorted(missing)}"


def test_prometheus_scrapes_the_ingest_metrics_port() -> None:
    prom = yaml.safe_load((REPO / "provisioning/prometheus/prometheus.yml").read_text())
    targets = [
        t for job in prom["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]
    ]
    port = env("ingest")["AQM_METRICS_PORT"]
    assert f"ingest:{port}" in targets
    assert port in [str(p) for p in SERVICES["ingest"]["expose"]]
    assert int(port) == Settings.model_fields["metrics_port"].default


def test_mosquitto_config_files_live_under_its_mounts() -> None:
    conf_mount = [s for s, t in mounts("mosquitto") if t == "/mosquitto/config/mosquitto.conf"]
    assert conf_mount, "mosquitto.conf not mounted"
    conf = (REPO / conf_mount[0]).read_text()
    targets = [t for _, t in mounts("mosquitto")]
    for key in ("password_file", "acl_file", "persistence_location"):
        match = re.search(rf"^\s*{key}\s+(\S+)", conf, re.MULTILINE)
        assert match, f"mosquitto.conf has no {key}"
        assert any(match[1].startswith(t) for t in targets), (
            f"{key} {match[1]} is outside the mounts"
        )
    assert re.search(r"^\s*allow_anonymous\s+false", conf, re.MULTILINE)
    assert re.search(r"^\s*persistence\s+true", conf, re.MULTILINE)
    queued = re.search(r"^\s*max_queued_messages\s+(\d+)", conf, re.MULTILINE)
    assert queued and int(queued[1]) > 1000


def test_the_image_contains_every_package() -> None:
    packages = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["hatch"]["build"][
        "targets"
    ]["wheel"]["packages"]
    dockerfile = (REPO / "Dockerfile").read_text()
    for package in packages:
        assert re.search(rf"^COPY {package} {package}$", dockerfile, re.MULTILINE), package
