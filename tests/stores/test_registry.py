"""The store registry keeps keys encrypted at rest and never shows them to a person."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from bridge import migrate
from bridge.cli import main
from bridge.db import engine_for, session_scope
from bridge.stores.registry import StoreError, StoreRegistry

API_KEY = "od-live-key-9f8e7d6c5b4a39281706"
WAREHOUSE_SECRET = "ss-secret-0a1b2c3d4e5f60718293"
SHIPSTATION = {
    "base_url": "http://127.0.0.1:9",
    "api_key": "ss-key-123456789012",
    "api_secret": WAREHOUSE_SECRET,
}


def _add(**overrides: object) -> None:
    fields = {
        "orderdesk_store_id": "123456",
        "name": "Acme",
        "api_key": API_KEY,
        "backend": "shipstation",
        "backend_config": dict(SHIPSTATION),
    } | overrides
    with session_scope() as session:
        StoreRegistry(session).add(**fields)


def test_secrets_round_trip_but_are_not_readable_in_rows(database: str) -> None:
    _add()
    with engine_for(database).connect() as conn:
        row = conn.execute(text("SELECT * FROM stores")).mappings().one()
    dumped = json.dumps({k: str(v) for k, v in row.items()})
    assert API_KEY not in dumped
    assert WAREHOUSE_SECRET not in dumped
    assert "ss-key-123456789012" not in dumped
    assert row["backend_config"] == {"base_url": "http://127.0.0.1:9"}

    with session_scope() as session:
        registry = StoreRegistry(session)
        store = registry.get("123456")
        assert registry.api_key(store) == API_KEY
        assert registry.backend_config(store) == SHIPSTATION


def test_sqlite_file_does_not_contain_the_key(bridge_env, tmp_path: Path) -> None:
    db_file = tmp_path / "bridge.db"
    bridge_env.setenv("BRIDGE_DATABASE_URL", f"sqlite:///{db_file}")
    from tests.conftest import reset_caches

    reset_caches()
    migrate.upgrade()
    _add()
    reset_caches()
    raw = db_file.read_bytes() + b"".join(p.read_bytes() for p in tmp_path.glob("bridge.db-*"))
    assert API_KEY.encode() not in raw
    assert WAREHOUSE_SECRET.encode() not in raw


def test_cli_list_and_show_mask_secrets(database: str) -> None:
    runner = CliRunner()
    result = runner.invoke(
        main,
        [
            "stores",
            "add",
            "--store-id",
            "123456",
            "--name",
            "Acme",
            "--api-key",
            API_KEY,
            "--backend",
            "shipstation",
            "--backend-config",
            json.dumps(SHIPSTATION),
        ],
    )
    assert result.exit_code == 0, result.output
    listed = runner.invoke(main, ["stores", "list"])
    shown = runner.invoke(main, ["stores", "show", "123456"])
    for result in (listed, shown):
        assert result.exit_code == 0, result.output
        assert API_KEY not in result.output
        assert WAREHOUSE_SECRET not in result.output
    assert "123456" in listed.output and "Acme" in listed.output
    assert (
        json.loads(runner.invoke(main, ["stores", "show", "123456", "--json"]).output)["api_key"]
        == "****" + API_KEY[-4:]
    )


def test_update_and_disable(database: str) -> None:
    _add()
    runner = CliRunner()
    new_key = "replacement-key-000000000000"
    result = runner.invoke(
        main,
        [
            "stores",
            "update",
            "123456",
            "--api-key",
            new_key,
            "--poll-interval",
            "120",
            "--backend-config",
            '{"base_url": "http://127.0.0.1:10"}',
        ],
    )
    assert result.exit_code == 0, result.output
    assert runner.invoke(main, ["stores", "disable", "123456"]).exit_code == 0
    with session_scope() as session:
        registry = StoreRegistry(session)
        store = registry.get("123456")
        assert registry.api_key(store) == new_key
        assert store.poll_interval_seconds == 120
        assert store.active is False
        assert registry.backend_config(store) == SHIPSTATION | {"base_url": "http://127.0.0.1:10"}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"backend": "nope"}, "no warehouse backend named 'nope'"),
        ({"backend_config": {"base_url": "http://x"}}, "api_key"),
        ({"orderdesk_store_id": "abc"}, "store id is a number"),
        ({"orderdesk_store_id": "12²"}, "store id is a number"),
        ({"api_key": "  "}, "API key is empty"),
    ],
)
def test_bad_store_input_is_refused_in_plain_words(
    database: str, overrides: dict, message: str
) -> None:
    with pytest.raises(StoreError, match=message):
        _add(**overrides)


def test_duplicate_store_is_refused_by_the_cli(database: str) -> None:
    _add()
    result = CliRunner().invoke(
        main,
        [
            "stores",
            "add",
            "--store-id",
            "123456",
            "--name",
            "Again",
            "--api-key",
            "k" * 20,
            "--backend",
            "shipstation",
            "--backend-config",
            json.dumps(SHIPSTATION),
        ],
    )
    assert result.exit_code != 0
    assert "already registered" in result.output
    assert "Traceback" not in result.output
