"""``bridge audit``: do Order Desk, the bridge and the warehouse agree? Exit 1 when they do not.

Both partners are read by paged listing, which takes minutes for a busy week under their rate
limits, so progress (records read from each side) goes to standard error: a live line on a
terminal, a line per thousand records otherwise (none for a small window), leaving standard
output to the report.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import click
from rich.console import Console

from bridge.cli.errors import require_redis
from bridge.cli.output import print_json
from bridge.models import utcnow
from bridge.ops import audit

SIDES = {"orderdesk": "Order Desk", "warehouse": "warehouse"}
# Without a terminal, a progress line every this many records.
PLAIN_EVERY = 1000


@click.command("audit")
@click.option("--store", "store_id", required=True, help="Order Desk store id.")
@click.option(
    "--since", default="7d", show_default=True, help="7d, 12h, 30m ago, or YYYY-MM-DD (UTC)."
)
@click.option("--until", default=None, help="Same forms; default now.")
@click.option(
    "--max-lookups",
    type=click.IntRange(0, 5000),
    default=audit.MAX_LOOKUPS,
    show_default=True,
    help="At most this many lookups by key, for a warehouse that cannot list its orders.",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def command(
    ctx: click.Context,
    store_id: str,
    since: str,
    until: str | None,
    max_lookups: int,
    as_json: bool,
) -> None:
    """Compare a store's orders in Order Desk, in the bridge and at the warehouse."""
    require_redis()
    now = utcnow()
    start = audit.parse_when(since, now=now)
    end = audit.parse_when(until, now=now) if until else now
    with _progress() as progress:
        report = audit.run_audit(
            store_id, start, end, now=now, max_lookups=max_lookups, progress=progress
        )
    if as_json:
        print_json(report.to_dict())
    else:
        _print(report)
    if not report.consistent:
        ctx.exit(1)


@contextmanager
def _progress() -> Iterator[audit.Progress]:
    """A progress callback writing to standard error: live on a terminal, sparse otherwise."""
    counts = dict.fromkeys(SIDES, 0)

    def text() -> str:
        return "read " + ", ".join(f"{SIDES[side]}: {n} orders" for side, n in counts.items())

    if sys.stderr.isatty():
        console = Console(stderr=True)
        with console.status(text()) as status:

            def live(side: str, read: int) -> None:
                counts[side] = read
                status.update(text())

            yield live
        return

    def plain(side: str, read: int) -> None:
        counts[side] = read
        if read % PLAIN_EVERY == 0:
            click.echo(text(), err=True)

    yield plain


def _print(report: audit.AuditReport) -> None:
    window = f"{report.start:%Y-%m-%d %H:%M} to {report.end:%Y-%m-%d %H:%M} UTC"
    click.echo(f"store {report.store_id}, orders added {window}")
    click.echo(f"  Order Desk: {report.orderdesk_orders} orders; bridge: {report.bridge_orders}")
    checked = (
        f"  warehouse: {report.warehouse_orders} orders read, "
        f"{report.warehouse_checked} submitted orders checked"
    )
    if report.warehouse_unchecked:
        checked += f", {report.warehouse_unchecked} not checked"
        if not any(f.kind == audit.CHECK_INCOMPLETE for f in report.findings):
            checked += " (raise --max-lookups)"
    click.echo(checked)
    if report.consistent:
        click.echo("consistent: nothing to do")
        return
    click.echo(f"{len(report.findings)} problem(s):")
    click.echo(f"{'KIND':<32} {'ORDER DESK ID':<14} {'ROW':>7}  {'STATE':<18} DETAIL")
    for finding in report.findings:
        row = str(finding.order_id) if finding.order_id is not None else "-"
        click.echo(
            f"{finding.kind:<32} {finding.orderdesk_order_id:<14} {row:>7}  "
            f"{finding.state or '-':<18} {finding.detail}"
        )
