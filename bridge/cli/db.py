"""``bridge db``: schema migrations."""

from __future__ import annotations

import click

from bridge import migrate
from bridge.settings import get_settings


@click.group("db")
def group() -> None:
    """Database schema migrations (Alembic)."""


@group.command()
@click.option("--revision", default="head", show_default=True)
def upgrade(revision: str) -> None:
    """Apply migrations up to REVISION."""
    migrate.upgrade(get_settings().database_url, revision)
    click.echo(f"database upgraded to {revision}")


@group.command()
@click.option("--revision", required=True, help="Target revision, e.g. base or 0001.")
def downgrade(revision: str) -> None:
    """Revert migrations down to REVISION."""
    migrate.downgrade(get_settings().database_url, revision)
    click.echo(f"database downgraded to {revision}")


@group.command()
def check() -> None:
    """Fail when the models and the migrations have drifted apart."""
    migrate.check(get_settings().database_url)
    click.echo("models and migrations agree")
