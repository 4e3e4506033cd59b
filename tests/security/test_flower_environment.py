"""Hole 11: a real Flower started by the launcher holds only the broker URL and its own login.

The launcher is what the Procfile and the systemd unit run; it is given the whole settings file,
as they are, and the running Flower process's own environment and argv are read from /proc.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import REDIS_SERVER

AUTH = ("ops", "flower-test-password-42")
SETTINGS_SECRETS = {
    "BRIDGE_SECRET_KEY": "suite-secret-key-0123456789-abcdefghij",
    "BRIDGE_DATABASE_URL": "postgresql+psycopg://bridge:db-password-42@127.0.0.1:5432/bridge",
    "BRIDGE_ADMIN_PASSWORD": "admin-password-42",
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _status(url: str, auth: tuple[str, str] | None = None) -> int | None:
    try:
        return requests.get(url, auth=auth, timeout=2).status_code
    except requests.RequestException:
        return None


def _proc(pid: int, name: str) -> list[str]:
    return Path(f"/proc/{pid}/{name}").read_bytes().decode().split("\0")


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs /proc")
def test_hole11_running_flower_has_no_database_password_or_secret_key(tmp_path: Path) -> None:
    port = _free_port()
    broker = f"{REDIS_SERVER}/12"
    env = {
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "HOME": str(tmp_path),
        "BRIDGE_BROKER_URL": broker,
        "FLOWER_BASIC_AUTH": ":".join(AUTH),
        **SETTINGS_SECRETS,
    }
    log = tmp_path / "flower.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "bridge.jobs.flower", "--address=127.0.0.1", f"--port={port}"],
            env=env,
            cwd=tmp_path,  # not the repository: Flower must not need the bridge's app or settings
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 60
        while _status(url, AUTH) != 200 and time.monotonic() < deadline:
            assert process.poll() is None, log.read_text(errors="replace")
            time.sleep(0.3)
        assert _status(url) == 401
        assert _status(url, AUTH) == 200, log.read_text(errors="replace")

        # The launcher replaced itself (exec), so this pid is Flower.
        environ = dict(item.split("=", 1) for item in _proc(process.pid, "environ") if item)
        argv = " ".join(_proc(process.pid, "cmdline"))
        assert "flower" in argv
        assert set(environ) <= {"PATH", "HOME", "CELERY_BROKER_URL", "FLOWER_BASIC_AUTH"}
        assert environ["CELERY_BROKER_URL"] == broker
        for secret in SETTINGS_SECRETS.values():
            assert secret not in str(environ)
            assert secret not in argv
        assert AUTH[1] not in argv and broker not in argv
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
