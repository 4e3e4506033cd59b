"""The worker's and beat's liveness probes, run for real against a real worker and beat.

The probe's command is taken from the Kubernetes manifest and run through ``sh`` as the kubelet
would: it passes while the process touches its heartbeat file and fails once the file has aged
past the limit (set back here rather than waited for) or is missing.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from deploy_support import K8S, REPO, load_yaml_documents

from tests.conftest import REDIS_SERVER, TEST_SECRET_KEY

BIN = Path(sys.executable).parent
COMMANDS = {
    "worker": ["worker", "--loglevel=INFO", "-Q", "maintenance", "--concurrency=1"],
    "beat": ["beat", "--loglevel=INFO"],
}


def _probe(component: str) -> list[str]:
    [deployment, *_] = load_yaml_documents(K8S / f"{component}.yaml")
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    return container["livenessProbe"]["exec"]["command"]


def _passes(component: str, heartbeat: Path) -> bool:
    env = {"PATH": os.environ["PATH"], "BRIDGE_HEARTBEAT_FILE": str(heartbeat)}
    return subprocess.run(_probe(component), env=env, capture_output=True).returncode == 0


@pytest.mark.parametrize("component", ["worker", "beat"])
def test_probe_passes_while_running_and_fails_when_the_heartbeat_is_stale(
    component: str, tmp_path: Path
) -> None:
    heartbeat = tmp_path / "heartbeat"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("BRIDGE_", "PYTEST"))},
        "BRIDGE_HEARTBEAT_FILE": str(heartbeat),
        "BRIDGE_BROKER_URL": f"{REDIS_SERVER}/14",
        "BRIDGE_DATABASE_URL": f"sqlite:///{tmp_path / 'bridge.db'}",
        "BRIDGE_SECRET_KEY": TEST_SECRET_KEY,
        "BRIDGE_DATA_DIR": str(tmp_path),
    }
    args = [str(BIN / "celery"), "-A", "workers", *COMMANDS[component]]
    if component == "beat":
        args.append(f"--schedule={tmp_path / 'schedule'}")
    log = (tmp_path / "log").open("wb")
    process = subprocess.Popen(args, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        assert not _passes(component, heartbeat)  # nothing touched yet: no file
        deadline = time.monotonic() + 30
        while not heartbeat.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _passes(component, heartbeat), (tmp_path / "log").read_text()
        first = heartbeat.stat().st_mtime
        # Touched again while it runs (beat ticks at least every 5 s, the worker every 10 s).
        deadline = time.monotonic() + 15
        while heartbeat.stat().st_mtime == first and time.monotonic() < deadline:
            time.sleep(0.5)
        assert heartbeat.stat().st_mtime > first
    finally:
        process.terminate()
        process.wait(30)
        log.close()
    stale = time.time() - 120
    os.utime(heartbeat, (stale, stale))
    assert not _passes(component, heartbeat)
