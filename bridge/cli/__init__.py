"""The ``bridge`` command line: one plain sentence and a non-zero exit on any error.

Errors an operator can fix (settings, refusals, an unmigrated database, PostgreSQL or Redis not
answering) end as one line on standard error and exit code 1, never a traceback.

Subcommands are imported when they are run, listed in help or completed, not at every start:
``bridge --version`` and a Tab completion need neither Celery, nor Alembic, nor the simulators.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from bridge import __version__
from bridge.logs import configure_logging
from bridge.settings import SettingsError, get_settings

# name -> "module:attribute" of the command object.
SUBCOMMANDS = {
    "audit": "bridge.cli.audit:command",
    "backends": "bridge.cli.backends:group",
    "db": "bridge.cli.db:group",
    "dev": "bridge.cli.dev:command",
    "orders": "bridge.cli.orders:group",
    "sim": "bridge.cli.sim:group",
    "stores": "bridge.cli.stores:group",
    "users": "bridge.cli.users:group",
}


class BridgeGroup(click.Group):
    """Loads subcommands on demand, and turns the errors an operator can fix into one sentence
    instead of a traceback."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *SUBCOMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in SUBCOMMANDS and cmd_name not in self.commands:
            module, attribute = SUBCOMMANDS[cmd_name].split(":")
            self.add_command(getattr(importlib.import_module(module), attribute), cmd_name)
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as exc:
            from bridge.cli.errors import explain

            message = explain(exc)
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
    from bridge.jobs.celery_config import CelerySender
    from bridge.jobs.dispatch import install_sender

    install_sender(CelerySender())


@main.group("secret-key", invoke_without_command=True)
@click.pass_context
def secret_key(ctx: click.Context) -> None:
    """Print a new random BRIDGE_SECRET_KEY (or rotate the stored secrets onto it)."""
    if ctx.invoked_subcommand is None:
        from bridge.crypto import new_secret_key

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
