"""The service's Kubernetes manifests and image, checked without a cluster: every document
against the API schemas of Kubernetes 1.30 and of the newest release kubernetes-validate
knows, then the policy a checker such as checkov applies, written out here (non-root,
read-only root filesystem, no privilege escalation, capabilities dropped, seccomp, resources,
probes, pinned images, secrets by reference), then the service's own arguments."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import typer
import yaml

from spoolwatch.cli import app

K8S = Path(__file__).resolve().parents[2] / "deploy" / "kubernetes"
SERVICE_FILES = ("service-deployment.yaml", "service-autoscaling.yaml")
CORE_FILES = (*SERVICE_FILES, "agent-deployment.yaml", "agent-configmap.yaml")
VERSIONS = ("1.30.0", kubernetes_validate.latest_version())


def _documents(*names: str) -> list[dict[str, Any]]:
    return [doc for name in names for doc in yaml.safe_load_all((K8S / name).read_text()) if doc]


def _one(kind: str, *names: str) -> dict[str, Any]:
    (doc,) = [doc for doc in _documents(*names) if doc["kind"] == kind]
    return doc


def _pods() -> list[tuple[str, dict[str, Any]]]:
    return [
        (doc["metadata"]["name"], doc["spec"]["template"]["spec"])
        for doc in _documents(*CORE_FILES)
        if doc["kind"] == "Deployment"
    ]


def _containers(pod: dict[str, Any]) -> list[dict[str, Any]]:
    return [*pod.get("initContainers", []), *pod["containers"]]


def _service_pod() -> dict[str, Any]:
    pod: dict[str, Any] = _one("Deployment", "service-deployment.yaml")["spec"]["template"]["spec"]
    return pod


def _option(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    "doc",
    [pytest.param(d, id=f"{d['kind']}/{d['metadata']['name']}") for d in _documents(*CORE_FILES)],
)
def test_manifest_is_valid_for_kubernetes(doc: dict[str, Any], version: str) -> None:
    kubernetes_validate.validate(doc, version, strict=True)


def test_the_schema_check_rejects_an_unknown_field() -> None:
    doc = _one("Deployment", "service-deployment.yaml")
    broken = {**doc, "spec": {**doc["spec"], "replica": 2}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, VERSIONS[0], strict=True)


@pytest.mark.parametrize(("name", "pod"), _pods())
def test_pods_run_non_root_with_runtime_default_seccomp(name: str, pod: dict[str, Any]) -> None:
    context = pod["securityContext"]
    assert context["runAsNonRoot"] is True, name
    assert context["runAsUser"] > 0, name
    assert context["seccompProfile"] == {"type": "RuntimeDefault"}, name
    assert not pod.get("hostNetwork") and not pod.get("hostPID") and not pod.get("hostIPC")


@pytest.mark.parametrize(("name", "pod"), _pods())
def test_containers_are_locked_down_with_resources_and_pinned_images(
    name: str, pod: dict[str, Any]
) -> None:
    for container in _containers(pod):
        where = (name, container["name"])
        context = container["securityContext"]
        assert context["allowPrivilegeEscalation"] is False, where
        assert context["readOnlyRootFilesystem"] is True, where
        assert context["capabilities"]["drop"] == ["ALL"], where
        assert not context.get("capabilities", {}).get("add"), where
        assert not context.get("privileged", False), where
        resources = container["resources"]
        assert {"cpu", "memory"} <= set(resources["requests"]), where
        assert "memory" in resources["limits"], where
        image = container["image"]
        assert re.fullmatch(r"[\w./-]+:[\w.-]+", image) and not image.endswith(":latest"), where


@pytest.mark.parametrize(("name", "pod"), _pods())
def test_secrets_come_by_reference_never_as_literal_values(name: str, pod: dict[str, Any]) -> None:
    for container in _containers(pod):
        for variable in container.get("env", []):
            value = str(variable.get("value", ""))
            assert not re.search(r"://[^/@\s]*:[^/@\s]*@", value), (name, variable)
            if re.search(r"TOKEN|PASSWORD|SECRET|_DB$|WEBHOOK", variable["name"]):
                assert "secretKeyRef" in variable.get("valueFrom", {}), (name, variable)


def test_the_service_writes_only_to_an_empty_dir_at_tmp() -> None:
    pod = _service_pod()
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    for container in _containers(pod):
        (mount,) = container["volumeMounts"]
        assert mount["mountPath"] == "/tmp"
        assert "emptyDir" in volumes[mount["name"]]


def test_the_service_is_probed_on_healthz_and_readyz_at_its_port() -> None:
    (container,) = _service_pod()["containers"]
    (port,) = container["ports"]
    for probe, path in (
        ("startupProbe", "/healthz"),
        ("livenessProbe", "/healthz"),
        ("readinessProbe", "/readyz"),
    ):
        assert container[probe]["httpGet"] == {"path": path, "port": port["name"]}
    # Longer than the store's own readiness timeout (about 2 s), so a slow database reads
    # as "not ready" from the service rather than as a probe timeout.
    assert container["readinessProbe"]["timeoutSeconds"] > 2
    assert port["containerPort"] == int(_option(container["args"], "--port"))


def _context(path: tuple[str, ...], args: list[str]) -> Any:
    """The command's parsed options for ``args``, as the CLI would parse them (bad options
    fail here); nothing runs."""
    command: Any = typer.main.get_command(app)
    for name in path:
        command = command.commands[name]
    return command.make_context(path[-1], list(args))


def _serve_context(args: list[str]) -> Any:
    return _context(("serve",), args)


def test_the_service_arguments_are_ones_serve_accepts_with_auth_on_every_address() -> None:
    (container,) = _service_pod()["containers"]
    params = _serve_context(container["args"]).params
    assert params["host"] == "0.0.0.0"
    assert params["auth"] is True
    assert params["log_format"] == "json"
    assert params["workers"] > 1  # the Secret's URL must be PostgreSQL: serve refuses SQLite
    assert {v["name"] for v in container["env"]} >= {"SPOOLWATCH_DB"}


def test_grace_period_covers_the_pre_stop_pause_and_the_shutdown_timeout() -> None:
    pod = _service_pod()
    (container,) = pod["containers"]
    shutdown = _serve_context(container["args"]).params["shutdown_timeout"]
    pause = int(container["lifecycle"]["preStop"]["exec"]["command"][-1])
    assert pod["terminationGracePeriodSeconds"] > pause + shutdown


def test_migrations_run_in_an_init_container_with_the_same_image_and_database() -> None:
    pod = _service_pod()
    (init,) = pod["initContainers"]
    (container,) = pod["containers"]
    assert init["command"] == ["spoolwatch", "db", "migrate"]
    _context(("db", "migrate"), init["command"][3:])
    assert init["image"] == container["image"]
    assert init["env"][0] == container["env"][0]


def test_no_serve_variable_is_one_kubernetes_sets_for_the_service() -> None:
    from spoolwatch.server.settings_table import SERVE_SETTINGS

    # Service links: {NAME}_SERVICE_HOST, {NAME}_SERVICE_PORT, {NAME}_PORT and {NAME}_PORT_*,
    # set in every pod of the namespace (``SPOOLWATCH_PORT=tcp://10.0.0.7:8080``).
    prefix = _one("Service", "service-deployment.yaml")["metadata"]["name"].upper() + "_"
    for entry in SERVE_SETTINGS:
        rest = entry.env.removeprefix(prefix)
        assert rest not in ("SERVICE_HOST", "SERVICE_PORT", "PORT"), entry.env
        assert not rest.startswith(("SERVICE_PORT_", "PORT_")), entry.env


def test_service_autoscaler_and_budget_select_the_service_pods() -> None:
    deployment = _one("Deployment", "service-deployment.yaml")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    service = _one("Service", "service-deployment.yaml")
    assert service["metadata"]["name"] == "spoolwatch"  # the agents' configs name it
    assert service["spec"]["selector"].items() <= labels.items()
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    hpa = _one("HorizontalPodAutoscaler", "service-autoscaling.yaml")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    assert 2 <= hpa["spec"]["minReplicas"] <= deployment["spec"]["replicas"]
    assert hpa["spec"]["maxReplicas"] > hpa["spec"]["minReplicas"]
    pdb = _one("PodDisruptionBudget", "service-autoscaling.yaml")
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert pdb["spec"]["minAvailable"] < hpa["spec"]["minReplicas"]
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


def test_service_image_is_non_root_exposes_the_port_and_runs_serve() -> None:
    text = (K8S / "service.Dockerfile").read_text()
    instructions = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert "USER 10001:10001" in instructions
    assert "EXPOSE 8080" in instructions
    assert 'ENTRYPOINT ["spoolwatch", "serve"]' in instructions
    assert "'.[server]'" in text
    assert not any(line.startswith("HEALTHCHECK") for line in instructions)
    bases = [line.split()[1] for line in instructions if line.startswith("FROM ")]
    assert bases and all(":" in base and not base.endswith(":latest") for base in bases)
    # The last USER wins, and it comes after every RUN that needs root.
    last_user = max(i for i, line in enumerate(instructions) if line.startswith("USER"))
    assert all(not line.startswith("RUN") for line in instructions[last_user:])
    cmd = next(line for line in instructions if line.startswith("CMD "))
    assert '"0.0.0.0"' in cmd and "--no-auth" not in text
