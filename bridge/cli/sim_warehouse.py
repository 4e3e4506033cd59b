"""``bridge sim warehouse``: run a simulated warehouse until Ctrl-C or SIGTERM.

A 3PL tries the bridge against this before going live, and ``bridge dev`` points its store at
it; so it starts with working defaults, prints where it listens, and never prints the
credentials it was given.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

import click

from bridge.sim.warehouse import KINDS, MODES, WarehouseSimulator


@click.command("warehouse")
@click.option("--kind", type=click.Choice(list(KINDS)), default="simulated", show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=8766, show_default=True)
@click.option("--api-key", default="sim-key", show_default=True, help="Key clients must send.")
@click.option(
    "--api-secret", default="sim-secret", show_default=True, help="ShipStation Basic password."
)
@click.option(
    "--auto-ship-delay",
    type=click.FloatRange(min=0),
    default=None,
    help="Ship each order this many seconds after it arrives (off when absent).",
)
@click.option("--auto-ship-mode", type=click.Choice(MODES), default="single", show_default=True)
@click.option("--rate-limit-per-minute", type=click.IntRange(min=1), default=None)
@click.option("--latency", type=click.FloatRange(min=0), default=0.0, show_default=True)
@click.option("--error-rate", type=click.FloatRange(0, 1), default=0.0, show_default=True)
def command(
    kind: str,
    host: str,
    port: int,
    api_key: str,
    api_secret: str,
    auto_ship_delay: float | None,
    auto_ship_mode: str,
    rate_limit_per_minute: int | None,
    latency: float,
    error_rate: float,
) -> None:
    """Run a simulated warehouse (ShipStation v1 or the native API) on HOST:PORT."""
    sim = WarehouseSimulator(
        kind,
        api_key,
        api_secret,
        rate_limit_per_minute=rate_limit_per_minute,
        host=host,
        port=port,
    )
    sim.set_auto_ship(auto_ship_delay, auto_ship_mode)
    sim.set_faults(latency=latency, error_rate=error_rate)
    try:
        sim.start()
    except OSError as error:
        raise click.ClickException(f"cannot listen on {host}:{port}: {error.strerror}") from None
    stopping = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    auth = "HTTP Basic" if kind == "shipstation" else "Bearer token"
    click.echo(f"Warehouse simulator ({kind}) listening on {_public_url(host, sim.url)}")
    click.echo(
        f"Auth: {auth} with the configured credentials. Controls under /_sim/. Ctrl-C stops."
    )
    if kind == "shipbob":
        click.echo(
            "ShipBob API under /2026-01/ (and the other dated versions); GET /channel lists one."
        )
    try:
        stopping.wait()
    finally:
        sim.stop()
    click.echo("Warehouse simulator stopped.")


def _public_url(host: str, url: str) -> str:
    """The server always reports 127.0.0.1; show the host it was asked to bind instead."""
    port = url.rsplit(":", 1)[1]
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    return f"http://{shown}:{port}"
