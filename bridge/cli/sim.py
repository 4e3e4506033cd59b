"""``bridge sim``: the Order Desk and warehouse simulators as programs."""

from __future__ import annotations

import click

from bridge.cli import sim_orderdesk, sim_warehouse


@click.group("sim")
def group() -> None:
    """Run a simulator of Order Desk or of a warehouse on this machine."""


group.add_command(sim_orderdesk.command)
group.add_command(sim_warehouse.command)
