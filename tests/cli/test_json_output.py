"""``--json`` on every list and show command: output that parses, and nothing secret in it.

A script reads these (a pipe is never a terminal), so the plain-text form is checked as well:
columns without colour or box characters, one row per line.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import click
from click.testing import Result

from bridge.cli import main
from bridge.db import session_scope
from bridge.models import AdminUser
from bridge.states import OrderState
from tests.conftest import TEST_SECRET_KEY
from tests.ops.conftest import (
    ADMIN_PASSWORD,
    API_KEY,
    STORE_ID,
    WAREHOUSE_KEY,
    SeedOrder,
    add_admin_user,
    fixture_order,
)

Cli = Callable[..., Result]
BOX = set("┏┓┗┛┃━│─╇╈┡┩")


def _commands(
    group: click.Group, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    with click.Context(group) as ctx:
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            assert command is not None
            if isinstance(command, click.Group):
                yield from _commands(command, (*path, name))
            else:
                yield (*path, name), command


def _secrets() -> list[str]:
    with session_scope() as session:
        hashes = [user.password_hash for user in session.query(AdminUser)]
    return [API_KEY, WAREHOUSE_KEY, TEST_SECRET_KEY, ADMIN_PASSWORD, *hashes]


def _parsed(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    for secret in _secrets():
        assert secret not in result.output
    return json.loads(result.output)


def test_every_list_and_show_command_has_json() -> None:
    listing = [path for path, _ in _commands(main) if path[-1] in ("list", "show")]
    assert {" ".join(path) for path in listing} >= {
        "stores list",
        "stores show",
        "orders list",
        "orders show",
        "users list",
        "backends list",
    }
    for path, command in _commands(main):
        if path[-1] in ("list", "show") or path == ("audit",):
            options = {opt for param in command.params for opt in getattr(param, "opts", [])}
            assert "--json" in options, f"bridge {' '.join(path)} has no --json"


def test_stores_list_and_show(cli: Cli, store: int) -> None:
    listed = _parsed(cli("stores", "list", "--json"))
    shown = _parsed(cli("stores", "show", STORE_ID, "--json"))

    assert [row["store_id"] for row in listed] == [STORE_ID]
    assert listed[0] == shown
    assert shown["api_key"] == "****" + API_KEY[-4:]
    assert shown["backend_config"]["api_key"] == "****" + WAREHOUSE_KEY[-4:]
    assert shown["active"] is True


def test_orders_list_and_show(cli: Cli, seed_order: SeedOrder) -> None:
    failed = seed_order(OrderState.FAILED, orderdesk_order_id="6100", last_error="503 from the wh")
    seed_order(OrderState.SHIPPED, orderdesk_order_id="6200", age=timedelta(hours=1))

    listed = _parsed(cli("orders", "list", "--json"))
    only_failed = _parsed(cli("orders", "list", "--state", "failed", "--json"))
    shown = _parsed(cli("orders", "show", f"{STORE_ID}:6100", "--json"))

    assert [row["orderdesk_order_id"] for row in listed] == ["6200", "6100"]
    assert only_failed == [row for row in listed if row["id"] == failed]
    assert only_failed[0]["reason"] == "503 from the wh"
    assert only_failed[0]["ref"] == f"{STORE_ID}:6100"
    # ISO 8601, so a script can parse it back.
    assert "T" in only_failed[0]["updated_at"]
    assert shown["order"]["id"] == failed and shown["order"]["state"] == "failed"
    # The customer's address and lines stay out of every listing.
    street = fixture_order()["shipping"]["address1"]
    assert street not in json.dumps(listed) and street not in json.dumps(shown)


def test_users_list(cli: Cli, store: int) -> None:
    add_admin_user()

    users = _parsed(cli("users", "list", "--json"))

    assert [(user["name"], user["active"]) for user in users] == [("ops", True)]
    assert set(users[0]) == {"name", "active", "last_login_at", "password_changed_at"}


def test_backends_list(cli: Cli) -> None:
    backends = _parsed(cli("backends", "list", "--json"))
    secret_defaults = [
        field
        for info in backends.values()
        for field in info["config"]
        if field["secret"] and "default" in field
    ]
    assert "simulated" in backends and secret_defaults == []


def test_audit(cli: Cli, seed_audited: SeedOrder) -> None:
    result = cli("audit", "--store", STORE_ID, "--json")
    data = json.loads(result.output)
    assert data["store_id"] == STORE_ID and data["consistent"] is True
    for secret in (API_KEY, WAREHOUSE_KEY):
        assert secret not in result.output


def test_empty_lists_say_so_and_json_is_an_empty_list(cli: Cli, store: int) -> None:
    assert cli("orders", "list").output == "no orders match\n"
    assert _parsed(cli("orders", "list", "--json")) == []
    assert _parsed(cli("users", "list", "--json")) == []


def test_a_pipe_gets_plain_columns(cli: Cli, seed_order: SeedOrder) -> None:
    seed_order(OrderState.FAILED, orderdesk_order_id="6300", last_error="a  long\nerror")

    lines = cli("orders", "list").output.splitlines()
    shown = cli("stores", "show", STORE_ID).output

    assert not BOX & set("".join(lines) + shown) and "\x1b[" not in "".join(lines)
    assert lines[0].split() == [
        "ROW",
        "STORE:ORDER",
        "NUMBER",
        "STATE",
        "TRIES",
        "UPDATED",
        "(UTC)",
        "REASON",
    ]
    assert lines[1].split()[1] == f"{STORE_ID}:6300" and lines[1].split()[3] == "failed"
    assert lines[1].endswith("a long error")
    assert f"store_id:              {STORE_ID}" in shown.splitlines()
    assert API_KEY not in shown and WAREHOUSE_KEY not in shown
