"""Hole 8: ``bridge stores add/update`` take secrets from stdin, the environment or a prompt.

A secret in argv is readable by every local user and kept in shell history; it still works, with
a warning. Whatever the source, no secret is ever echoed back.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bridge.cli import main
from bridge.db import session_scope
from bridge.stores.registry import StoreRegistry

API_KEY = "od-key-7f3a9c2e5b1d4f6a8c0e2b4d6f8a"
NEW_KEY = "od-key-new-1a2b3c4d5e6f7a8b9c0d1e2f"
WH_KEY = "wh-key-5e6f7a8b9c0d1e2f3a4b"
WH_SECRET = "wh-secret-9c0d1e2f3a4b5c6d7e8f"
CONFIG = {"api_key": WH_KEY, "api_secret": WH_SECRET, "base_url": "http://127.0.0.1:9"}
SECRETS = (API_KEY, NEW_KEY, WH_KEY, WH_SECRET)
ADD = ["stores", "add", "--store-id", "123456", "--name", "Acme", "--backend", "shipstation"]


def _run(args: list[str], *, input: str | None = None, env: dict | None = None) -> Result:
    result = CliRunner().invoke(main, args, input=input, env=env)
    for secret in SECRETS:
        assert secret not in result.output, "a secret was echoed"
    return result


def _stored(store_id: str = "123456") -> tuple[str, dict]:
    with session_scope() as session:
        registry = StoreRegistry(session)
        store = registry.get(store_id)
        return registry.api_key(store), registry.backend_config(store)


def test_hole8_add_asks_for_the_key_with_a_hidden_prompt(database: str) -> None:
    result = _run(
        [*ADD], input=f"{API_KEY}\n", env={"BRIDGE_STORE_BACKEND_CONFIG": json.dumps(CONFIG)}
    )
    assert result.exit_code == 0, result.output
    assert "Order Desk API key" in result.output
    assert "warning" not in result.output
    assert _stored() == (API_KEY, CONFIG)


def test_hole8_add_reads_key_from_stdin_and_config_from_a_file(
    database: str, tmp_path: Path
) -> None:
    config_file = tmp_path / "warehouse.json"
    config_file.write_text(json.dumps(CONFIG))
    result = _run(
        [*ADD, "--api-key", "-", "--backend-config", f"@{config_file}"], input=f"{API_KEY}\n"
    )
    assert result.exit_code == 0, result.output
    assert "warning" not in result.output
    assert _stored() == (API_KEY, CONFIG)


def test_hole8_add_reads_key_from_env_and_config_from_stdin(database: str) -> None:
    result = _run(
        [*ADD, "--backend-config", "-"],
        input=json.dumps(CONFIG),
        env={"BRIDGE_STORE_API_KEY": API_KEY},
    )
    assert result.exit_code == 0, result.output
    assert "warning" not in result.output
    assert _stored() == (API_KEY, CONFIG)


def test_hole8_secrets_in_argv_still_work_but_warn(database: str) -> None:
    result = _run([*ADD, "--api-key", API_KEY, "--backend-config", json.dumps(CONFIG)])
    assert result.exit_code == 0, result.output
    assert "warning" in result.stderr and "--api-key" in result.stderr
    assert "api_key, api_secret" in result.stderr
    assert _stored() == (API_KEY, CONFIG)


def test_hole8_update_takes_new_key_from_stdin_prompt_or_env(database: str) -> None:
    assert _run([*ADD, "--api-key", "-"], input=API_KEY, env=_config_env()).exit_code == 0

    result = _run(["stores", "update", "123456", "--api-key", "-"], input=f"{NEW_KEY}\n")
    assert result.exit_code == 0, result.output
    assert _stored()[0] == NEW_KEY

    result = _run(
        ["stores", "update", "123456", "--api-key"],
        env={"BRIDGE_STORE_API_KEY": API_KEY},
    )
    assert result.exit_code == 0, result.output
    assert _stored()[0] == API_KEY

    result = _run(["stores", "update", "123456", "--api-key"], input=f"{NEW_KEY}\n")
    assert result.exit_code == 0, result.output
    assert _stored()[0] == NEW_KEY
    assert "warning" not in result.output

    rotated = {"api_secret": "wh-secret-rotated-0000000000"}
    result = _run(
        ["stores", "update", "123456", "--backend-config", "-"], input=json.dumps(rotated)
    )
    assert result.exit_code == 0, result.output
    assert _stored()[1] == CONFIG | rotated
    assert "warning" not in result.output


def test_hole8_an_unset_env_or_empty_key_changes_nothing(database: str) -> None:
    assert _run([*ADD, "--api-key", "-"], input=API_KEY, env=_config_env()).exit_code == 0
    result = _run(["stores", "update", "123456", "--backend-config"])
    assert result.exit_code != 0
    assert "BRIDGE_STORE_BACKEND_CONFIG" in result.output
    result = _run(["stores", "update", "123456", "--api-key", "-"], input="\n")
    assert result.exit_code != 0
    assert "API key is empty" in result.output
    assert _stored() == (API_KEY, CONFIG)


@pytest.mark.parametrize(
    "bad", [f'{{"api_secret": "{WH_SECRET}"', f'["{WH_SECRET}"]', f"api_secret={WH_SECRET}"]
)
def test_hole8_bad_config_is_refused_without_echoing_it(database: str, bad: str) -> None:
    result = _run([*ADD, "--api-key", "-", "--backend-config", "@/dev/stdin"], input=bad)
    assert result.exit_code != 0
    assert "--backend-config" in result.output
    with session_scope() as session:
        assert StoreRegistry(session).find("123456") is None


def test_hole8_key_never_appears_in_any_output(database: str) -> None:
    outputs = [
        _run([*ADD, "--api-key", "-"], input=API_KEY, env=_config_env()),
        _run([*ADD, "--api-key", "-"], input=API_KEY, env=_config_env()),  # duplicate: refused
        _run(["stores", "list"]),
        _run(["stores", "show", "123456"]),
        _run(["stores", "update", "123456", "--api-key", "-"], input=NEW_KEY),
        _run(["stores", "show", "123456"]),
    ]
    assert [r.exit_code for r in outputs] == [0, 1, 0, 0, 0, 0]


def _config_env() -> dict[str, str]:
    return {"BRIDGE_STORE_BACKEND_CONFIG": json.dumps(CONFIG)}


def test_hole8_key_and_config_cannot_both_read_stdin(database: str) -> None:
    result = _run([*ADD, "--api-key", "-", "--backend-config", "-"], input=API_KEY)
    assert result.exit_code == 2
    assert "cannot both read standard input" in result.output


def test_hole8_config_on_stdin_needs_the_key_from_the_environment(database: str) -> None:
    result = _run(
        [*ADD, "--backend-config", "-"],
        input=json.dumps(CONFIG),
        env={"BRIDGE_STORE_API_KEY": None},
    )
    assert result.exit_code == 2
    assert "BRIDGE_STORE_API_KEY" in result.output
