"""docker-compose.yml agrees with the code: settings names, ports, app factories, dependencies.

No container engine is needed: the file is parsed and compared with ``shared.settings`` and the
launcher's service table, so renaming a setting or moving an app factory breaks this test
instead of the stack.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploy.launcher.services import SERVICES
from shared.settings import (
    ENV_PREFIX,
    CommonSettings,
    NotifierSettings,
    ScoringSettings,
    SubmissionSettings,
    env_name,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
ENV_EXAMPLE = REPO_ROOT / ".env.example"

APP_SETTINGS: dict[str, type[CommonSettings]] = {
    "submission": SubmissionSettings,
    "scoring": ScoringSettings,
    "notifier": NotifierSettings,
}
# Every compose service that reads SANGKIEN_* variables, and the class that reads them.
SETTINGS_OF: dict[str, type[CommonSettings]] = {**APP_SETTINGS, "topics": CommonSettings}
INFRASTRUCTURE = ("kafka", "redis", "postgres")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict), "docker-compose.yml is not a mapping"
    return loaded


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment as a dict, from either the mapping or the list form."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {key: "" if value is None else str(value) for key, value in env.items()}


def argv(value: str | list[Any]) -> list[str]:
    """A command (or healthcheck test) as a list of strings."""
    return shlex.split(value) if isinstance(value, str) else [str(arg) for arg in value]


def option(args: list[str], flag: str) -> str:
    """The value after ``flag`` in a command line."""
    assert flag in args, f"{flag} missing from {args}"
    return args[args.index(flag) + 1]


def published_ports(service: dict[str, Any]) -> list[tuple[int, int]]:
    """(published, container) pairs, from the short ("8001:8001") or the long syntax."""
    pairs = []
    for port in service.get("ports", []):
        if isinstance(port, dict):
            pairs.append((int(port["published"]), int(port["target"])))
        else:
            *_, published, target = str(port).split("/")[0].split(":")
            pairs.append((int(published), int(target)))
    return pairs


def default_port(name: str) -> int:
    default = APP_SETTINGS[name].model_fields[SERVICES[name].port_setting].default
    assert isinstance(default, int)
    return default


def test_every_service_of_the_design_is_in_the_stack(services: dict[str, Any]) -> None:
    expected = {"kafka", "redis", "postgres", "mailpit", "submission", "scoring", "notifier"}
    assert expected <= set(services)


def test_app_services_are_the_launchers_services() -> None:
    assert set(APP_SETTINGS) == set(SERVICES)


def test_sangkien_variables_are_fields_of_the_services_settings(
    services: dict[str, dict[str, Any]],
) -> None:
    unknown = []
    for name, service in services.items():
        variables = [key for key in environment(service) if key.startswith(ENV_PREFIX)]
        if not variables:
            continue
        assert name in SETTINGS_OF, f"{name} sets {variables} but reads no settings class"
        fields = {env_name(field) for field in SETTINGS_OF[name].model_fields}
        unknown += [f"{name}: {key}" for key in variables if key not in fields]
    assert not unknown, f"not a settings field of that service: {unknown}"


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_published_port_is_the_settings_default(
    services: dict[str, dict[str, Any]], name: str
) -> None:
    port = default_port(name)
    assert published_ports(services[name]) == [(port, port)]


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_port_variable_if_set_is_the_settings_default(
    services: dict[str, dict[str, Any]], name: str
) -> None:
    variable = env_name(SERVICES[name].port_setting)
    env = environment(services[name])
    assert env.get(variable, str(default_port(name))) == str(default_port(name))


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_command_serves_the_launchers_app_factory_on_the_settings_port(
    services: dict[str, dict[str, Any]], name: str
) -> None:
    args = argv(services[name]["command"])
    assert args[0] == "uvicorn"
    assert option(args, "--factory") == SERVICES[name].factory
    assert option(args, "--host") == "0.0.0.0"
    assert option(args, "--port") == str(default_port(name))


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_healthcheck_probes_readyz_on_the_settings_port(
    services: dict[str, dict[str, Any]], name: str
) -> None:
    test = " ".join(argv(services[name]["healthcheck"]["test"]))
    assert f"http://127.0.0.1:{default_port(name)}/readyz" in test


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_stop_grace_period_outlasts_uvicorn_graceful_shutdown(
    services: dict[str, dict[str, Any]], name: str
) -> None:
    service = services[name]
    graceful = int(option(argv(service["command"]), "--timeout-graceful-shutdown"))
    match = re.fullmatch(r"(\d+)s", str(service["stop_grace_period"]))
    assert match, f"stop_grace_period {service['stop_grace_period']!r} is not in seconds"
    assert int(match.group(1)) > graceful


def test_every_build_dockerfile_exists(services: dict[str, dict[str, Any]]) -> None:
    builds = {name: svc["build"] for name, svc in services.items() if "build" in svc}
    assert set(SERVICES) <= set(builds), "each service is built from the project"
    for name, build in builds.items():
        context = REPO_ROOT / (build if isinstance(build, str) else build.get("context", "."))
        dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile")
        assert (context / (dockerfile or "Dockerfile")).is_file(), f"{name}: no {dockerfile}"


def test_services_share_one_image(services: dict[str, dict[str, Any]]) -> None:
    images = {services[name].get("image") for name in SERVICES}
    assert len(images) == 1
    assert None not in images


def test_redis_writes_an_append_only_file(services: dict[str, dict[str, Any]]) -> None:
    args = argv(services["redis"]["command"])
    assert option(args, "--appendonly") == "yes"


def test_kafka_is_an_apache_kafka_4_node_in_kraft_mode(
    services: dict[str, dict[str, Any]],
) -> None:
    kafka = services["kafka"]
    env = environment(kafka)
    assert re.fullmatch(r"apache/kafka:4\.\d+\.\d+", kafka["image"])
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"]
    assert not any("ZOOKEEPER" in key for key in env)
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"].lower() == "false"


def test_kafka_advertises_the_address_the_services_use(
    services: dict[str, dict[str, Any]],
) -> None:
    advertised = environment(services["kafka"])["KAFKA_ADVERTISED_LISTENERS"]
    hosts = {address.split("://", 1)[1] for address in advertised.split(",")}
    for name in SETTINGS_OF:
        bootstrap = environment(services[name])[env_name("kafka_bootstrap_servers")]
        assert set(bootstrap.split(",")) <= hosts, name


def test_infrastructure_dependencies_wait_until_healthy(
    services: dict[str, dict[str, Any]],
) -> None:
    for name, service in services.items():
        depends_on = service.get("depends_on") or {}
        assert isinstance(depends_on, dict), f"{name}: depends_on needs conditions"
        for dependency, spec in depends_on.items():
            if dependency in INFRASTRUCTURE:
                assert spec["condition"] == "service_healthy", f"{name} -> {dependency}"
                assert "healthcheck" in services[dependency], dependency


def test_services_wait_for_the_topics_job(services: dict[str, dict[str, Any]]) -> None:
    for name in SERVICES:
        condition = services[name]["depends_on"]["topics"]["condition"]
        assert condition == "service_completed_successfully", name


def test_topics_job_runs_once_after_kafka(services: dict[str, dict[str, Any]]) -> None:
    topics = services["topics"]
    assert argv(topics["command"]) == ["python", "-m", "shared.kafka.topics"]
    assert str(topics["restart"]) == "no"
    assert topics["depends_on"]["kafka"]["condition"] == "service_healthy"


def test_services_depend_on_every_host_their_settings_point_at(
    services: dict[str, dict[str, Any]],
) -> None:
    for name in SERVICES:
        service = services[name]
        depends_on = set(service.get("depends_on") or {})
        values = " ".join(environment(service).values())
        used = {host for host in (*INFRASTRUCTURE, "mailpit") if re.search(rf"\b{host}\b", values)}
        assert used <= depends_on, f"{name} uses {sorted(used - depends_on)} without depends_on"


def test_named_volumes_are_declared(compose: dict[str, Any]) -> None:
    declared = set(compose.get("volumes") or {})
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume["source"] if isinstance(volume, dict) else volume.split(":")[0]
            if not source.startswith((".", "/", "~")):
                assert source in declared, f"{name}: volume {source} not declared"


def test_postgres_password_comes_only_from_the_environment(
    services: dict[str, dict[str, Any]],
) -> None:
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    # ${POSTGRES_PASSWORD}, or ${POSTGRES_PASSWORD:?message}; never a default (:- or -).
    for modifier in re.findall(r"\$\{POSTGRES_PASSWORD([^}]*)\}", text):
        assert modifier == "" or modifier.startswith((":?", "?")), modifier
    assert environment(services["postgres"])["POSTGRES_PASSWORD"].startswith(
        "${POSTGRES_PASSWORD:?"
    )


def test_no_password_literal_in_the_stack(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        for key, value in environment(service).items():
            if re.search(r"PASSWORD|SECRET|TOKEN", key):
                assert re.fullmatch(r"\$\{[A-Z_]+(:?\?[^}]*)?\}", value), f"{name}: {key}"
            for password in re.findall(r"://[^:/@\s]+:([^@\s]+)@", value):
                assert re.fullmatch(r"\$\{[A-Z_]+(:?\?[^}]*)?\}", password), f"{name}: {key}"


def test_env_example_leaves_the_password_empty() -> None:
    lines = ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
    assert "POSTGRES_PASSWORD=" in [line.strip() for line in lines]
