"""The end-to-end benchmark runs small in CI, so the script that produces the README's figures
cannot rot: every scenario must finish with every order shipped and every package posted, and
its report must hold the figures the README quotes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PG_SERVER

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_quick_pipeline_bench_reports_every_figure(tmp_path: Path) -> None:
    if shutil.which("redis-server") is None:
        pytest.skip("the bench starts its own redis-server: apt-get install redis-server")
    out, chart = tmp_path / "pipeline.json", tmp_path / "pipeline.png"
    env = {**os.environ, "BRIDGE_TEST_PG": PG_SERVER}
    done = subprocess.run(
        [sys.executable, "bench/pipeline.py", "--quick", f"--out={out}", f"--chart-path={chart}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1100,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "target" in done.stdout
    report = json.loads(out.read_text())
    runs = {run["scenario"]["name"]: run for run in report["runs"]}
    assert set(runs) == {
        "batched-1w",
        "steady-1-per-s-1w",
        "naive-1w",
        "batched-1w-same-size-as-naive",
        "3-stores-1w",
    }
    for run in runs.values():
        orders = run["orders"]
        assert orders == run["scenario"]["burst"] + run["scenario"]["small_stores"] * 10
        assert run["latency"]["webhook_to_submitted_s"]["count"] == orders
        assert run["latency"]["shipped_to_posted_s"]["count"] == orders
        assert run["orderdesk_calls"] > 0 and run["warehouse_calls"] > 0
        assert 0 < run["worker_peak_rss_mb"] < 1000
    assert runs["3-stores-1w"]["small_stores_latency"]["count"] == 20
    assert runs["steady-1-per-s-1w"]["scenario"]["rate"] == 1.0
    naive, batched = runs["naive-1w"], runs["batched-1w-same-size-as-naive"]
    assert naive["warehouse_calls_per_order"] > batched["warehouse_calls_per_order"]
    assert report["batched_over_naive"] is not None
    assert report["batched_capacity_over_naive"] is not None
    assert report["unfinished"] == []
    assert chart.read_bytes().startswith(b"\x89PNG")
