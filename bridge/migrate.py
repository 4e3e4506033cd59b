"""Schema migrations through Alembic, callable from the CLI, tests and ``bridge dev``.

The Alembic scripts ship inside the package (``bridge/migrations/``), so an editable checkout and
a plain wheel install migrate the same way, from any working directory. ``alembic.ini`` at the
top of the repository is only for developers running ``alembic revision``.
"""

from __future__ import annotations

from importlib import resources

from alembic import command
from alembic.config import Config

from bridge.settings import get_settings


def script_location() -> str:
    """The folder of the Alembic scripts inside the installed ``bridge`` package."""
    return str(resources.files("bridge") / "migrations")


def alembic_config(database_url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", script_location())
    config.set_main_option("path_separator", "os")
    config.attributes["database_url"] = database_url or get_settings().database_url
    config.attributes["configure_logger"] = False
    return config


def upgrade(database_url: str | None = None, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str | None = None, revision: str = "base") -> None:
    command.downgrade(alembic_config(database_url), revision)


def check(database_url: str | None = None) -> None:
    """Raise ``alembic.util.CommandError`` when the models and the migrations have drifted."""
    command.check(alembic_config(database_url))
