"""``bridge users``: the admin accounts. Passwords are typed at a hidden prompt or piped on stdin,
never given as arguments (those end up in shell history and in every process listing)."""

from __future__ import annotations

import sys
from datetime import datetime

import click

from bridge.accounts.users import AdminUserError, AdminUsers, check_name, password_problem
from bridge.db import session_scope

password_stdin_option = click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from the first line of standard input instead of prompting.",
)


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


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


@group.command("list")
def list_() -> None:
    """List admin users: name, active, last sign-in, password change."""
    with session_scope() as session:
        rows = [
            (user.name, user.active, user.last_login_at, user.password_changed_at)
            for user in AdminUsers(session).list()
        ]
    if not rows:
        click.echo("no admin users: add one with `bridge users add NAME`")
        return
    click.echo(f"{'NAME':<24} {'ACTIVE':<7} {'LAST SIGN-IN (UTC)':<19} PASSWORD SET (UTC)")
    for name, active, last_login, changed in rows:
        click.echo(
            f"{name:<24} {'yes' if active else 'no':<7} {_when(last_login):<19} {_when(changed)}"
        )


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
