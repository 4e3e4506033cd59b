"""Hole 7: ``bridge users`` manages the admin accounts. A password is read from a hidden prompt
or standard input, never from the command line, weak ones are refused, and nothing prints a
hash. Hole 11: ``bridge orders`` no longer crashes on a reference of non-ASCII digits."""

from __future__ import annotations

from collections.abc import Callable

import click
import pytest
from click.testing import CliRunner, Result
from flask import Flask

from bridge.cli import main
from bridge.db import session_scope
from tests.ops.conftest import sign_in

PASSWORD = "plenty of words in here"


@pytest.fixture
def users(database: str) -> Callable[..., Result]:
    def run(*args: str, input: str | None = None) -> Result:
        return CliRunner().invoke(main, ["users", *args], input=input)

    return run


def _hashes() -> dict[str, str]:
    from bridge.models import AdminUser

    with session_scope() as session:
        return {user.name: user.password_hash for user in session.query(AdminUser)}


def test_hole7_add_reads_the_password_from_stdin_and_stores_only_a_scrypt_hash(
    users: Callable[..., Result],
) -> None:
    result = users("add", "Alice", "--password-stdin", input=PASSWORD + "\n")

    assert result.exit_code == 0, result.output
    assert "admin user alice added" in result.output
    stored = _hashes()["alice"]
    assert stored.startswith("scrypt:") and PASSWORD not in stored
    assert PASSWORD not in result.output


def test_hole7_add_prompts_twice_without_echo(users: Callable[..., Result]) -> None:
    mismatch = users("add", "bob", input=f"{PASSWORD}\nsomething else entirely\n" * 3)
    assert mismatch.exit_code != 0
    assert "bob" not in _hashes()

    result = users("add", "bob", input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert "Repeat for confirmation" in result.output
    assert PASSWORD not in result.output  # hidden input is not echoed
    assert "bob" in _hashes()


def test_hole7_no_command_takes_a_password_as_an_argument() -> None:
    group = main.commands["users"]
    assert isinstance(group, click.Group)
    for name, command in group.commands.items():
        for param in command.params:
            takes_value = isinstance(param, click.Option) and not param.is_flag
            assert not (takes_value and "password" in param.name), (name, param.opts)
    runner = CliRunner()
    for name in ("add", "set-password"):
        help_text = runner.invoke(main, ["users", name, "--help"]).output
        assert "--password-stdin" in help_text
        assert "--password " not in help_text and "--password=" not in help_text
    refused = runner.invoke(main, ["users", "add", "carol", "--password", PASSWORD])
    assert refused.exit_code == 2 and "No such option" in refused.output


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("short1!", "too short"),
        ("aaaaaaaaaaaaaaaa", "too few characters"),
        ("1234567890123", "only digits"),
        ("dave-is-my-password", "contains the user name"),
        (" leading space pass", "space"),
    ],
)
def test_hole7_weak_passwords_are_refused_with_a_reason(
    users: Callable[..., Result], password: str, why: str
) -> None:
    result = users("add", "dave", "--password-stdin", input=password + "\n")
    assert result.exit_code == 1
    assert why in result.output
    assert password.strip() not in result.output
    assert "dave" not in _hashes()


def test_hole7_list_shows_accounts_but_never_a_hash(users: Callable[..., Result]) -> None:
    users("add", "erin", "--password-stdin", input=PASSWORD + "\n")
    users("add", "frank", "--password-stdin", input=PASSWORD + "\n")
    users("disable", "frank")

    result = users("list")

    assert result.exit_code == 0
    lines = {line.split()[0]: line.split()[1] for line in result.output.splitlines()[1:]}
    assert lines == {"erin": "yes", "frank": "no"}
    for stored in _hashes().values():
        assert stored not in result.output and stored.split("$")[-1] not in result.output
    assert "scrypt" not in result.output


def test_hole7_set_password_and_disable_take_effect_on_sign_in(
    users: Callable[..., Result], admin_app: Flask
) -> None:
    users("add", "gina", "--password-stdin", input=PASSWORD + "\n")
    new = "an entirely new passphrase"
    with admin_app.test_client() as client:
        assert sign_in(client, "gina", PASSWORD).status_code == 303

        changed = users("set-password", "gina", "--password-stdin", input=new + "\n")
        assert changed.exit_code == 0 and "sessions have ended" in changed.output
        assert client.get("/admin/").status_code == 303
        assert sign_in(client, "gina", PASSWORD).status_code == 401
        assert sign_in(client, "gina", new).status_code == 303

        assert users("disable", "gina").exit_code == 0
        assert client.get("/admin/").status_code == 303
        assert sign_in(client, "gina", new).status_code == 401

        assert users("enable", "gina").exit_code == 0
        assert sign_in(client, "gina", new).status_code == 303


def test_hole7_unknown_and_duplicate_users_are_one_sentence(users: Callable[..., Result]) -> None:
    assert users("add", "hal", "--password-stdin", input=PASSWORD + "\n").exit_code == 0
    again = users("add", "HAL", "--password-stdin", input=PASSWORD + "\n")
    assert again.exit_code == 1 and "already exists" in again.output
    missing = users("disable", "nobody")
    assert missing.exit_code == 1 and "no admin user 'nobody'" in missing.output
    bad_name = users("add", "no spaces please", "--password-stdin", input=PASSWORD + "\n")
    assert bad_name.exit_code == 1 and "user name" in bad_name.output


def test_hole11_an_order_reference_of_non_ascii_digits_is_an_error_not_a_crash(
    database: str,
) -> None:
    for ref in ("\N{SUPERSCRIPT TWO}", "9" * 5000):
        result = CliRunner().invoke(main, ["orders", "show", ref])
        assert result.exit_code == 1, result.exception
        assert "is not an order reference" in result.output
