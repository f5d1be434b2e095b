"""docker-compose.yml agrees with the code: services, commands, settings, ports, mounts.

Docker cannot run here, so this reads the compose file the way compose would and checks
every name it shares with the code and the repository.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from aqm.cli import build_parser
from aqm_core.settings import Settings

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
        "web",
    }
    assert (
        SERVICES["timescaledb"]["image"].startswith("timescale/timescaledb:")
        and "pg17" in SERVICES["timescaledb"]["image"]
    )


@pytest.mark.parametrize("service", AQM_SERVICES)
def test_aqm_services_run_real_commands_with_real_settings(service: str) -> None:
    build_parser().parse_args(SERVICES[service]["command"])  # exits on an unknown command
    unknown = {k for k in env(service) if k.startswith("AQM_")} - SETTINGS_ENV
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
    web_url = urlsplit(env("web")["AQM_WEB_DATABASE_URL"])
    assert web_url.hostname == "timescaledb" and web_url.username == "aqm_reader"
    assert "127.0.0.1:" + env("web")["AQM_WEB_PORT"] + ":" in " ".join(SERVICES["web"]["ports"])
    mqtt = urlsplit(env("ingest")["AQM_MQTT_URL"])
    assert mqtt.scheme == "mqtt" and mqtt.hostname == "mosquitto"
    assert mqtt.port in listeners()  # ingest reaches a listener of the broker's config


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


@pytest.mark.parametrize(
    ("service", "variable", "host_variable"),
    [
        ("worker", "AQM_WORKER_METRICS_PORT", "AQM_WORKER_METRICS_HOST"),
        ("ftp", "AQM_FTP_METRICS_PORT", "AQM_METRICS_HOST"),
        ("forward", "AQM_FORWARD_METRICS_PORT", "AQM_METRICS_HOST"),
    ],
)
def test_prometheus_scrapes_every_metrics_port(
    service: str, variable: str, host_variable: str
) -> None:
    prom = yaml.safe_load((REPO / "provisioning/prometheus/prometheus.yml").read_text())
    targets = [
        t for job in prom["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]
    ]
    port = env(service)[variable]
    assert f"{service}:{port}" in targets
    assert port in [str(p) for p in SERVICES[service]["expose"]]
    # reachable from Prometheus's container, never published on the host
    assert env(service)[host_variable] == "0.0.0.0"
    assert all(c != int(port) for _, _, c in published(service))


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


# -- what the deployment exposes -------------------------------------------------------


def published(service: str) -> list[tuple[str, int, int]]:
    """``(host address, host port, container port)`` of each published port; an address
    left out means every interface."""
    out: list[tuple[str, int, int]] = []
    for spec in SERVICES[service].get("ports", []):
        parts = str(spec).split(":")
        host_ip = parts[0] if len(parts) == 3 else "0.0.0.0"
        host_ports = port_range(parts[-2])
        container_ports = port_range(parts[-1].split("/")[0])
        assert len(host_ports) == len(container_ports), spec
        out.extend((host_ip, h, c) for h, c in zip(host_ports, container_ports, strict=True))
    return out


def port_range(spec: str) -> list[int]:
    """``"30000-30049"`` or ``"21"`` as the ports it names."""
    first, _, last = spec.partition("-")
    return list(range(int(first), int(last or first) + 1))


def mosquitto_conf() -> str:
    source = [s for s, t in mounts("mosquitto") if t == "/mosquitto/config/mosquitto.conf"]
    return (REPO / source[0]).read_text()


def listeners() -> dict[int, dict[str, str]]:
    """Each listener of the mounted mosquitto.conf and the settings that follow it."""
    found: dict[int, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for line in mosquitto_conf().splitlines():
        words = line.split()
        if not words:
            current = None
        elif words[0] == "listener":
            current = found.setdefault(int(words[1]), {})
        elif current is not None and not words[0].startswith("#"):
            current[words[0]] = " ".join(words[1:])
    return found


def test_the_tls_listener_is_on_and_published_with_its_certificates() -> None:
    tls = {port: block for port, block in listeners().items() if "certfile" in block}
    assert list(tls) == [8883]
    targets = [t for _, t in mounts("mosquitto")]
    for key in ("cafile", "certfile", "keyfile"):
        assert any(tls[8883][key].startswith(t + "/") for t in targets), key
    assert ("0.0.0.0", 8883, 8883) in published("mosquitto")
    for source, target in mounts("mosquitto"):
        if target == "/mosquitto/config/certs":
            assert source.startswith("./secrets/")  # keys never in the repository


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_only_tls_is_published_beyond_loopback(service: str) -> None:
    tls_ports = {port for port, block in listeners().items() if "certfile" in block}
    ftp = env("ftp")
    ftps_only = (
        ftp.get("AQM_FTP_TLS_REQUIRED") == "true"
        and {ftp.get("AQM_FTP_TLS_CERT"), ftp.get("AQM_FTP_TLS_KEY")}
        <= {f"/run/aqm/tls/{name}" for name in ("cert.pem", "key.pem")}
        and ("./secrets/ftp-tls", "/run/aqm/tls") in mounts("ftp")
    )
    for host_ip, _host_port, container_port in published(service):
        if service == "mosquitto" and container_port in tls_ports:
            continue
        if service == "ftp" and ftps_only:  # control and passive data ports, TLS required
            continue
        assert host_ip == "127.0.0.1", (
            f"{service} publishes plaintext port {container_port} on every interface"
        )


def test_every_listener_takes_the_login_as_client_id() -> None:
    for port, block in listeners().items():
        assert block.get("use_username_as_clientid") == "true", port


def test_ingest_settings_agree_with_the_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    from aqm_core.settings import BROKER_MESSAGE_SIZE_LIMIT, load_settings

    for name in [k for k in os.environ if k.startswith("AQM_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AQM_CONFIG", "")
    for name, value in env("ingest").items():
        monkeypatch.setenv(name, value)
    settings = load_settings()  # a client id other than the broker user would fail here
    user = urlsplit(env("ingest")["AQM_MQTT_URL"]).username
    assert settings.mqtt_client_id == user
    # the README's credentials command creates this very broker user
    readme = (REPO / "README.md").read_text()
    assert f"--ingest-user {user}" in readme
    # Prometheus (another container) can scrape; the port is not published on the host
    assert settings.metrics_host == "0.0.0.0"
    assert not SERVICES["ingest"].get("ports")
    limit = re.search(r"^message_size_limit\s+(\d+)", mosquitto_conf(), re.MULTILINE)
    assert limit and int(limit[1]) == BROKER_MESSAGE_SIZE_LIMIT > settings.max_payload_bytes
