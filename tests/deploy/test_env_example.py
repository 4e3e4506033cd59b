"""deploy/env.example documents every setting the code reads, and is itself a valid config."""

from __future__ import annotations

import re

import pytest
from deploy_support import DEPLOY, K8S, REPO

from bridge.settings import Settings

ENV_EXAMPLE = DEPLOY / "env.example"
# Read by the launchers (gunicorn config, Procfile, units, compose), not by bridge.settings.
LAUNCHER_VARIABLES = {"BRIDGE_WEB_BIND"}
ASSIGNMENT = re.compile(r"^(?:# )?([A-Z][A-Z0-9_]*)=(.*)$")


def _setting_variables() -> set[str]:
    """Each setting's variable: BRIDGE_ and its name, or its own (SENTRY_DSN) when it has one."""
    prefix = Settings.model_config["env_prefix"]
    return {
        str(field.validation_alias or f"{prefix}{name}").upper()
        for name, field in Settings.model_fields.items()
    }


def _documented() -> dict[str, str]:
    """Variable -> the comment paragraph above its assignment (a block of lines may share one)."""
    documented: dict[str, str] = {}
    comment: list[str] = []
    after_assignment = False
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = ASSIGNMENT.match(line)
        if match:
            documented[match.group(1)] = " ".join(comment)
            after_assignment = True
        elif line.startswith("#"):
            if after_assignment:
                comment, after_assignment = [], False
            comment.append(line.lstrip("# "))
        else:
            comment, after_assignment = [], False
    return documented


def test_every_setting_has_an_explained_line() -> None:
    documented = _documented()
    missing = _setting_variables() - documented.keys()
    assert not missing, f"settings missing from deploy/env.example: {sorted(missing)}"
    for variable in _setting_variables():
        assert len(documented[variable]) > 20, f"{variable} has no explanation above it"


def test_no_bridge_variable_is_documented_that_the_code_does_not_read() -> None:
    bridge_documented = {v for v in _documented() if v.startswith("BRIDGE_")}
    assert bridge_documented - _setting_variables() <= LAUNCHER_VARIABLES


@pytest.mark.parametrize(
    "path",
    [
        DEPLOY / "compose.yaml",
        K8S / "configmap.yaml",
        *sorted((DEPLOY / "systemd").iterdir()),
        REPO / "Procfile",
        DEPLOY / "gunicorn.conf.py",
    ],
    ids=lambda p: p.name,
)
def test_deploy_files_only_name_real_bridge_variables(path) -> None:
    named = set(re.findall(r"\bBRIDGE_[A-Z0-9_]+\b", path.read_text()))
    assert named <= _setting_variables() | LAUNCHER_VARIABLES, path.name


def test_the_example_loads_as_valid_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in _setting_variables():
        monkeypatch.delenv(variable, raising=False)
    settings = Settings(_env_file=ENV_EXAMPLE)
    assert settings.env == "production"
    assert settings.database_url.startswith("postgresql+psycopg://")
    assert settings.broker_url.startswith("redis://")
    assert settings.redis_url == settings.broker_url
