"""The alert rules in deploy/monitoring: valid for Prometheus, tested with ``promtool test
rules`` (each alert fires when it should and stays quiet when it should not), reading only
metrics the bridge exports; the Prometheus config for compose is valid with them."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.monitoring.exported import exported_names, named_in

MONITORING = Path(__file__).resolve().parents[2] / "deploy" / "monitoring"
RULES = MONITORING / "alerts.yaml"
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None,
    reason="promtool is missing: install Debian's prometheus package "
    "(apt-get install --no-install-recommends prometheus), as .ci/run does",
)


def promtool(*args: str, cwd: Path = MONITORING) -> str:
    assert PROMTOOL is not None
    done = subprocess.run(
        [PROMTOOL, *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def rules() -> list[dict]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


@needs_promtool
def test_rules_pass_promtool_check() -> None:
    assert f"SUCCESS: {len(rules())} rules found" in promtool("check", "rules", str(RULES))


@needs_promtool
def test_rules_pass_their_unit_tests() -> None:
    tests = sorted((MONITORING / "tests").glob("*.yaml"))
    assert tests
    assert "SUCCESS" in promtool("test", "rules", *map(str, tests), cwd=MONITORING / "tests")


def test_every_alert_has_a_test() -> None:
    tested = "\n".join(p.read_text() for p in (MONITORING / "tests").glob("*.yaml"))
    for rule in rules():
        assert f"alertname: {rule['alert']}\n" in tested, rule["alert"]


def test_rules_read_only_exported_metrics() -> None:
    exported = exported_names()
    read = set()
    for rule in rules():
        read |= named_in(rule["expr"])
        assert rule["labels"]["severity"] in {"warning", "critical"}
        assert rule["annotations"]["summary"]
    assert read, "the rules read no bridge metric"
    assert read <= exported, read - exported


@needs_promtool
def test_compose_prometheus_config_is_valid(tmp_path: Path) -> None:
    """The config as the compose service mounts it (the rules at their mounted path)."""
    config = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
    (mounted,) = config["rule_files"]
    assert Path(mounted).name == "orderdesk-bridge-alerts.yaml"
    shutil.copy(RULES, tmp_path / "orderdesk-bridge-alerts.yaml")
    config["rule_files"] = [str(tmp_path / "orderdesk-bridge-alerts.yaml")]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    promtool("check", "config", str(tmp_path / "prometheus.yml"))
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert jobs["orderdesk-bridge-worker"]["dns_sd_configs"][0]["port"] == 9808
    assert jobs["orderdesk-bridge-web"]["dns_sd_configs"][0]["port"] == 8000
    assert 'job="orderdesk-bridge-worker"' in RULES.read_text()


KUBERNETES_CONFIG = MONITORING / "prometheus-kubernetes.yml"
MONITORS = MONITORING.parent / "k8s-prometheus-operator" / "monitors.yaml"


def _jobs_named_by_the_rules() -> set[str]:
    return set(re.findall(r'\bjob="([^"]+)"', RULES.read_text()))


def _scrape_jobs(config: Path) -> set[str]:
    return {job["job_name"] for job in yaml.safe_load(config.read_text())["scrape_configs"]}


def _monitor_jobs() -> set[str]:
    jobs = set()
    for monitor in yaml.safe_load_all(MONITORS.read_text()):
        spec = monitor["spec"]
        for endpoint in spec.get("endpoints", []) + spec.get("podMetricsEndpoints", []):
            jobs |= {
                rule["replacement"]
                for rule in endpoint["relabelings"]
                if rule["targetLabel"] == "job"
            }
    return jobs


def test_every_recipe_scrapes_under_the_job_names_the_rules_expect() -> None:
    """compose's prometheus.yml, the plain-Prometheus Kubernetes jobs and the Operator's
    monitors all name the web and worker jobs alike, and the rules read those names."""
    expected = {"orderdesk-bridge-web", "orderdesk-bridge-worker"}
    assert _jobs_named_by_the_rules() == {"orderdesk-bridge-worker"}
    assert _scrape_jobs(MONITORING / "prometheus.yml") == expected
    assert _scrape_jobs(KUBERNETES_CONFIG) == expected
    assert _monitor_jobs() == expected


@needs_promtool
def test_kubernetes_prometheus_config_is_valid(tmp_path: Path) -> None:
    """Debian's promtool is built without Kubernetes discovery, so the pod discovery is swapped
    for a static target; everything else (the relabelling that keeps the bridge's pods and reads
    their annotations, the rule file) is checked as written."""
    config = yaml.safe_load(KUBERNETES_CONFIG.read_text())
    shutil.copy(RULES, tmp_path / "orderdesk-bridge-alerts.yaml")
    config["rule_files"] = [str(tmp_path / "orderdesk-bridge-alerts.yaml")]
    for job in config["scrape_configs"]:
        assert job.pop("kubernetes_sd_configs") == [
            {"role": "pod", "namespaces": {"names": ["orderdesk-bridge"]}}
        ]
        job["static_configs"] = [{"targets": ["10.0.0.7:9808"]}]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    assert "SUCCESS" in promtool("check", "config", str(tmp_path / "prometheus.yml"))
