"""Settings fail early, with a message naming the variable to fix."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from bridge.cli import main
from bridge.crypto import get_secret_box
from bridge.settings import SettingsError, load_settings
from tests.conftest import reset_caches


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("BRIDGE_DATABASE_URL", "nosuchdb://x"),
        ("BRIDGE_BROKER_URL", "carrier-pigeon://x"),
        ("BRIDGE_ORDERDESK_API_URL", "app.orderdesk.me/api/v2"),
        ("BRIDGE_MAX_BODY_BYTES", "-1"),
        ("BRIDGE_ENV", "staging"),
        ("BRIDGE_FLOWER_URL", "flower.example.com"),
        ("BRIDGE_FLOWER_URL", "https://admin:s3cret-pw@flower.example.com/"),
    ],
)
def test_bad_value_names_the_variable(bridge_env, variable: str, value: str) -> None:
    bridge_env.setenv(variable, value)
    with pytest.raises(SettingsError, match=variable) as refused:
        load_settings()
    assert "s3cret-pw" not in str(refused.value)


def test_missing_secret_stops_production_start(bridge_env) -> None:
    bridge_env.delenv("BRIDGE_SECRET_KEY")
    reset_caches()
    with pytest.raises(SettingsError, match="BRIDGE_SECRET_KEY"):
        get_secret_box()


def test_dev_mode_generates_a_local_key_once(bridge_env, tmp_path) -> None:
    bridge_env.delenv("BRIDGE_SECRET_KEY")
    bridge_env.setenv("BRIDGE_ENV", "dev")
    reset_caches()
    token = get_secret_box().encrypt("hello")
    reset_caches()
    assert get_secret_box().decrypt(token) == "hello"
    assert (tmp_path / "var" / "secret.key").stat().st_mode & 0o077 == 0


def test_cli_reports_a_bad_setting_in_one_sentence(bridge_env) -> None:
    bridge_env.setenv("BRIDGE_DATABASE_URL", "nosuchdb://x")
    result = CliRunner().invoke(main, ["stores", "list"])
    assert result.exit_code != 0
    assert "BRIDGE_DATABASE_URL" in result.output
    assert "Traceback" not in result.output


def test_embedded_defaults_need_no_server(bridge_env, tmp_path) -> None:
    settings = load_settings()
    assert settings.database_url == f"sqlite:///{tmp_path / 'var' / 'bridge.db'}"
    assert settings.broker_url == "filesystem://"
    assert settings.redis_url == ""
