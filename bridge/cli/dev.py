"""``bridge dev``: the whole bridge on this machine with simulators, no servers or credentials.

The README's first command. Ctrl-C and SIGTERM both set one stop event instead of raising
KeyboardInterrupt wherever the main thread happens to be, so the run always reaches the code
that stops its children.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType

import click
from rich.console import Console

from bridge.devrun.runner import DevOptions, DevRun, default_timeout


@click.command("dev")
@click.option("--once", is_flag=True, help="Run one batch until every order is shipped, then exit.")
@click.option(
    "--orders",
    default=25,
    show_default=True,
    type=click.IntRange(1, 1000),
    help="Demo orders the Order Desk simulator posts.",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("var/dev"),
    show_default=True,
    help="Embedded database, broker, logs. Its database is emptied at every start.",
)
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=None,
    help="Port of the web app (a free one when absent).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=None,
    help=f"With --once: seconds before giving up [default: {default_timeout(0):.0f} + "
    f"{default_timeout(1) - default_timeout(0):.0f} per order].",
)
@click.option("--seed", default=0, show_default=True, help="Varies the demo orders.")
@click.option(
    "--metrics-port",
    type=click.IntRange(1, 65535),
    default=None,
    help="Serve the worker's /metrics on this port [default: no metrics server, so the demo "
    "never takes a real worker's BRIDGE_METRICS_PORT].",
)
def command(
    once: bool,
    orders: int,
    data_dir: Path,
    port: int | None,
    timeout: float | None,
    seed: int,
    metrics_port: int | None,
) -> None:
    """Run the bridge end to end on embedded defaults against Order Desk and warehouse simulators.

    Starts the simulators, the web app, a worker, the scheduler and Flower, posts a batch of
    demo orders and shows their progress until Ctrl-C. With --once, exits 0 when the batch is
    shipped, or non-zero listing what got stuck.
    """
    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        options = DevOptions(
            data_dir=data_dir,
            orders=orders,
            once=once,
            port=port,
            timeout=timeout,
            seed=seed,
            metrics_port=metrics_port,
        )
        # soft_wrap: plain progress lines (no terminal) stay one line each.
        status = DevRun(options, Console(soft_wrap=True), stop).run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if status:
        raise SystemExit(status)
