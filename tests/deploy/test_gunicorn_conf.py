"""deploy/gunicorn.conf.py: its settings, and a real gunicorn run with multi-process metrics."""

from __future__ import annotations

import os
import re
import runpy
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from deploy_support import DEPLOY, free_port

CONFIG = DEPLOY / "gunicorn.conf.py"
HERE = Path(__file__).resolve().parent
GUNICORN = Path(os.environ.get("VIRTUAL_ENV", HERE.parents[1] / ".venv")) / "bin" / "gunicorn"
LAUNCH_VARIABLES = ("PORT", "BRIDGE_WEB_BIND", "WEB_CONCURRENCY", "PROMETHEUS_MULTIPROC_DIR")


def _load(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **env: str) -> dict:
    for name in LAUNCH_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "metrics"))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(CONFIG))


def test_fixed_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = _load(monkeypatch, tmp_path)
    assert config["bind"] == "0.0.0.0:8000"
    assert config["workers"] == min(2 * (os.cpu_count() or 1) + 1, 8)
    assert config["worker_class"] in {"sync", "gthread"}
    assert (config["timeout"], config["graceful_timeout"]) == (30, 25)
    assert config["accesslog"] == "-"
    assert config["preload_app"] is False


@pytest.mark.parametrize(
    ("env", "bind"),
    [
        ({"PORT": "5000"}, "0.0.0.0:5000"),
        ({"PORT": "5000", "BRIDGE_WEB_BIND": "127.0.0.1:9000"}, "127.0.0.1:9000"),
        ({"BRIDGE_WEB_BIND": "unix:/run/bridge.sock"}, "unix:/run/bridge.sock"),
    ],
)
def test_bind_follows_the_environment(monkeypatch, tmp_path, env, bind) -> None:
    assert _load(monkeypatch, tmp_path, **env)["bind"] == bind


def test_web_concurrency_sets_the_worker_count(monkeypatch, tmp_path) -> None:
    assert _load(monkeypatch, tmp_path, WEB_CONCURRENCY="13")["workers"] == 13


class Gunicorn:
    def __init__(self, env: dict[str, str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        full_env = {k: v for k, v in os.environ.items() if k not in LAUNCH_VARIABLES}
        full_env.update(env, PORT=str(self.port), WEB_CONCURRENCY="2")
        self.process = subprocess.Popen(
            [str(GUNICORN), "--config", str(CONFIG), "--chdir", str(HERE), "metrics_wsgi:app"],
            env=full_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._wait_until(lambda: self._answers("/metrics"), "gunicorn never answered")

    def _answers(self, path: str) -> bool:
        try:
            return requests.get(self.url + path, timeout=2).status_code == 200
        except requests.ConnectionError:
            return False

    def _wait_until(self, condition, message: str, deadline: float = 20.0) -> None:
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            if self.process.poll() is not None:
                pytest.fail(f"gunicorn exited: {self.process.stderr.read()}")
            if condition():
                return
            time.sleep(0.05)
        pytest.fail(message)

    def metric(self, name: str) -> float:
        text = requests.get(self.url + "/metrics", timeout=5).text
        match = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
        return float(match.group(1)) if match else 0.0

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=30)


@pytest.fixture
def metrics_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "metrics"
    folder.mkdir()
    # What a previous run would leave behind: it must not be summed into this run's figures.
    (folder / "counter_424242.db").write_bytes(b"\0" * 16)
    return folder


@pytest.fixture
def server(metrics_dir: Path) -> Iterator[Gunicorn]:
    gunicorn = Gunicorn({"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)})
    yield gunicorn
    if gunicorn.process.poll() is None:
        gunicorn.process.kill()
        gunicorn.process.wait(timeout=10)


def test_metrics_are_summed_over_workers_and_survive_a_dead_one(server, metrics_dir) -> None:
    assert not (metrics_dir / "counter_424242.db").exists()
    for _ in range(20):
        requests.get(server.url + "/", headers={"Connection": "close"}, timeout=5)
    assert server.metric("deploy_test_requests_total") == 20

    def live_files() -> list[Path]:
        return sorted(metrics_dir.glob("gauge_livesum_*.db"))

    server._wait_until(lambda: len(live_files()) == 2, "not one live-gauge file per worker")
    first = live_files()[0]
    victim = int(first.stem.rsplit("_", 1)[1])
    os.kill(victim, signal.SIGKILL)
    # child_exit -> mark_process_dead removes the dead worker's live gauges...
    server._wait_until(lambda: not first.exists(), "dead worker's live gauge was kept")
    server._wait_until(lambda: len(live_files()) == 2, "no replacement worker")
    assert server.metric("deploy_test_live_workers") == 2
    # ...while its counted requests still count.
    assert server.metric("deploy_test_requests_total") == 20
    assert server.stop() == 0


def test_without_a_configured_folder_a_temporary_one_is_made_and_removed(tmp_path) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    gunicorn = Gunicorn({"TMPDIR": str(scratch)})
    try:
        (made,) = scratch.glob("orderdesk-bridge-metrics-*")
        requests.get(gunicorn.url + "/", timeout=5)
        assert gunicorn.metric("deploy_test_requests_total") == 1
        assert any(made.glob("counter_*.db"))
    finally:
        assert gunicorn.stop() == 0
    assert not made.exists()
