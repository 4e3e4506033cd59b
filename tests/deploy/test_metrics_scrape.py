"""The recipes have Prometheus scrape both kinds of process that serve /metrics: the web (its
gunicorn workers summed) and every worker (its prefork children summed, plus the business
gauges), on the ports those processes really listen on."""

from __future__ import annotations

from typing import Any

import yaml
from deploy_support import DEPLOY, K8S, load_yaml_documents

from bridge.settings import Settings

WEB_PORT = 8000
WORKER_PORT = Settings.model_fields["metrics_port"].default


def _pod_template(component: str) -> dict[str, Any]:
    for doc in load_yaml_documents(K8S / f"{component}.yaml"):
        if doc["kind"] == "Deployment":
            return doc["spec"]["template"]
    raise AssertionError(f"no Deployment in {component}.yaml")


def test_k8s_pods_of_web_and_worker_are_annotated_for_scraping() -> None:
    for component, port in (("web", WEB_PORT), ("worker", WORKER_PORT)):
        template = _pod_template(component)
        annotations = template["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true", component
        assert annotations["prometheus.io/port"] == str(port), component
        assert annotations["prometheus.io/path"] == "/metrics", component
        (container,) = template["spec"]["containers"]
        assert port in {p["containerPort"] for p in container.get("ports", [])}, component
        # The alert rules recognise worker pods by these labels when scraped by annotation.
        labels = template["metadata"]["labels"]
        assert labels["app.kubernetes.io/component"] == component
        env = {e["name"]: e.get("value") for e in container.get("env", [])}
        assert env.get("BRIDGE_METRICS_PORT", str(WORKER_PORT)) == str(WORKER_PORT)


def test_k8s_worker_can_write_its_metrics_directory() -> None:
    """The multiprocess files go to a fresh directory under /tmp on a read-only root."""
    spec = _pod_template("worker")["spec"]
    (container,) = spec["containers"]
    assert "/tmp" in {mount["mountPath"] for mount in container["volumeMounts"]}


def test_compose_prometheus_scrapes_web_and_every_worker() -> None:
    (compose,) = load_yaml_documents(DEPLOY / "compose.yaml")
    services = compose["services"]
    prometheus = services["prometheus"]
    mounts = dict(volume.rsplit(":", 2)[:2] for volume in prometheus["volumes"])
    assert mounts["./monitoring/prometheus.yml"] == "/etc/prometheus/prometheus.yml"
    assert mounts["./monitoring/alerts.yaml"] == "/etc/prometheus/orderdesk-bridge-alerts.yaml"
    for source in ("prometheus.yml", "alerts.yaml"):
        assert (DEPLOY / "monitoring" / source).is_file()
    assert prometheus["ports"] == ["127.0.0.1:9090:9090"]

    config = yaml.safe_load((DEPLOY / "monitoring" / "prometheus.yml").read_text())
    assert config["rule_files"] == ["/etc/prometheus/orderdesk-bridge-alerts.yaml"]
    targets = {
        job["job_name"]: (sd["names"], sd["port"])
        for job in config["scrape_configs"]
        for sd in job["dns_sd_configs"]
    }
    assert targets == {
        "orderdesk-bridge-web": (["web"], WEB_PORT),
        "orderdesk-bridge-worker": (["worker"], WORKER_PORT),
    }
    assert services["worker"]["expose"] == [str(WORKER_PORT)]
    assert "BRIDGE_METRICS_PORT" not in services["worker"].get("environment", {})
