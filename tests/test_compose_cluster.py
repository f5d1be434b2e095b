"""The compose files as compose reads them, and the RabbitMQ cluster file on top of the base.

Docker cannot run here. Both files are checked against the Compose Specification's JSON
schema (the copy check-jsonschema vendors), then docker-compose.cluster.yml is merged onto
docker-compose.yml by compose's merge rules and every name the result shares with
RabbitMQ's configuration, the definitions `aqm stations credentials` writes and aqm's
settings is followed to where it is defined. Secrets are interpolated with a different
value per variable, so two variables that must hold one password are caught apart.
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from importlib.resources import files
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import jsonschema
import pytest
import yaml

from stations.rabbitmq_definitions import rabbitmq_hash_matches

REPO = Path(__file__).resolve().parent.parent
BASE_FILE = REPO / "docker-compose.yml"
CLUSTER_FILE = REPO / "docker-compose.cluster.yml"
SPEC = json.loads(
    (files("check_jsonschema") / "builtin_schemas/vendor/compose-spec.json").read_text()
)
VARIABLE = re.compile(r"\$\{([A-Z0-9_]+)(?::?[?-][^}]*)?\}")
RABBITMQ_CONF_TARGET = "/etc/rabbitmq/rabbitmq.conf"
AMQP_PORT = 5672  # RabbitMQ's AMQP listener when rabbitmq.conf sets none


def load(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(path.read_text())
    return document


def spec_errors(document: dict[str, Any]) -> list[str]:
    validator = jsonschema.validators.validator_for(SPEC)(SPEC)
    return [
        f"{'/'.join(str(p) for p in error.absolute_path) or '(top)'}: {error.message}"
        for error in validator.iter_errors(document)
    ]


def secret(name: str) -> str:
    """What ``${NAME}`` stands for here: its own value, so mix-ups show."""
    return f"value-of-{name.lower().replace('_', '-')}"


def interpolate(value: Any) -> Any:
    if isinstance(value, str):
        return VARIABLE.sub(lambda m: secret(m[1]), value)
    if isinstance(value, dict):
        return {k: interpolate(v) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v) for v in value]
    return value


def as_mapping(value: Any) -> dict[str, Any]:
    """``environment`` or ``depends_on`` in either of compose's forms, as a mapping."""
    if value is None:
        return {}
    if isinstance(value, list):
        return dict(item.split("=", 1) if "=" in item else (item, None) for item in value)
    return dict(value)


def merge_service(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """Compose's merge of one service: mappings key by key, volumes by target, ports
    appended, anything else replaced (Compose Specification, "Merge and override")."""
    merged = copy.deepcopy(base)
    for key, value in overlay.items():
        if key in ("environment", "depends_on", "labels", "healthcheck"):
            merged[key] = as_mapping(base.get(key)) | as_mapping(value)
        elif key == "volumes":
            by_target = {str(v).split(":")[1]: v for v in base.get(key, [])}
            by_target |= {str(v).split(":")[1]: v for v in value}
            merged[key] = list(by_target.values())
        elif key in ("ports", "expose"):
            merged[key] = [*base.get(key, []), *value]
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def merged_project() -> dict[str, Any]:
    base, overlay = load(BASE_FILE), load(CLUSTER_FILE)
    services = dict(base["services"])
    for name, service in overlay["services"].items():
        services[name] = merge_service(services.get(name, {}), service)
    volumes = dict(base.get("volumes") or {}) | dict(overlay.get("volumes") or {})
    project: dict[str, Any] = interpolate({**base, "services": services, "volumes": volumes})
    return project


PROJECT = merged_project()
SERVICES: dict[str, Any] = PROJECT["services"]
NODES = sorted(name for name, s in SERVICES.items() if "rabbitmq" in str(s.get("image", "")))


def mounts(service: str) -> dict[str, str]:
    """Container path -> host path of a service's bind mounts and named volumes."""
    out: dict[str, str] = {}
    for spec in SERVICES[service].get("volumes", []):
        source, target = str(spec).split(":")[:2]
        out[target] = source
    return out


def rabbitmq_conf() -> dict[str, str]:
    """``key = value`` lines of the rabbitmq.conf every node mounts (new-style format)."""
    (source,) = {mounts(node)[RABBITMQ_CONF_TARGET] for node in NODES}
    settings: dict[str, str] = {}
    for line in (REPO / source).read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            settings[key.strip()] = value.strip()
    return settings


@pytest.mark.parametrize("path", [BASE_FILE, CLUSTER_FILE], ids=lambda p: p.name)
def test_compose_files_follow_the_compose_specification(path: Path) -> None:
    assert spec_errors(load(path)) == []


@pytest.mark.parametrize(
    ("service", "mistake"),
    [
        ("ingest", {"enviroment": {"AQM_BROKER": "rabbitmq"}}),
        ("ingest", {"depends_on": {"rabbitmq1": {"condition": "healthy"}}}),
        ("rabbitmq1", {"restart": ["always"]}),
    ],
)
def test_the_specification_check_finds_a_mistake(service: str, mistake: dict[str, Any]) -> None:
    document = load(CLUSTER_FILE)
    document["services"][service] = {**document["services"][service], **mistake}
    assert spec_errors(document), f"{mistake} was accepted"


def test_three_nodes_that_form_one_cluster() -> None:
    assert len(NODES) == 3
    conf = rabbitmq_conf()
    assert conf["cluster_formation.peer_discovery_backend"] == "classic_config"
    listed = {v for k, v in conf.items() if k.startswith("cluster_formation.classic_config.nodes.")}
    assert listed == {f"rabbit@{SERVICES[node]['hostname']}" for node in NODES}
    # Erlang nodes cluster only with the same cookie
    cookies = {SERVICES[node]["environment"]["RABBITMQ_ERLANG_COOKIE"] for node in NODES}
    assert len(cookies) == 1
    # each node its own data; stations reach each on its own host port
    data = [mounts(node)["/var/lib/rabbitmq"] for node in NODES]
    assert len(set(data)) == 3 and set(data) <= set(PROJECT["volumes"])
    host_ports = [str(p).rsplit(":", 2)[-2] for node in NODES for p in SERVICES[node]["ports"]]
    assert len(set(host_ports)) == len(host_ports) == 3
    for node in NODES:
        assert (REPO / mounts(node)[RABBITMQ_CONF_TARGET]).is_file()
        assert "rabbitmq-plugins enable --offline rabbitmq_mqtt" in SERVICES[node]["command"]
        assert SERVICES[node]["healthcheck"]["test"][:2] == ["CMD", "rabbitmq-diagnostics"]


def test_every_node_loads_the_definitions_the_credentials_command_writes() -> None:
    from aqm.commands.stations import RABBITMQ_DEFINITIONS_NAME

    definitions = Path(rabbitmq_conf()["load_definitions"])
    assert definitions.name == RABBITMQ_DEFINITIONS_NAME
    for node in NODES:
        folder = mounts(node).get(str(definitions.parent))
        assert folder is not None, f"{node} does not mount {definitions.parent}"
        assert folder == mounts("ingest").get("/run/aqm/credentials", folder)
        assert folder.startswith("./secrets/")  # written at deployment, never committed
    assert "/secrets/" in (REPO / ".gitignore").read_text()


def test_ingest_waits_for_every_node_and_consumes_as_a_user_the_definitions_create(
    tmp_path: Path,
) -> None:
    ingest = SERVICES["ingest"]
    assert {
        n: c["condition"] for n, c in ingest["depends_on"].items() if n in NODES
    } == dict.fromkeys(NODES, "service_healthy")
    environment = {k: str(v) for k, v in ingest["environment"].items()}
    assert environment["AQM_BROKER"] == "rabbitmq"
    urls = [urlsplit(u) for u in environment["AQM_AMQP_URL"].split(",")]
    assert sorted(u.hostname or "" for u in urls) == NODES
    assert {u.port for u in urls} == {AMQP_PORT} and "listeners.tcp.default" not in rabbitmq_conf()
    (user,) = {u.username for u in urls}
    (password,) = {unquote(u.password or "") for u in urls}

    # the credentials command of the README, run with the merged ingest service's settings
    readme = (REPO / "README.md").read_text()
    assert f"--ingest-user {user}" in readme
    env = {k: v for k, v in os.environ.items() if not k.startswith("AQM_")}
    env |= {k: v for k, v in environment.items() if k.startswith("AQM_")}
    env |= {"AQM_CONFIG": "", "AQM_STATIONS_FILE": ""}
    catalogue = REPO / "stations/catalogue.example.yaml"
    out = tmp_path / "secrets"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "aqm",
            "stations",
            "credentials",
            str(catalogue),
            "--out",
            str(out),
            "--ingest-user",
            str(user),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    from aqm.commands.stations import RABBITMQ_DEFINITIONS_NAME

    document = json.loads((out / RABBITMQ_DEFINITIONS_NAME).read_text())
    hashes = {u["name"]: u["password_hash"] for u in document["users"]}
    assert user in hashes, f"the definitions create no user {user!r}: {done.stderr}"
    assert rabbitmq_hash_matches(password, hashes[user]), (
        "ingest logs in to RabbitMQ with another password than the definitions give it"
    )
    queue = environment.get("AQM_AMQP_QUEUE", "aqm.readings")
    queues = {q["name"]: q for q in document["queues"]}
    assert queues[queue]["arguments"]["x-queue-type"] == "quorum"
    (grant,) = [p for p in document["permissions"] if p["user"] == user]
    assert re.fullmatch(grant["read"], queue)


AUTH_PATHS = ("user_path", "vhost_path", "resource_path", "topic_path")


def auth_service() -> str:
    """The one service that runs ``aqm broker-auth``."""
    (name,) = [n for n, s in SERVICES.items() if s.get("command") == ["broker-auth"]]
    return name


def test_every_login_is_checked_by_the_broker_auth_service_alone() -> None:
    conf = rabbitmq_conf()
    assert conf["auth_backends.1.authn"] == "http"
    assert conf["auth_backends.1.authz"] == "internal"  # permissions: the definitions
    # no second backend: a login broker-auth refuses would be retried there and pass
    assert not [
        k for k in conf if k.startswith("auth_backends.") and not k.startswith("auth_backends.1.")
    ]
    assert "auth_backends.1" not in conf
    assert conf["auth_http.http_method"] == "post"  # passwords in a body, never in a URL
    for node in NODES:
        assert "rabbitmq_auth_backend_http" in SERVICES[node]["command"].split()
        assert SERVICES[node]["depends_on"][auth_service()]["condition"] == "service_healthy"


def test_the_nodes_reach_broker_auth_where_it_listens() -> None:
    from aqm.cli import build_parser

    name = auth_service()
    service = SERVICES[name]
    build_parser().parse_args(service["command"])
    environment = {k: str(v) for k, v in service["environment"].items()}
    port = int(environment["AQM_BROKER_AUTH_PORT"])
    assert environment["AQM_BROKER_AUTH_HOST"] == "0.0.0.0"  # the nodes are other containers
    urls = {path: urlsplit(rabbitmq_conf()[f"auth_http.{path}"]) for path in AUTH_PATHS}
    for path, url in urls.items():
        assert (url.scheme, url.hostname, url.port) == ("http", name, port), path
    assert urls["user_path"].path == "/auth/user"
    assert {u.path for u in urls.values()} == {
        f"/auth/{p.removesuffix('_path')}" for p in AUTH_PATHS
    }
    assert str(port) in [str(p) for p in service.get("expose", [])]
    assert not service.get("ports"), "broker-auth answers the nodes only: publish no port"
    health = " ".join(service["healthcheck"]["test"])
    assert f"http://127.0.0.1:{port}/healthz" in health


def test_broker_auth_reads_the_definitions_every_node_loads() -> None:
    from aqm.commands.stations import RABBITMQ_DEFINITIONS_NAME

    name = auth_service()
    read = Path(str(SERVICES[name]["environment"]["AQM_BROKER_AUTH_DEFINITIONS_FILE"]))
    loaded = Path(rabbitmq_conf()["load_definitions"])
    assert read.name == loaded.name == RABBITMQ_DEFINITIONS_NAME
    host_folder = mounts(name).get(str(read.parent))
    assert host_folder is not None, f"{name} does not mount {read.parent}"
    for node in NODES:
        assert mounts(node)[str(loaded.parent)] == host_folder
