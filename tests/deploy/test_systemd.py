"""The systemd units: `systemd-analyze verify`, and the stop/restart policy each role needs.

verify insists that every ExecStart binary exists. The units point at the install location
(/opt/orderdesk-bridge/.venv/bin), which does not exist here, so the test copies the units with
that prefix moved to a temporary folder holding stand-in executables; everything else in the
files is verified as written.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from deploy_support import DEPLOY

UNITS = DEPLOY / "systemd"
INSTALL_PREFIX = "/opt/orderdesk-bridge"
SERVICES = {
    "orderdesk-bridge-web.service",
    "orderdesk-bridge-worker@.service",
    "orderdesk-bridge-beat.service",
    "orderdesk-bridge-flower.service",
}


def _unit(name: str) -> dict[str, dict[str, str]]:
    """Sections of a unit file; a key given several times (Environment=) keeps its lines joined."""
    sections: dict[str, dict[str, str]] = {}
    current: dict[str, str] = {}
    for line in (UNITS / name).read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
            continue
        key, value = line.split("=", 1)
        current[key] = f"{current[key]}\n{value}" if key in current else value
    return sections


def test_the_expected_units_exist() -> None:
    assert {p.name for p in UNITS.glob("*.service")} == SERVICES
    assert (UNITS / "orderdesk-bridge.target").is_file()


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not here")
def test_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    prefix = tmp_path / "install"
    bin_dir = prefix / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    for name in ("gunicorn", "celery", "python"):
        stand_in = bin_dir / name
        stand_in.write_text("#!/bin/sh\n")
        stand_in.chmod(0o755)
    unit_dir = tmp_path / "units"
    unit_dir.mkdir()
    for unit in UNITS.iterdir():
        (unit_dir / unit.name).write_text(unit.read_text().replace(INSTALL_PREFIX, str(prefix)))

    result = subprocess.run(
        ["systemd-analyze", "verify", *sorted(str(p) for p in unit_dir.iterdir())],
        capture_output=True,
        text=True,
        timeout=60,
    )
    # verify exits 0 on unknown keys and only warns: any output is a finding.
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == ""


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_service_restarts_and_stops_gracefully(name: str) -> None:
    service = _unit(name)["Service"]
    assert service["Restart"] in {"on-failure", "always"}
    assert service["ExecStart"].startswith(f"{INSTALL_PREFIX}/.venv/bin/")
    assert service["User"] == "orderdesk-bridge"
    assert service["EnvironmentFile"].splitlines()[0] == "/etc/orderdesk-bridge/env"
    assert int(service["TimeoutStopSec"]) > 0
    assert _unit(name)["Install"]["WantedBy"] == "orderdesk-bridge.target"


def test_worker_template_gets_a_warm_shutdown_of_at_least_a_minute() -> None:
    unit = _unit("orderdesk-bridge-worker@.service")
    service = unit["Service"]
    assert service["KillSignal"] == "SIGTERM"
    assert service["KillMode"] == "mixed"
    assert int(service["TimeoutStopSec"]) >= 60
    assert "--hostname=worker%i@%H" in service["ExecStart"]
    assert "-Q ${WORKER_QUEUES}" in service["ExecStart"]
    assert "WORKER_QUEUES=intake,orderdesk,poll,maintenance" in service["Environment"].splitlines()
    assert "-/etc/orderdesk-bridge/worker-%i.env" in service["EnvironmentFile"].splitlines()


def test_web_outlives_gunicorn_graceful_timeout_and_uses_the_config_file() -> None:
    service = _unit("orderdesk-bridge-web.service")["Service"]
    assert int(service["TimeoutStopSec"]) > 25
    assert service["Type"] == "notify"
    assert f"--config {INSTALL_PREFIX}/deploy/gunicorn.conf.py" in service["ExecStart"]
    assert service["ExecStart"].endswith("web:create_app()")


def test_flower_refuses_to_start_without_basic_auth() -> None:
    service = _unit("orderdesk-bridge-flower.service")["Service"]
    guard = service["ExecStartPre"]
    # `$$` reaches the shell as `$`: systemd must not paste the password into a command line.
    assert "$$FLOWER_BASIC_AUTH" in guard
    shell_line = guard.split("-c ", 1)[1].strip("'").replace("$$", "$")
    refused = subprocess.run(
        ["/bin/sh", "-c", shell_line], env={}, capture_output=True, text=True, timeout=10
    )
    assert refused.returncode != 0
    assert "FLOWER_BASIC_AUTH" in refused.stderr
    allowed = subprocess.run(
        ["/bin/sh", "-c", shell_line], env={"FLOWER_BASIC_AUTH": "ops:pw"}, timeout=10
    )
    assert allowed.returncode == 0


def test_hole11_flower_unit_starts_flower_through_the_clean_environment_launcher() -> None:
    service = _unit("orderdesk-bridge-flower.service")["Service"]
    # The env file holds the database password and BRIDGE_SECRET_KEY; the launcher passes Flower
    # only the broker URL and FLOWER_*, and Flower listens on loopback only.
    assert service["ExecStart"] == (
        f"{INSTALL_PREFIX}/.venv/bin/python -m bridge.jobs.flower --address=127.0.0.1 --port=5555"
    )
