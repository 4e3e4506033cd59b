"""``bridge audit``: do Order Desk, the bridge and the warehouse agree? Exit 1 when they do not."""

from __future__ import annotations

import click

from bridge.cli.errors import require_redis
from bridge.cli.output import print_json
from bridge.models import utcnow
from bridge.ops import audit


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
    help="At most this many warehouse lookups.",
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
    report = audit.run_audit(store_id, start, end, now=now, max_lookups=max_lookups)
    if as_json:
        print_json(report.to_dict())
    else:
        _print(report)
    if not report.consistent:
        ctx.exit(1)


def _print(report: audit.AuditReport) -> None:
    window = f"{report.start:%Y-%m-%d %H:%M} to {report.end:%Y-%m-%d %H:%M} UTC"
    click.echo(f"store {report.store_id}, orders added {window}")
    click.echo(f"  Order Desk: {report.orderdesk_orders} orders; bridge: {report.bridge_orders}")
    checked = f"  warehouse: {report.warehouse_checked} submitted orders looked up"
    if report.warehouse_unchecked:
        checked += f", {report.warehouse_unchecked} not checked (raise --max-lookups)"
    click.echo(checked)
    if report.consistent:
        click.echo("consistent: nothing to do")
        return
    click.echo(f"{len(report.findings)} problem(s):")
    click.echo(f"{'KIND':<18} {'ORDER DESK ID':<14} {'ROW':>7}  {'STATE':<18} DETAIL")
    for finding in report.findings:
        row = str(finding.order_id) if finding.order_id is not None else "-"
        click.echo(
            f"{finding.kind:<18} {finding.orderdesk_order_id:<14} {row:>7}  "
            f"{finding.state or '-':<18} {finding.detail}"
        )
