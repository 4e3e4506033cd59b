"""The Grafana dashboard: valid JSON whose every panel queries metrics the bridge exports, in
valid PromQL, and covers what an operator looks at first."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.monitoring.exported import exported_names, named_in

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "monitoring" / "grafana-dashboard.json"


def panels() -> list[dict]:
    return [p for p in json.loads(DASHBOARD.read_text())["panels"] if p["type"] != "row"]


def exprs() -> list[str]:
    return [target["expr"] for panel in panels() for target in panel["targets"]]


def test_every_panel_queries_exported_metrics() -> None:
    exported = exported_names()
    assert panels()
    for panel in panels():
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            read = named_in(target["expr"])
            assert read, f"{panel['title']}: no bridge metric in {target['expr']}"
            assert read <= exported, f"{panel['title']}: {read - exported} not exported"


def test_dashboard_covers_the_operations_view() -> None:
    read = set().union(*map(named_in, exprs()))
    for name in (
        "bridge_order_transitions_total",  # throughput
        "bridge_orders",  # orders by state
        "bridge_orders_oldest_age_seconds",  # oldest waiting
        "bridge_external_calls_total",  # partner calls (and their 429s)
        "bridge_task_seconds_bucket",  # task durations
        "bridge_queue_length",
    ):
        assert name in read, name
    assert any('status="429"' in expr for expr in exprs())


@pytest.mark.skipif(
    shutil.which("promtool") is None,
    reason="promtool is missing: install Debian's prometheus package to check the PromQL",
)
def test_panel_queries_are_valid_promql(tmp_path: Path) -> None:
    """promtool has no query checker, but it parses recording rules: one per panel query."""
    rules = [{"record": f"dashboard:query_{n}", "expr": expr} for n, expr in enumerate(exprs())]
    path = tmp_path / "dashboard-queries.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    done = subprocess.run(
        ["promtool", "check", "rules", str(path)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
