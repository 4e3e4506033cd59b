"""Logs: every line JSON in production, gunicorn's own lines included; console lines in
``bridge dev``; plain words, never JSON, where a person reads the ``bridge`` command.

gunicorn runs for real on a loopback port with ``deploy/gunicorn.conf.py`` and the real app.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from bridge.devrun.children import Ports, web
from tests.cli.support import closed_port, json_lines, run_bridge, run_in_terminal
from tests.ops.conftest import STORE_ID

REPO = Path(__file__).resolve().parents[2]
GUNICORN = Path(sys.executable).with_name("gunicorn")


@dataclass
class Served:
    stdout: str
    stderr: str

    @property
    def lines(self) -> list[str]:
        return [line for line in (self.stdout + self.stderr).splitlines() if line.strip()]


def _serve(command: list[str], port: int, tmp_path: Path, requests_to_make: list[tuple]) -> Served:
    """Run gunicorn until it answers, make the requests, stop it, and return what it wrote."""
    out, err = tmp_path / "stdout", tmp_path / "stderr"
    with out.open("w") as stdout, err.open("w") as stderr:
        process = subprocess.Popen(command, cwd=REPO, stdout=stdout, stderr=stderr)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, err.read_text()
            try:
                requests.get(url + "/healthz", timeout=5)
                break
            except requests.RequestException:  # not listening yet, or the app is still loading
                assert time.monotonic() < deadline, "gunicorn never answered"
                time.sleep(0.1)
        for method, path, extra in requests_to_make:
            requests.request(method, url + path, timeout=10, **extra)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return Served(out.read_text(), err.read_text())


REQUESTS = [
    ("GET", "/healthz", {}),
    ("GET", "/no-such-page?token=do-not-log-me", {}),
    (
        "POST",
        "/webhooks/orderdesk",
        {"data": {"order": "{}"}, "headers": {"X-Order-Desk-Store-Id": "999"}},
    ),
]


@pytest.fixture
def production_env(database: str, bridge_env: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[int]:
    port = closed_port()
    for name, value in {
        "BRIDGE_LOG_FORMAT": "json",
        "PORT": str(port),
        "WEB_CONCURRENCY": "1",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
    }.items():
        bridge_env.setenv(name, value)
    bridge_env.delenv("BRIDGE_WEB_BIND", raising=False)
    yield port


def test_gunicorn_writes_nothing_but_json(production_env: int, tmp_path: Path) -> None:
    command = [str(GUNICORN), "--config", "deploy/gunicorn.conf.py", "web:create_app()"]

    served = _serve(command, production_env, tmp_path, REQUESTS)

    records = [json.loads(line) for line in served.lines]  # each line parses, or this fails
    assert all(isinstance(record, dict) for record in records)
    access = [(r["method"], r["path"], r["status"]) for r in records if r["event"] == "request"]
    assert ("GET", "/healthz", 200) in access
    assert ("GET", "/no-such-page", 404) in access
    assert ("POST", "/webhooks/orderdesk", 403) in access
    assert all(json.loads(line)["event"] == "request" for line in served.stdout.splitlines())
    loggers = {record.get("logger") for record in records}
    assert "gunicorn.error" in loggers  # start-up and shut-down lines, as JSON too
    assert "do-not-log-me" not in served.stdout + served.stderr


def test_bridge_dev_web_child_logs_console_lines(
    production_env: int, bridge_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # As `bridge dev` starts it: console format, no multi-process metrics folder.
    bridge_env.setenv("BRIDGE_LOG_FORMAT", "console")
    bridge_env.delenv("PROMETHEUS_MULTIPROC_DIR")
    command = web(Ports(web=production_env, orderdesk=0, warehouse=0, flower=0))

    served = _serve(command, production_env, tmp_path, REQUESTS[:1])

    assert json_lines(served.stdout + served.stderr) == []
    request_lines = [line for line in served.lines if "request" in line and "/healthz" in line]
    assert request_lines and "method=GET" in request_lines[0] and "status=200" in request_lines[0]


def test_cli_on_a_terminal_prints_plain_words(
    bridge_env: pytest.MonkeyPatch, fresh_pg_url: str
) -> None:
    bridge_env.setenv("BRIDGE_DATABASE_URL", fresh_pg_url)
    bridge_env.setenv("BRIDGE_LOG_FORMAT", "json")

    seen = run_in_terminal("db", "upgrade")

    assert seen.code == 0, seen.stdout
    assert json_lines(seen.stdout) == []
    assert "info: Running upgrade  -> 0001" in seen.stdout
    assert "database upgraded to head" in seen.stdout


def test_cli_in_a_pipe_keeps_the_configured_json(
    bridge_env: pytest.MonkeyPatch, fresh_pg_url: str
) -> None:
    bridge_env.setenv("BRIDGE_DATABASE_URL", fresh_pg_url)
    bridge_env.setenv("BRIDGE_LOG_FORMAT", "json")

    piped = run_bridge("db", "upgrade")

    assert piped.code == 0
    assert piped.stdout == "database upgraded to head\n"
    assert json_lines(piped.stderr) == piped.stderr.splitlines() != []


def test_cli_tables_on_a_terminal(bridge_env: pytest.MonkeyPatch, store: int) -> None:
    seen = run_in_terminal("stores", "list")

    assert seen.code == 0, seen.stdout
    text = re.sub(r"\x1b\[[0-9;]*m", "", seen.stdout)  # colours and bold off
    assert "┃ STORE ID ┃" in text and f"│ {STORE_ID}   │ Ops <Test> Store │" in text
    assert json_lines(seen.stdout) == []


def _run_until(command: list[str], ready: str, tmp_path: Path) -> Served:
    """Run a Celery program until its log says ``ready``, stop it (SIGTERM), return its output."""
    out, err = tmp_path / "stdout", tmp_path / "stderr"
    with out.open("w") as stdout, err.open("w") as stderr:
        process = subprocess.Popen(command, cwd=tmp_path, stdout=stdout, stderr=stderr)
    try:
        deadline = time.monotonic() + 60
        while ready not in err.read_text():
            assert process.poll() is None, err.read_text()
            assert time.monotonic() < deadline, f"never logged {ready!r}: {err.read_text()}"
            time.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return Served(out.read_text(), err.read_text())


# Celery prints this one line straight to the original stdout when it is stopped; no setting
# or hook turns it off.
CELERY_SHUTDOWN_NOTICE = "worker: Warm shutdown (MainProcess)"


@pytest.mark.parametrize(
    ("program", "ready"),
    [
        (["worker", "--concurrency", "1", "--without-mingle", "--without-gossip"], " ready."),
        (["beat", "--schedule", "beat-schedule"], "beat: Starting"),
    ],
)
def test_celery_worker_and_beat_write_json_without_banners(
    broker: str, bridge_env: pytest.MonkeyPatch, tmp_path: Path, program: list[str], ready: str
) -> None:
    bridge_env.setenv("BRIDGE_LOG_FORMAT", "json")
    celery = str(Path(sys.executable).with_name("celery"))

    served = _run_until([celery, "-A", "workers", *program, "--loglevel", "INFO"], ready, tmp_path)

    lines = [line for line in served.lines if line != CELERY_SHUTDOWN_NOTICE]
    assert lines and all(isinstance(json.loads(line), dict) for line in lines)
    assert "[tasks]" not in served.stdout and "LocalTime" not in served.stdout
