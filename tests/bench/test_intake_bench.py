"""A small run of bench/intake_bench.py with wrk, so the bench cannot rot unnoticed.

It checks what the figures rest on, not the figures (the machine is shared): every webhook was
sent once and answered 200, and PostgreSQL holds exactly one order per 200 answered.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        shutil.which("wrk") is None,
        reason="wrk is not installed (Debian package `wrk`: apt-get install wrk; .ci/run does)",
    ),
]

WARMUP, CLOSED, RATE, RATE_SECONDS = 20, 150, 40, 1


def test_a_small_wrk_run_sends_each_webhook_once_and_every_200_is_a_row(tmp_path: Path) -> None:
    out = tmp_path / "intake.json"
    command = [
        sys.executable,
        str(ROOT / "bench" / "intake_bench.py"),
        *("--warmup", str(WARMUP), "--requests", str(CLOSED), "--concurrency", "4"),
        *("--threads", "2", "--rate", str(RATE), "--rate-seconds", str(RATE_SECONDS)),
        *("--workers", "2", "--out", str(out)),
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGE_")}
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr

    report = json.loads(out.read_text())
    runs = {run["name"]: run for run in report["runs"]}
    assert report["client"] == "wrk"
    for name in ("bare closed-loop", "intake closed-loop"):
        assert (runs[name]["requests"], runs[name]["ok"]) == (CLOSED, CLOSED), runs[name]
        assert runs[name]["per_second"] > 0 and runs[name]["p99_ms"] > 0
    paced = runs["intake paced"]
    assert (paced["requests"], paced["ok"]) == (RATE * RATE_SECONDS, RATE * RATE_SECONDS)
    assert report["orders_stored"] == report["orders_expected"] == WARMUP + CLOSED + RATE
    assert report["targets_met"]["durable"] is True
    assert runs["intake closed-loop"]["server_cpu_ms_per_request"] > 0
    assert "target >= 1500/s" in done.stdout
