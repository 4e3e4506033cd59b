"""The compose file: its shape, and what a compose client makes of it without an engine.

`docker compose config` only reads and interpolates the file; it needs no running engine. Here
the Docker CLI may lack the compose plugin, so the standalone `docker-compose` is tried too.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
import yaml
from deploy_support import DEPLOY, REPO, load_yaml_documents

COMPOSE = DEPLOY / "compose.yaml"
REQUIRED_ENV = {
    "POSTGRES_PASSWORD": "pg-pass",
    "BRIDGE_SECRET_KEY": "fernet-key-for-the-test",
    "FLOWER_BASIC_AUTH": "ops:flower-pass",
}


def _compose_command() -> list[str] | None:
    if shutil.which("docker"):
        probe = subprocess.run(
            ["docker", "compose", "version"], capture_output=True, text=True, timeout=30
        )
        if probe.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


COMPOSE_COMMAND = _compose_command()
needs_compose = pytest.mark.skipif(
    COMPOSE_COMMAND is None, reason="neither `docker compose` nor `docker-compose` is installed"
)


def _config(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    assert COMPOSE_COMMAND is not None
    clean = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), **env}
    return subprocess.run(
        [*COMPOSE_COMMAND, "-f", str(COMPOSE), "config"],
        capture_output=True,
        text=True,
        timeout=60,
        env=clean,
        cwd=REPO,
    )


def test_hole11_compose_flower_gets_only_the_broker_and_its_login() -> None:
    (compose,) = load_yaml_documents(COMPOSE)
    flower = compose["services"]["flower"]
    assert set(flower["environment"]) == {"CELERY_BROKER_URL", "FLOWER_BASIC_AUTH"}
    assert flower["command"] == ["celery", "-A", "bridge.jobs.flower_app", "flower", "--port=5555"]
    assert flower["ports"] == ["127.0.0.1:5555:5555"]


def test_compose_has_every_process_and_its_stores() -> None:
    (compose,) = load_yaml_documents(COMPOSE)
    services = compose["services"]
    assert {
        "web",
        "worker",
        "beat",
        "flower",
        "redis",
        "postgres",
        "migrate",
        "prometheus",
    } == set(services)
    assert services["worker"]["stop_grace_period"] == "90s"
    assert services["migrate"]["command"] == ["bridge", "db", "upgrade"]
    assert services["web"]["depends_on"]["migrate"]["condition"] == (
        "service_completed_successfully"
    )
    assert "deploy/gunicorn.conf.py" in services["web"]["command"]
    assert set(services["worker"]["command"][-1].split(",")) == {
        "intake",
        "orderdesk",
        "poll",
        "maintenance",
    }


@needs_compose
def test_compose_config_resolves_with_the_required_secrets() -> None:
    result = _config(REQUIRED_ENV)
    assert result.returncode == 0, result.stderr
    resolved = yaml.safe_load(result.stdout)
    web_env = resolved["services"]["web"]["environment"]
    assert web_env["BRIDGE_DATABASE_URL"] == (
        "postgresql+psycopg://bridge:pg-pass@postgres:5432/bridge"
    )
    assert web_env["BRIDGE_BROKER_URL"].startswith("redis://redis:")
    assert "FLOWER_BASIC_AUTH" not in web_env
    flower_env = resolved["services"]["flower"]["environment"]
    assert flower_env == {
        "CELERY_BROKER_URL": web_env["BRIDGE_BROKER_URL"],
        "FLOWER_BASIC_AUTH": "ops:flower-pass",
    }
    assert resolved["services"]["web"]["build"]["dockerfile"] == "deploy/Containerfile"


@needs_compose
@pytest.mark.parametrize("missing", sorted(REQUIRED_ENV))
def test_compose_refuses_to_run_without_a_secret(missing: str) -> None:
    env = {key: value for key, value in REQUIRED_ENV.items() if key != missing}
    result = _config(env)
    assert result.returncode != 0
    assert missing in result.stderr
