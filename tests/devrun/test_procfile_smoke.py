"""The Procfile's four processes start against real PostgreSQL and Redis, and stop on SIGTERM.

Each line runs as honcho or foreman would run it: through the shell, from the repository root,
in a process group of its own, with the settings of a ``.env`` in its environment. A process is
up when it answers or logs what an operator would look for; it is stopped by SIGTERM to its
group, and the whole group must be gone within the grace period a supervisor gives it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from honcho.environ import parse_procfile

from tests.conftest import TEST_SECRET_KEY
from tests.devrun.support import (
    REPO,
    VENV_BIN,
    clean_environment,
    free_port,
    group_members,
    tail,
    wait_for,
)

pytestmark = pytest.mark.slow

GRACE_SECONDS = 30.0
START_TIMEOUT = 60.0
FLOWER_PORT = 5555  # fixed by the Procfile line
FLOWER_AUTH = ("ops", "smoke-test-password")


@dataclass
class Running:
    name: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pgid(self) -> int:
        return self.process.pid


def _port_in_use(port: int) -> bool:
    try:
        requests.get(f"http://127.0.0.1:{port}/", timeout=1)
    except requests.ConnectionError:
        return False
    except requests.RequestException:
        return True
    return True


def _status(url: str, auth: tuple[str, str] | None = None) -> int | None:
    try:
        return requests.get(url, auth=auth, timeout=2).status_code
    except requests.RequestException:
        return None


@pytest.fixture
def procfile_env(database: str, redis_url: str, tmp_path: Path) -> dict[str, str]:
    """What an operator's ``.env`` holds for the Procfile, pointed at the test services.

    The venv is off PATH, as under an unactivated ``.venv/bin/honcho start``: the Procfile's
    lines must find its programs themselves (here through VIRTUAL_ENV, as the venv is not
    necessarily the checkout's ``.venv``)."""
    env = clean_environment(
        BRIDGE_DATABASE_URL=database,
        BRIDGE_BROKER_URL=redis_url,
        BRIDGE_SECRET_KEY=TEST_SECRET_KEY,
        BRIDGE_DATA_DIR=str(tmp_path / "var"),
        BRIDGE_LOG_FORMAT="json",
        PORT=str(free_port()),
        WEB_CONCURRENCY="2",
        FLOWER_BASIC_AUTH=":".join(FLOWER_AUTH),
    )
    env["PATH"] = os.pathsep.join(
        entry for entry in env["PATH"].split(os.pathsep) if entry != str(VENV_BIN)
    )
    env["VIRTUAL_ENV"] = str(VENV_BIN.parent)
    return env


@pytest.fixture
def started(procfile_env: dict[str, str], tmp_path: Path) -> Iterator[dict[str, Running]]:
    if _port_in_use(FLOWER_PORT):
        pytest.skip(f"port {FLOWER_PORT} (Flower's, fixed in the Procfile) is already taken")
    lines = dict(parse_procfile((REPO / "Procfile").read_text()).processes)
    running: dict[str, Running] = {}
    for name, command in lines.items():
        log = tmp_path / f"{name}.log"
        with log.open("wb") as sink:
            process = subprocess.Popen(
                command,
                shell=True,
                cwd=REPO,
                env=procfile_env,
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        running[name] = Running(name, process, log)
    try:
        yield running
    finally:
        for proc in running.values():
            for pid in group_members(proc.pgid):
                os.kill(pid, signal.SIGKILL)
            proc.process.wait(timeout=10)


def test_every_procfile_process_comes_up_and_stops_on_sigterm(
    started: dict[str, Running], procfile_env: dict[str, str]
) -> None:
    assert list(started) == ["web", "worker", "beat", "flower"]
    web = f"http://127.0.0.1:{procfile_env['PORT']}"
    flower = f"http://127.0.0.1:{FLOWER_PORT}/"
    ready: dict[str, Callable[[], bool]] = {
        # /readyz: the web app reached PostgreSQL and Redis, not only that it listens.
        "web": lambda: _status(f"{web}/readyz") == 200,
        "worker": lambda: " ready." in started["worker"].log.read_text(errors="replace"),
        "beat": lambda: "beat: Starting" in started["beat"].log.read_text(errors="replace"),
        "flower": lambda: _status(flower) == 401 and _status(flower, FLOWER_AUTH) == 200,
    }
    deadline = time.monotonic() + START_TIMEOUT
    for name, check in ready.items():
        up = wait_for(check, timeout=max(deadline - time.monotonic(), 1.0))
        assert up, f"{name} did not come up:\n{tail(started[name].log)}"
        assert started[name].process.poll() is None, name

    for proc in started.values():
        os.killpg(proc.pgid, signal.SIGTERM)
    stopped_at = time.monotonic()
    for proc in started.values():
        left = max(stopped_at + GRACE_SECONDS - time.monotonic(), 0.1)
        gone = wait_for(lambda proc=proc: not group_members(proc.pgid), timeout=left)
        assert gone, f"{proc.name} still running {GRACE_SECONDS:.0f}s after SIGTERM:\n" + tail(
            proc.log
        )
    assert "Shutting down: Master" in started["web"].log.read_text()
    assert "Warm shutdown" in started["worker"].log.read_text()
