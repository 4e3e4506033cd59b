"""The Procfile as honcho reads it, and the shell guards in its lines."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from deploy_support import REPO
from honcho.environ import parse_procfile

PROCFILE = REPO / "Procfile"


def _processes() -> dict[str, str]:
    return dict(parse_procfile(PROCFILE.read_text()).processes)


def test_exactly_web_worker_beat_flower() -> None:
    assert list(_processes()) == ["web", "worker", "beat", "flower"]


def test_web_runs_gunicorn_with_the_config_file_on_the_app_factory() -> None:
    assert _processes()["web"] == ('gunicorn --config deploy/gunicorn.conf.py "web:create_app()"')
    assert (REPO / "deploy" / "gunicorn.conf.py").is_file()


def test_worker_consumes_all_queues_and_beat_and_flower_use_the_celery_app() -> None:
    processes = _processes()
    assert processes["worker"].startswith("celery -A workers worker ")
    assert "-Q intake,orderdesk,poll,maintenance" in processes["worker"]
    assert "exec celery -A workers beat " in processes["beat"]
    assert "exec celery -A workers flower --port=5555" in processes["flower"]


def test_flower_line_stops_before_celery_when_basic_auth_is_missing(tmp_path: Path) -> None:
    witness = tmp_path / "celery-ran"
    fake_bin = _fake_celery(tmp_path, witness)
    env = {"PATH": f"{fake_bin}:{os.environ['PATH']}"}
    refused = subprocess.run(
        ["/bin/sh", "-c", _processes()["flower"]], env=env, capture_output=True, text=True
    )
    assert refused.returncode != 0
    assert "FLOWER_BASIC_AUTH" in refused.stderr
    assert not witness.exists()

    env["FLOWER_BASIC_AUTH"] = "ops:pw"
    started = subprocess.run(["/bin/sh", "-c", _processes()["flower"]], env=env, timeout=10)
    assert started.returncode == 0
    # The password reaches Flower through its environment, never through the command line.
    assert witness.read_text().split() == ["-A", "workers", "flower", "--port=5555"]


def test_beat_line_keeps_its_schedule_in_the_data_dir(tmp_path: Path) -> None:
    witness = tmp_path / "celery-ran"
    fake_bin = _fake_celery(tmp_path, witness)
    data_dir = tmp_path / "state" / "bridge"
    env = {"PATH": f"{fake_bin}:{os.environ['PATH']}", "BRIDGE_DATA_DIR": str(data_dir)}
    result = subprocess.run(["/bin/sh", "-c", _processes()["beat"]], env=env, timeout=10)
    assert result.returncode == 0
    assert data_dir.is_dir()
    assert f"--schedule={data_dir}/celerybeat-schedule" in witness.read_text().split()


def _fake_celery(tmp_path: Path, witness: Path) -> Path:
    """A `celery` that records its arguments, to see what the shell line hands to Celery."""
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    script = fake_bin / "celery"
    script.write_text(f'#!/bin/sh\necho "$@" > {witness}\n')
    script.chmod(0o755)
    return fake_bin
