"""The two Kubernetes variants next to the main set: the Prometheus Operator's monitors
(deploy/k8s-prometheus-operator) and the Sentinel overlay (deploy/k8s-sentinel).

The monitors are custom resources kubernetes-validate has no schema for: the fields the
Operator's CRDs require are checked here, and each monitor must select the pods or Service of the
main set and name a port they have. The overlay is rendered with ``kubectl kustomize`` and
compared with the main set: it may change only the ConfigMap and KEDA's two resources.
"""

from __future__ import annotations

import shutil
import subprocess
from typing import Any

import pytest
from deploy_support import DEPLOY, K8S, load_yaml_documents, parse_yaml_documents

MONITORING_API = "monitoring.coreos.com/v1"
OPERATOR = DEPLOY / "k8s-prometheus-operator"
SENTINEL = DEPLOY / "k8s-sentinel"
needs_kubectl = pytest.mark.skipif(
    shutil.which("kubectl") is None, reason="kubectl is not installed here (it runs kustomize)"
)


def _kustomize(folder) -> list[dict[str, Any]]:
    done = subprocess.run(
        ["kubectl", "kustomize", str(folder)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return parse_yaml_documents(done.stdout)


def _by_kind(docs: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(doc["kind"], doc["metadata"]["name"]): doc for doc in docs}


def _monitors() -> dict[tuple[str, str], dict[str, Any]]:
    return _by_kind(load_yaml_documents(OPERATOR / "monitors.yaml"))


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    return selector["matchLabels"].items() <= labels.items()


def test_the_web_service_monitor_selects_the_web_service_and_names_its_port(k8s_by_kind) -> None:
    monitor = _monitors()[("ServiceMonitor", "orderdesk-bridge-web")]
    assert monitor["apiVersion"] == MONITORING_API
    service = k8s_by_kind[("Service", "orderdesk-bridge-web")]
    services = [
        doc
        for (kind, _), doc in k8s_by_kind.items()
        if kind == "Service" and _selects(monitor["spec"]["selector"], doc["metadata"]["labels"])
    ]
    assert services == [service]
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] in {port["name"] for port in service["spec"]["ports"]}
    assert endpoint["path"] == "/metrics"


def test_the_worker_pod_monitor_selects_only_worker_pods_and_their_metrics_port(
    k8s_by_kind,
) -> None:
    monitor = _monitors()[("PodMonitor", "orderdesk-bridge-worker")]
    assert monitor["apiVersion"] == MONITORING_API
    selected = [
        name
        for (kind, name), doc in k8s_by_kind.items()
        if kind == "Deployment"
        and _selects(monitor["spec"]["selector"], doc["spec"]["template"]["metadata"]["labels"])
    ]
    assert selected == ["orderdesk-bridge-worker"]
    worker = k8s_by_kind[("Deployment", "orderdesk-bridge-worker")]["spec"]["template"]
    (container,) = worker["spec"]["containers"]
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
    # The same port the annotations give a plain Prometheus.
    assert ports[endpoint["port"]] == int(worker["metadata"]["annotations"]["prometheus.io/port"])


@needs_kubectl
def test_the_monitors_render_into_the_bridges_namespace() -> None:
    rendered = _kustomize(OPERATOR)
    assert {doc["kind"] for doc in rendered} == {"ServiceMonitor", "PodMonitor"}
    assert {doc["metadata"]["namespace"] for doc in rendered} == {"orderdesk-bridge"}


@needs_kubectl
def test_the_sentinel_overlay_changes_only_the_configmap_and_kedas_resources() -> None:
    main = _by_kind(_kustomize(K8S))
    overlay = _by_kind(_kustomize(SENTINEL))
    assert overlay.keys() == main.keys()
    changed = {key for key in main if main[key] != overlay[key]}
    assert changed == {
        ("ConfigMap", "orderdesk-bridge-config"),
        ("ScaledObject", "orderdesk-bridge-worker"),
        ("TriggerAuthentication", "orderdesk-bridge-redis"),
    }


@needs_kubectl
def test_keda_scales_on_the_intake_list_through_the_sentinels() -> None:
    overlay = _by_kind(_kustomize(SENTINEL))
    (trigger,) = overlay[("ScaledObject", "orderdesk-bridge-worker")]["spec"]["triggers"]
    assert trigger["type"] == "redis-sentinel"
    metadata = trigger["metadata"]
    assert all(isinstance(value, str) for value in metadata.values()), metadata
    assert metadata["listName"] == "intake" and int(metadata["listLength"]) > 0
    # KEDA reads *FromEnv from the scaled container: the worker gets the ConfigMap's value.
    master = metadata["sentinelMasterFromEnv"]
    config = overlay[("ConfigMap", "orderdesk-bridge-config")]
    assert config["data"][master]
    worker = overlay[("Deployment", "orderdesk-bridge-worker")]["spec"]["template"]["spec"]
    (container,) = worker["containers"]
    assert {"configMapRef": {"name": config["metadata"]["name"]}} in container["envFrom"]
    # The Sentinels' addresses and the password come from the Secret, never the manifest.
    assert not {"addresses", "hosts", "password"} & metadata.keys()
    auth = overlay[("TriggerAuthentication", trigger["authenticationRef"]["name"])]
    refs = {ref["parameter"]: (ref["name"], ref["key"]) for ref in auth["spec"]["secretTargetRef"]}
    assert refs == {
        "addresses": ("orderdesk-bridge", "REDIS_SENTINEL_ADDRESSES"),
        "password": ("orderdesk-bridge", "REDIS_PASSWORD"),
    }
