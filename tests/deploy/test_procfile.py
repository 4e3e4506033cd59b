"""The Procfile as honcho reads it, and the shell guards in its lines."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from deploy_support import REPO
from honcho.environ import parse_procfile

PROCFILE = REPO / "Procfile"
# `.venv/bin/honcho start` leaves the venv off PATH: each line puts the venv's programs first
# (the activated one, else the checkout's .venv).
VENV_FIRST = 'PATH="${VIRTUAL_ENV:-$PWD/.venv}/bin:$PATH"; '


def _processes() -> dict[str, str]:
    return dict(parse_procfile(PROCFILE.read_text()).processes)


def _commands() -> dict[str, str]:
    """Each line after its PATH prefix."""
    return {name: line.removeprefix(VENV_FIRST) for name, line in _processes().items()}


def test_exactly_web_worker_beat_flower() -> None:
    assert list(_processes()) == ["web", "worker", "beat", "flower"]


def test_every_line_finds_the_venvs_programs_first() -> None:
    assert all(line.startswith(VENV_FIRST) for line in _processes().values())


def test_web_runs_gunicorn_with_the_config_file_on_the_app_factory() -> None:
    assert _commands()["web"] == (
        'exec gunicorn --config deploy/gunicorn.conf.py "web:create_app()"'
    )
    assert (REPO / "deploy" / "gunicorn.conf.py").is_file()


def test_worker_consumes_all_queues_and_beat_and_flower_use_the_celery_app() -> None:
    processes = _commands()
    assert processes["worker"].startswith("exec celery -A workers worker ")
    assert "-Q intake,orderdesk,poll,maintenance" in processes["worker"]
    assert "exec celery -A workers beat " in processes["beat"]
    # Flower runs without the bridge's app (and settings), on loopback only.
    assert processes["flower"] == (
        "exec python -m bridge.jobs.flower --address=127.0.0.1 --port=5555"
    )


FLOWER_SECRETS = {
    "BRIDGE_SECRET_KEY": "suite-secret-key-0123456789-abcdefghij",
    "BRIDGE_DATABASE_URL": "postgresql+psycopg://bridge:db-password-42@127.0.0.1/bridge",
    "BRIDGE_ADMIN_PASSWORD": "admin-password-42",
}
FLOWER_ALLOWED = {"PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "CELERY_BROKER_URL"}


@pytest.mark.parametrize("missing", ["FLOWER_BASIC_AUTH", "BRIDGE_BROKER_URL"])
def test_flower_line_stops_before_celery_when_auth_or_broker_is_missing(
    tmp_path: Path, missing: str
) -> None:
    witness = tmp_path / "celery-ran"
    env = {
        **_fake_venv(tmp_path, witness),
        "FLOWER_BASIC_AUTH": "ops:pw",
        "BRIDGE_BROKER_URL": "redis://127.0.0.1:6379/0",
    }
    del env[missing]
    refused = subprocess.run(
        ["/bin/sh", "-c", _processes()["flower"]],
        env=env,
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=30,
    )
    assert refused.returncode != 0
    assert missing in refused.stderr
    assert not witness.exists()


def test_hole11_flower_gets_only_the_broker_and_its_login(tmp_path: Path) -> None:
    witness = tmp_path / "celery-ran"
    env = {
        **_fake_venv(tmp_path, witness),
        "FLOWER_BASIC_AUTH": "ops:pw",
        "BRIDGE_BROKER_URL": "redis://:broker-pw@127.0.0.1:6379/0",
        **FLOWER_SECRETS,
    }
    started = subprocess.run(
        ["/bin/sh", "-c", _processes()["flower"]], env=env, cwd=REPO, timeout=30
    )
    assert started.returncode == 0
    # The password and the broker URL reach Flower through its environment, not its argv.
    # The app is Flower's own, settings-free one (bridge.jobs.flower_app), never the workers'.
    assert witness.read_text().split() == [
        "-A",
        "bridge.jobs.flower_app",
        "flower",
        "--address=127.0.0.1",
        "--port=5555",
    ]
    received = dict(
        line.split("=", 1) for line in (tmp_path / "celery-env").read_text().splitlines()
    )
    received.pop("PWD", None)  # the fake celery's shell adds these two itself
    received.pop("SHLVL", None)
    assert received["FLOWER_BASIC_AUTH"] == "ops:pw"
    assert received["CELERY_BROKER_URL"] == env["BRIDGE_BROKER_URL"]
    assert set(received) <= FLOWER_ALLOWED | {"FLOWER_BASIC_AUTH", "_"}
    for secret in FLOWER_SECRETS.values():
        assert secret not in str(received)


def _fake_venv(tmp_path: Path, witness: Path) -> dict[str, str]:
    """A venv holding the fake celery and this interpreter as `python`, named only by
    VIRTUAL_ENV: PATH has neither, as when `.venv/bin/honcho start` runs unactivated."""
    fake_bin = _fake_celery(tmp_path, witness)
    (fake_bin / "python").symlink_to(sys.executable)
    return {"VIRTUAL_ENV": str(fake_bin.parent), "PATH": "/usr/bin:/bin"}


def test_beat_line_keeps_its_schedule_in_the_data_dir(tmp_path: Path) -> None:
    witness = tmp_path / "celery-ran"
    data_dir = tmp_path / "state" / "bridge"
    env = {**_fake_venv(tmp_path, witness), "BRIDGE_DATA_DIR": str(data_dir)}
    result = subprocess.run(["/bin/sh", "-c", _processes()["beat"]], env=env, timeout=10)
    assert result.returncode == 0
    assert data_dir.is_dir()
    assert f"--schedule={data_dir}/celerybeat-schedule" in witness.read_text().split()


def _fake_celery(tmp_path: Path, witness: Path) -> Path:
    """A `celery` that records its arguments, to see what the shell line hands to Celery."""
    fake_bin = tmp_path / "venv" / "bin"
    fake_bin.mkdir(parents=True)
    script = fake_bin / "celery"
    script.write_text(f'#!/bin/sh\necho "$@" > {witness}\nenv > {witness.parent}/celery-env\n')
    script.chmod(0o755)
    return fake_bin
