"""``bridge`` starts without loading its subcommands: ``bridge --version`` and every Tab of a
shell completion run the program, and each used to pay for Celery, Alembic, the database drivers
and the simulators (over a second and a half of CPU on the 2-core box; about half a second now).
"""

from __future__ import annotations

import subprocess
import sys

import click

from bridge.cli import SUBCOMMANDS, main

HEAVY = ("celery", "alembic", "psycopg", "redis", "bridge.sim", "bridge.devrun", "bridge.cli.")


def test_starting_loads_no_subcommand_and_no_driver() -> None:
    code = (
        "import sys\n"
        "from bridge.cli import main\n"
        f"print(' '.join(m for m in sys.modules if m.startswith({HEAVY!r})))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert loaded.split() == []


def test_every_subcommand_loads_under_its_name() -> None:
    with click.Context(main) as ctx:
        names = main.list_commands(ctx)
        commands = {name: main.get_command(ctx, name) for name in names}
    assert set(SUBCOMMANDS) | {"secret-key"} == set(names)
    assert all(command is not None and command.name == name for name, command in commands.items())
