"""``bridge users``: the admin accounts. Passwords are typed at a hidden prompt or piped on stdin,
never given as arguments (those end up in shell history and in every process listing)."""

from __future__ import annotations

import sys

import click

from bridge.accounts.users import AdminUserError, AdminUsers, check_name, password_problem
from bridge.cli.output import Column, json_option, print_json, print_table
from bridge.db import session_scope

password_stdin_option = click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from the first line of standard input instead of prompting.",
)


def _read_password(name: str, from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        password = line.removesuffix("\n").removesuffix("\r")
        if not password:
            raise AdminUserError("no password on standard input")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    problem = password_problem(name, password)
    if problem:
        raise AdminUserError(problem)
    return password


@click.group("users")
def group() -> None:
    """Manage the accounts that sign in to the admin pages."""


@group.command()
@click.argument("name")
@password_stdin_option
def add(name: str, password_stdin: bool) -> None:
    """Create an admin user NAME (asks for the password twice)."""
    normalized = check_name(name)
    with session_scope() as session:
        if AdminUsers(session).find(normalized) is not None:
            raise AdminUserError(f"admin user {normalized!r} already exists")
    password = _read_password(normalized, password_stdin)
    with session_scope() as session:
        AdminUsers(session).add(normalized, password)
    click.echo(f"admin user {normalized} added")


USER_COLUMNS = (
    Column("name", "NAME"),
    Column("active", "ACTIVE"),
    Column("last_login_at", "LAST SIGN-IN (UTC)"),
    Column("password_changed_at", "PASSWORD SET (UTC)"),
)


@group.command("list")
@json_option
def list_(as_json: bool) -> None:
    """List admin users: name, active, last sign-in, password change."""
    with session_scope() as session:
        rows = [
            {
                "name": user.name,
                "active": user.active,
                "last_login_at": user.last_login_at,
                "password_changed_at": user.password_changed_at,
            }
            for user in AdminUsers(session).list()
        ]
    if as_json:
        print_json(rows)
        return
    print_table(USER_COLUMNS, rows, empty="no admin users: add one with `bridge users add NAME`")


@group.command("set-password")
@click.argument("name")
@password_stdin_option
def set_password(name: str, password_stdin: bool) -> None:
    """Give NAME a new password; their open sessions end."""
    with session_scope() as session:
        normalized = AdminUsers(session).get(name).name
    password = _read_password(normalized, password_stdin)
    with session_scope() as session:
        AdminUsers(session).set_password(normalized, password)
    click.echo(f"password of {normalized} changed; their open sessions have ended")


@group.command()
@click.argument("name")
def disable(name: str) -> None:
    """Stop NAME signing in; their open sessions end at once."""
    with session_scope() as session:
        user = AdminUsers(session).disable(name)
    click.echo(f"admin user {user.name} disabled; their open sessions have ended")


@group.command()
@click.argument("name")
def enable(name: str) -> None:
    """Let a disabled user NAME sign in again."""
    with session_scope() as session:
        user = AdminUsers(session).enable(name)
    click.echo(f"admin user {user.name} enabled")
