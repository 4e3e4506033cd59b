"""The ``bridge`` command line: one plain sentence and a non-zero exit on any error.

Errors an operator can fix (settings, refusals, an unmigrated database, PostgreSQL or Redis not
answering) end as one line on standard error and exit code 1, never a traceback.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from bridge import __version__
from bridge.accounts.users import AdminUserError
from bridge.cli import errors
from bridge.crypto import SecretError, new_secret_key
from bridge.jobs.celery_config import CelerySender
from bridge.jobs.dispatch import install_sender
from bridge.logs import configure_logging
from bridge.ops.operations import OperationError
from bridge.settings import SettingsError, get_settings
from bridge.stores.registry import StoreError

OPERATOR_ERRORS = (SettingsError, StoreError, SecretError, OperationError, AdminUserError)


class BridgeGroup(click.Group):
    """Turns the errors an operator can fix into one sentence instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except OPERATOR_ERRORS as exc:
            raise click.ClickException(str(exc)) from None
        except Exception as exc:
            message = errors.explain(exc)
            if message is None:
                raise
            raise click.ClickException(message) from None


@click.group(cls=BridgeGroup)
@click.version_option(__version__, prog_name="orderdesk-bridge")
@click.pass_context
def main(ctx: click.Context) -> None:
    """orderdesk-bridge: Order Desk stores into the warehouse, shipments back."""
    try:
        settings = get_settings()
    except SettingsError:
        # Printing a new key must work while the configured one is refused (e.g. too weak);
        # every other command, `secret-key rotate` included, reads the settings and stops.
        if ctx.invoked_subcommand == "secret-key":
            return
        raise
    # A person at a terminal reads plain sentences; a script or a log collector gets the
    # configured format (JSON in production).
    configure_logging(settings, "plain" if sys.stderr.isatty() else None)
    # Commands that publish (`bridge orders retry`, `bridge dev`) send through the broker the
    # settings name; the Celery app itself is only built on the first message.
    install_sender(CelerySender())


@main.group("secret-key", invoke_without_command=True)
@click.pass_context
def secret_key(ctx: click.Context) -> None:
    """Print a new random BRIDGE_SECRET_KEY (or rotate the stored secrets onto it)."""
    if ctx.invoked_subcommand is None:
        click.echo(new_secret_key())


@secret_key.command("rotate")
def rotate_secret_key() -> None:
    """Re-encrypt every stored secret with the first key of BRIDGE_SECRET_KEY.

    Put the new key first and keep the old ones after it (comma-separated), run this, then drop
    the old keys. One transaction; running it again re-encrypts nothing.
    """
    from bridge.db import session_scope
    from bridge.stores.registry import StoreRegistry

    with session_scope() as session:
        counts = StoreRegistry(session).rotate_secrets()
    click.echo(
        f"{counts.stores} store(s): {counts.reencrypted} secret(s) re-encrypted with the first "
        f"key, {counts.already_current} already under it"
    )


@click.group("sim")
def sim() -> None:
    """Run a simulator of Order Desk or of a warehouse on this machine."""


def _register() -> None:
    from bridge.cli import (
        audit,
        backends,
        db,
        dev,
        orders,
        sim_orderdesk,
        sim_warehouse,
        stores,
        users,
    )

    main.add_command(db.group)
    main.add_command(stores.group)
    main.add_command(backends.group)
    main.add_command(orders.group)
    main.add_command(users.group)
    main.add_command(audit.command)
    sim.add_command(sim_orderdesk.command)
    sim.add_command(sim_warehouse.command)
    main.add_command(sim)
    main.add_command(dev.command)


_register()
