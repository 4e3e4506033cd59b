"""``bridge sim orderdesk``: run the Order Desk simulator in the foreground.

A 3PL points a trial bridge at the printed API base before going live; ``bridge dev`` and the
benchmarks drive the same process through its ``/_sim/`` control endpoints. The API key is taken
from an option (or ``BRIDGE_SIM_API_KEY``) and never echoed.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

import click

from bridge.sim.orderdesk import OrderDeskSimulator


@click.command("orderdesk")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535))
@click.option("--store-id", default=None, help="Create a demo store with this id.")
@click.option(
    "--api-key",
    default=None,
    envvar="BRIDGE_SIM_API_KEY",
    help="API key of the demo store (env BRIDGE_SIM_API_KEY).",
)
@click.option(
    "--webhook-url",
    default=None,
    help="Post Order JSON to this URL whenever an order is created in the demo store.",
)
@click.option(
    "--latency", default=0.0, type=click.FloatRange(min=0), help="Seconds added to every call."
)
@click.option(
    "--error-rate",
    default=0.0,
    type=click.FloatRange(0, 1),
    help="Fraction of API calls answered with HTTP 500.",
)
def command(
    host: str,
    port: int,
    store_id: str | None,
    api_key: str | None,
    webhook_url: str | None,
    latency: float,
    error_rate: float,
) -> None:
    """Run a simulated Order Desk (REST API v2 and the Post Order JSON webhook) until stopped."""
    if bool(store_id) != bool(api_key):
        raise click.UsageError("--store-id and --api-key go together.")
    if webhook_url and not store_id:
        raise click.UsageError("--webhook-url needs a demo store (--store-id and --api-key).")

    sim = OrderDeskSimulator(host=host, port=port)
    if store_id and api_key:
        sim.add_store(store_id, api_key)
        if webhook_url:
            try:
                sim.configure_rule(store_id, webhook_url)
            except ValueError as exc:
                raise click.BadParameter(str(exc), param_hint="--webhook-url") from None
    if latency or error_rate:
        sim.set_faults(latency=latency, error_rate=error_rate)
    try:
        sim.start()
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror}") from None

    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "") else host
    click.echo(f"Order Desk simulator API: http://{shown_host}:{sim.port}/api/v2")
    click.echo(f"Control endpoints:        http://{shown_host}:{sim.port}/_sim/")
    if store_id:
        click.echo(f"Demo store {store_id} (folders: {', '.join(sim.folders(store_id).values())})")
    if webhook_url:
        click.echo(f"Post Order JSON rule -> {webhook_url}")
    click.echo("Press Ctrl-C to stop.")
    try:
        while not stop.wait(0.5):
            pass
    finally:
        sim.stop()
        click.echo("Order Desk simulator stopped.")
