"""Hole 9: ``bridge secret-key rotate``, weak keys refused, /readyz when secrets do not decrypt."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet
from sqlalchemy import select

from bridge.cli import main
from bridge.crypto import SecretError, new_secret_key
from bridge.db import session_scope
from bridge.keystrength import weakness
from bridge.models import Store
from bridge.settings import SettingsError
from tests.conftest import reset_caches
from web import create_app, health

OLD = "old-key-for-rotation-tests-0123456789-abcdef"
NEW = Fernet.generate_key().decode()
OTHER = "another-key-nobody-configured-9876543210-xyz"
OD_KEYS = {"111111": "od-key-111-aaaaaaaaaaaaaaaaaaaa", "222222": "od-key-222-bbbbbbbbbbbbbbbbbbbb"}
WH = {"api_key": "wh-key-cccccccccccccccccccc", "api_secret": "wh-secret-dddddddddddddddd"}
SECRETS = [*OD_KEYS.values(), *WH.values(), OLD, NEW, OTHER]


def _use_key(env: pytest.MonkeyPatch, material: str) -> None:
    env.setenv("BRIDGE_SECRET_KEY", material)
    reset_caches()


def _add_stores(env: pytest.MonkeyPatch, key: str = OLD) -> None:
    from bridge.stores.registry import StoreRegistry

    _use_key(env, key)
    with session_scope() as session:
        registry = StoreRegistry(session)
        registry.add(
            orderdesk_store_id="111111",
            name="With warehouse secrets",
            api_key=OD_KEYS["111111"],
            backend="shipstation",
            backend_config={"base_url": "http://127.0.0.1:9", **WH},
        )
        registry.add(
            orderdesk_store_id="222222",
            name="Key only",
            api_key=OD_KEYS["222222"],
            backend="simulated",
            backend_config={"base_url": "http://127.0.0.1:9"},
        )


def _read_all() -> dict[str, tuple[str, dict]]:
    from bridge.stores.registry import StoreRegistry

    with session_scope() as session:
        registry = StoreRegistry(session)
        return {
            s.orderdesk_store_id: (registry.api_key(s), registry.backend_config(s))
            for s in registry.list()
        }


def _tokens() -> dict[str, tuple[str, str | None]]:
    with session_scope() as session:
        rows = session.scalars(select(Store)).all()
        return {
            r.orderdesk_store_id: (r.api_key_encrypted, r.backend_secrets_encrypted) for r in rows
        }


def _cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    for secret in SECRETS:
        assert secret not in result.output, "a secret or key was printed"
    return result.exit_code, result.output


def test_hole9_rotate_then_drop_the_old_key_and_everything_decrypts(database: str, bridge_env):
    _add_stores(bridge_env)
    before = _read_all()

    _use_key(bridge_env, f"{NEW},{OLD}")
    code, output = _cli("secret-key", "rotate")
    assert code == 0, output
    assert "2 store(s): 3 secret(s) re-encrypted with the first key, 0 already under it" in output

    code, output = _cli("secret-key", "rotate")  # idempotent: nothing left to move
    assert code == 0, output
    assert "2 store(s): 0 secret(s) re-encrypted with the first key, 3 already under it" in output

    _use_key(bridge_env, NEW)  # the old key is dropped
    assert _read_all() == before
    _use_key(bridge_env, OLD)  # and the rows really changed: the old key alone reads nothing
    with pytest.raises(SecretError):
        _read_all()


def test_hole9_rotate_is_all_or_nothing_and_names_the_unreadable_store(database, bridge_env):
    _add_stores(bridge_env)
    from bridge.stores.registry import StoreRegistry

    _use_key(bridge_env, OTHER)
    with session_scope() as session:
        StoreRegistry(session).update("222222", api_key="od-key-under-a-lost-key-000000")
    before = _tokens()

    _use_key(bridge_env, f"{NEW},{OLD}")
    code, output = _cli("secret-key", "rotate")
    assert code != 0
    assert "222222" in output and "111111" not in output
    assert _tokens() == before, "a failed rotation must not rewrite any store"


@pytest.mark.parametrize(
    "weak",
    [
        "short-key",
        "a" * 40,
        "0123456789" * 4,
        "ab12" * 10,
        "change-this-to-a-long-random-value-0123456789",
    ],
)
def test_hole9_weak_key_is_refused_by_the_cli_and_the_web(bridge_env, weak: str) -> None:
    _use_key(bridge_env, weak)
    code, output = _cli("stores", "list")
    assert code != 0
    assert "BRIDGE_SECRET_KEY" in output
    assert weak not in output

    with pytest.raises(SettingsError, match="BRIDGE_SECRET_KEY") as raised:
        create_app()
    assert weak not in str(raised.value)

    # A new key can still be printed, and it passes the rule.
    code, output = _cli("secret-key")
    assert code == 0, output
    assert weakness(output.strip()) is None


def test_hole9_strong_first_key_may_keep_a_weak_old_key_for_reading(bridge_env) -> None:
    _use_key(bridge_env, f"{new_secret_key()},short-old-key")
    code, output = _cli("secret-key")
    assert code == 0, output
    create_app()


def _readyz(app) -> tuple[int, dict]:
    response = app.test_client().get("/readyz")
    return response.status_code, response.get_json()


def test_hole9_readyz_is_503_naming_the_store_whose_secrets_do_not_decrypt(
    database: str, bridge_env, monkeypatch: pytest.MonkeyPatch
) -> None:
    _add_stores(bridge_env)
    status, body = _readyz(create_app())
    assert status == 200, body

    _use_key(bridge_env, NEW)  # the key the stores were saved with is gone
    app = create_app()
    status, body = _readyz(app)
    assert status == 503
    problem = next(p for p in body["problems"] if "secrets" in p)
    assert "111111" in problem and "222222" in problem
    for secret in SECRETS:
        assert secret not in str(body)

    # The verdict is cached: putting the key back is seen once the cache expires.
    _use_key(bridge_env, f"{NEW},{OLD}")
    assert _readyz(app)[0] == 503
    later = time.monotonic() + health.SECRETS_CHECK_SECONDS + 1
    monkeypatch.setattr(health, "time", SimpleNamespace(monotonic=lambda: later))
    assert _readyz(app)[0] == 200
