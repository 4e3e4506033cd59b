"""The Kubernetes manifests: real schemas for built-in kinds, KEDA's CRDs checked by structure.

kubernetes-validate bundles the upstream JSON schemas, so this runs offline. KEDA's ScaledObject
and TriggerAuthentication are custom resources it has no schema for; their required fields
(as KEDA's CRD declares them) are checked here, and the HPA behaviour block inside the
ScaledObject is validated as what KEDA turns it into: a real HorizontalPodAutoscaler's behaviour.
"""

from __future__ import annotations

import shutil
import subprocess
from typing import Any

import pytest
from deploy_support import K8S, load_yaml_documents, parse_yaml_documents

from bridge.settings import Settings

try:
    import kubernetes_validate
except ImportError:  # the [deploy-checks] extra is not installed
    kubernetes_validate = None
needs_schemas = pytest.mark.skipif(
    kubernetes_validate is None,
    reason="kubernetes-validate is not installed: pip install -e '.[dev,deploy-checks]'",
)

KUBERNETES_VERSION = "1.30"
KEDA_API = "keda.sh/v1alpha1"
BRIDGE_ADMIN_SETTING = "admin_enabled"
CELERY_QUEUES = {"intake", "orderdesk", "poll", "maintenance"}
WORKLOADS = ("web", "admin", "worker", "beat", "flower")
FLOWER_COMMAND = ["celery", "-A", "bridge.jobs.flower_app", "flower", "--port=5555"]


def _deployment(k8s_by_kind: dict, component: str) -> dict[str, Any]:
    return k8s_by_kind[("Deployment", f"orderdesk-bridge-{component}")]


def _container(deployment: dict[str, Any]) -> dict[str, Any]:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return container


def test_every_manifest_file_parses_and_is_listed_in_the_kustomization() -> None:
    kustomization = load_yaml_documents(K8S / "kustomization.yaml")[0]
    manifest_files = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == manifest_files
    for name in manifest_files:
        assert load_yaml_documents(K8S / name), f"{name} holds no resource"


@needs_schemas
def test_builtin_kinds_validate_strictly_against_the_kubernetes_schemas(k8s_documents) -> None:
    validated = []
    for path, doc in k8s_documents:
        if doc["apiVersion"] == KEDA_API:
            continue
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            location = ".".join(str(part) for part in exc.path)
            pytest.fail(f"{path.name} {doc['kind']}/{doc['metadata']['name']}: {location}: {exc}")
        validated.append(doc["kind"])
    assert {"Deployment", "Service", "Job", "ConfigMap"} <= set(validated)


@needs_schemas
def test_strict_validation_would_catch_a_misspelt_field(k8s_by_kind) -> None:
    broken = {**_deployment(k8s_by_kind, "web"), "spec": {"replica": 2}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_web_probes_use_healthz_for_liveness_and_readyz_for_readiness(k8s_by_kind) -> None:
    container = _container(_deployment(k8s_by_kind, "web"))
    port_names = {port["name"] for port in container["ports"]}
    for probe, path in [
        ("startupProbe", "/healthz"),
        ("livenessProbe", "/healthz"),
        ("readinessProbe", "/readyz"),
    ]:
        http_get = container[probe]["httpGet"]
        assert http_get["path"] == path, probe
        assert http_get["port"] in port_names, probe
    assert container["command"][-1] == "web:create_app()"
    assert "deploy/gunicorn.conf.py" in container["command"]


def test_web_service_routes_to_the_web_pods(k8s_by_kind) -> None:
    service = k8s_by_kind[("Service", "orderdesk-bridge-web")]
    pod_labels = _deployment(k8s_by_kind, "web")["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert service["spec"]["ports"][0]["targetPort"] == "http"


def _env(container: dict[str, Any]) -> dict[str, str]:
    return {item["name"]: item.get("value") for item in container.get("env", [])}


def test_public_web_has_no_admin_pages_and_admin_has_its_own_private_service(k8s_by_kind) -> None:
    web = _deployment(k8s_by_kind, "web")
    admin = _deployment(k8s_by_kind, "admin")
    assert _env(_container(web))["BRIDGE_ADMIN_ENABLED"] == "false"
    assert _env(_container(admin))["BRIDGE_ADMIN_ENABLED"] == "true"
    assert _container(admin)["command"] == _container(web)["command"]
    assert _container(admin)["readinessProbe"]["httpGet"]["path"] == "/readyz"

    web_service = k8s_by_kind[("Service", "orderdesk-bridge-web")]["spec"]
    admin_service = k8s_by_kind[("Service", "orderdesk-bridge-admin")]["spec"]
    web_pods = web["spec"]["template"]["metadata"]["labels"]
    admin_pods = admin["spec"]["template"]["metadata"]["labels"]
    assert admin_service.get("type", "ClusterIP") == "ClusterIP"
    assert admin_service["selector"].items() <= admin_pods.items()
    assert not admin_service["selector"].items() <= web_pods.items()
    assert not web_service["selector"].items() <= admin_pods.items()
    assert BRIDGE_ADMIN_SETTING in Settings.model_fields


def test_every_deployment_selector_matches_its_pod_labels(k8s_by_kind) -> None:
    for component in WORKLOADS:
        spec = _deployment(k8s_by_kind, component)["spec"]
        assert (
            spec["selector"]["matchLabels"].items()
            <= spec["template"]["metadata"]["labels"].items()
        ), component


def test_stop_grace_lets_work_finish(k8s_by_kind) -> None:
    worker = _deployment(k8s_by_kind, "worker")["spec"]["template"]["spec"]
    web = _deployment(k8s_by_kind, "web")["spec"]["template"]["spec"]
    assert worker["terminationGracePeriodSeconds"] >= 60
    # gunicorn's graceful_timeout is 25 s; the pod must outlive it.
    assert web["terminationGracePeriodSeconds"] > 25


def test_worker_consumes_all_four_queues(k8s_by_kind) -> None:
    command = _container(_deployment(k8s_by_kind, "worker"))["command"]
    assert command[:4] == ["celery", "-A", "workers", "worker"]
    queues = command[command.index("-Q") + 1]
    assert set(queues.split(",")) == CELERY_QUEUES


def test_beat_is_a_single_replica_never_doubled_by_a_rollout(k8s_by_kind) -> None:
    beat = _deployment(k8s_by_kind, "beat")
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"]["type"] == "Recreate"
    assert _container(beat)["command"][:4] == ["celery", "-A", "workers", "beat"]
    assert ("ScaledObject", "orderdesk-bridge-beat") not in k8s_by_kind


@pytest.mark.parametrize("component", ["worker", "beat"])
def test_worker_and_beat_have_a_heartbeat_liveness_probe(k8s_by_kind, component: str) -> None:
    container = _container(_deployment(k8s_by_kind, component))
    env = {item["name"]: item.get("value") for item in container["env"]}
    heartbeat = env["BRIDGE_HEARTBEAT_FILE"]
    # Written where the read-only root allows: the pod's /tmp volume.
    assert heartbeat.startswith("/tmp/")
    liveness = container["livenessProbe"]
    command = liveness["exec"]["command"]
    assert command[:2] == ["sh", "-c"] and "$BRIDGE_HEARTBEAT_FILE" in command[2]
    assert container["startupProbe"]["exec"]["command"] == command
    # Minutes of silence before a restart, not one missed beat.
    assert liveness["periodSeconds"] * liveness["failureThreshold"] >= 120


def test_migrations_run_as_a_job(k8s_by_kind) -> None:
    job = k8s_by_kind[("Job", "orderdesk-bridge-migrate")]
    pod = job["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert _container(job)["command"] == ["bridge", "db", "upgrade"]


def test_scaled_object_has_the_fields_keda_requires(k8s_by_kind) -> None:
    scaled = k8s_by_kind[("ScaledObject", "orderdesk-bridge-worker")]
    assert scaled["apiVersion"] == KEDA_API
    spec = scaled["spec"]
    target = spec["scaleTargetRef"]["name"]
    assert ("Deployment", target) in k8s_by_kind
    assert target == "orderdesk-bridge-worker"
    assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"]
    for key in ("pollingInterval", "cooldownPeriod", "minReplicaCount", "maxReplicaCount"):
        assert isinstance(spec[key], int), key

    listed = set()
    for trigger in spec["triggers"]:
        assert trigger["type"] == "redis"
        metadata = trigger["metadata"]
        # KEDA's CRD types every metadata value as a string; a bare number is refused.
        assert all(isinstance(value, str) for value in metadata.values()), metadata
        assert {"listName", "listLength"} <= metadata.keys()
        # The address comes from the Secret, through the TriggerAuthentication.
        assert "address" not in metadata and "host" not in metadata
        assert int(metadata["listLength"]) > 0
        auth = trigger["authenticationRef"]["name"]
        assert ("TriggerAuthentication", auth) in k8s_by_kind
        listed.add(metadata["listName"])
    # Only intake: the other queues are paced by Order Desk's bucket, poll intervals and beat.
    assert listed == {"intake"}


@needs_schemas
def test_scaled_object_behaviour_is_a_valid_hpa_behaviour(k8s_by_kind) -> None:
    spec = k8s_by_kind[("ScaledObject", "orderdesk-bridge-worker")]["spec"]
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "keda-hpa-orderdesk-bridge-worker"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "x"},
            "minReplicas": spec["minReplicaCount"],
            "maxReplicas": spec["maxReplicaCount"],
            "behavior": spec["advanced"]["horizontalPodAutoscalerConfig"]["behavior"],
        },
    }
    kubernetes_validate.validate(hpa, KUBERNETES_VERSION, strict=True)


def test_trigger_authentication_reads_the_shared_secret(k8s_by_kind) -> None:
    auth = k8s_by_kind[("TriggerAuthentication", "orderdesk-bridge-redis")]
    refs = {ref["parameter"]: ref for ref in auth["spec"]["secretTargetRef"]}
    assert refs == {
        "address": {"parameter": "address", "name": "orderdesk-bridge", "key": "REDIS_ADDRESS"},
        "password": {"parameter": "password", "name": "orderdesk-bridge", "key": "REDIS_PASSWORD"},
    }


def test_configmap_holds_only_real_non_secret_settings(k8s_by_kind) -> None:
    data = k8s_by_kind[("ConfigMap", "orderdesk-bridge-config")]["data"]
    fields = {f"BRIDGE_{name.upper()}" for name in Settings.model_fields}
    assert set(data) <= fields
    assert not {"BRIDGE_SECRET_KEY", "BRIDGE_DATABASE_URL"} & set(data)
    # Per Deployment: the public web sets it false, the admin Deployment true.
    assert "BRIDGE_ADMIN_ENABLED" not in data
    assert all(isinstance(value, str) for value in data.values())


def test_containers_run_unprivileged_on_a_read_only_root(k8s_documents) -> None:
    pods = [
        doc["spec"]["template"]["spec"]
        for _, doc in k8s_documents
        if doc["kind"] in {"Deployment", "Job"}
    ]
    assert len(pods) == 6
    for pod in pods:
        assert pod["securityContext"]["runAsNonRoot"] is True
        for container in pod["containers"]:
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False
            assert security["readOnlyRootFilesystem"] is True
            mounts = {mount["mountPath"] for mount in container["volumeMounts"]}
            assert "/tmp" in mounts, container["name"]


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed here")
def test_kustomize_renders_the_whole_set() -> None:
    result = subprocess.run(
        ["kubectl", "kustomize", str(K8S)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    rendered = parse_yaml_documents(result.stdout)
    assert {doc["metadata"].get("namespace") for doc in rendered if doc["kind"] != "Namespace"} == {
        "orderdesk-bridge"
    }
    images = {
        container["image"]
        for doc in rendered
        if doc["kind"] in {"Deployment", "Job"}
        for container in doc["spec"]["template"]["spec"]["containers"]
    }
    assert images == {"registry.example.com/orderdesk-bridge:0.1.0"}


def test_hole11_flower_pod_gets_only_the_broker_and_its_login(k8s_by_kind) -> None:
    container = _container(_deployment(k8s_by_kind, "flower"))
    assert "envFrom" not in container
    env = {item["name"]: item["valueFrom"] for item in container["env"]}
    assert env == {
        "CELERY_BROKER_URL": {
            "secretKeyRef": {"name": "orderdesk-bridge", "key": "BRIDGE_BROKER_URL"}
        },
        "FLOWER_BASIC_AUTH": {
            "secretKeyRef": {"name": "orderdesk-bridge", "key": "FLOWER_BASIC_AUTH"}
        },
        # Not a secret: the name of the Sentinel-watched primary, for a sentinel:// broker.
        "BRIDGE_REDIS_SENTINEL_MASTER": {
            "configMapKeyRef": {
                "name": "orderdesk-bridge-config",
                "key": "BRIDGE_REDIS_SENTINEL_MASTER",
                "optional": True,
            }
        },
    }
    assert container["command"] == FLOWER_COMMAND
