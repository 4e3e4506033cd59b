"""``bridge orders``: find an order, read its history, retry or cancel it from a terminal."""

from __future__ import annotations

import json
from datetime import datetime

import click

from bridge.cli.output import Column, json_option, print_json, print_table
from bridge.db import session_scope
from bridge.ops import operations
from bridge.ops.fetch import fetch_order
from bridge.states import OrderState

ACTOR = "cli"


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "-"


@click.group("orders")
def group() -> None:
    """Find and act on orders (REF is the row id or STORE_ID:ORDERDESK_ID)."""


ORDER_COLUMNS = (
    Column("id", "ROW", align="right"),
    Column("ref", "STORE:ORDER"),
    Column("order_number", "NUMBER", max_width=14),
    Column("state", "STATE"),
    Column("attempts", "TRIES", align="right"),
    Column("updated_at", "UPDATED (UTC)"),
    Column("reason", "REASON", max_width=60),
)


@group.command("list")
@click.option(
    "--state", type=click.Choice([s.value for s in OrderState]), help="Only orders in this state."
)
@click.option("--store", "store", help="Only this Order Desk store id.")
@click.option("--search", help="An Order Desk order id, or part of an order number.")
@click.option("--limit", type=click.IntRange(1, operations.MAX_PAGE), default=50, show_default=True)
@click.option("--offset", type=click.IntRange(0), default=0)
@json_option
def list_(
    state: str | None,
    store: str | None,
    search: str | None,
    limit: int,
    offset: int,
    as_json: bool,
) -> None:
    """List orders, newest first."""
    with session_scope() as session:
        orders = operations.find_orders(session, state, store, search, limit, offset)
        rows = [
            {
                "id": order.id,
                "ref": operations.label(order.store, order),
                "store_id": order.store.orderdesk_store_id,
                "orderdesk_order_id": order.orderdesk_order_id,
                "order_number": order.order_number,
                "state": order.state,
                "attempts": order.attempts,
                "updated_at": order.updated_at,
                "reason": order.reason or order.last_error or "",
            }
            for order in orders
        ]
    if as_json:
        print_json(rows)
        return
    print_table(ORDER_COLUMNS, rows, empty="no orders match")


@group.command()
@click.argument("ref")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def show(ref: str, as_json: bool) -> None:
    """One order: its state, reason, every event, its shipments and webhook receipts."""
    with session_scope() as session:
        detail = operations.order_detail(session, ref)
        view = _view(detail)
    if as_json:
        print_json(view)
        return
    summary = view["order"]
    click.echo(f"order {summary['ref']} (row {summary['id']}), number {summary['order_number']}")
    for key in ("store_name", "state", "attempts", "reason", "last_error", "warehouse_ref"):
        if summary.get(key) not in (None, ""):
            click.echo(f"  {key.replace('_', ' ')}: {summary[key]}")
    if summary["changed_after_submission"]:
        click.echo("  changed in Order Desk after it was submitted")
    if summary["edit_needs_attention"]:
        click.echo(
            "  the warehouse did not take that change: apply it there, then "
            f"`bridge orders acknowledge-edit {summary['ref']}`"
        )
    if summary["pruned_at"]:
        click.echo(f"  address, lines and history removed by retention on {summary['pruned_at']}")
    click.echo("events:")
    for event in view["events"]:
        move = f" {event['from_state']} -> {event['to_state']}" if event["to_state"] else ""
        click.echo(f"  {event['at']}  {event['kind']}{move}: {event['message']}")
        if event["detail"]:
            click.echo(f"      {json.dumps(event['detail'], default=str, sort_keys=True)}")
    click.echo("shipments:" if view["shipments"] else "shipments: none")
    for item in view["shipments"]:
        posted = f"posted {item['posted_at']}" if item["posted_at"] else "not posted"
        void = ", voided" if item["voided"] else ""
        click.echo(
            f"  {item['package_id']}: {item['carrier']} {item['tracking_number']} ({posted}{void})"
        )
    click.echo("webhooks:" if view["receipts"] else "webhooks: none")
    for receipt in view["receipts"]:
        click.echo(
            f"  {receipt['received_at']}  {receipt['http_status']} {receipt['outcome']}"
            f"{': ' + receipt['reason'] if receipt['reason'] else ''}"
        )


def _view(detail: operations.OrderDetail) -> dict:
    order = detail.order
    return {
        "order": {
            "id": order.id,
            "ref": operations.label(detail.store, order),
            "store_name": detail.store.name,
            "order_number": order.order_number,
            "state": order.state,
            "attempts": order.attempts,
            "reason": order.reason,
            "last_error": order.last_error,
            "warehouse_ref": order.warehouse_ref,
            "warehouse_status": order.warehouse_status,
            "changed_after_submission": order.changed_after_submission,
            "edit_needs_attention": order.edit_needs_attention,
            "created_at": _when(order.created_at),
            "updated_at": _when(order.updated_at),
            "pruned_at": _when(order.pruned_at) if order.pruned_at else None,
        },
        "events": [
            {
                "at": _when(event.at),
                "kind": event.kind,
                "from_state": event.from_state,
                "to_state": event.to_state,
                "message": event.message,
                "detail": event.detail or {},
            }
            for event in detail.events
        ],
        "shipments": [
            {
                "package_id": item.package_id,
                "carrier": item.carrier,
                "service": item.service,
                "tracking_number": item.tracking_number,
                "tracking_url": item.tracking_url,
                "voided": item.voided,
                "posted_at": _when(item.posted_at) if item.posted_at else None,
                "last_error": item.last_error,
            }
            for item in detail.shipments
        ],
        "receipts": [
            {
                "received_at": _when(receipt.received_at),
                "outcome": receipt.outcome,
                "http_status": receipt.http_status,
                "reason": receipt.reason,
            }
            for receipt in detail.receipts
        ],
    }


def _report(result: operations.ActionResult) -> None:
    line = f"order {result.label} is now {result.state}: {result.message}"
    if result.enqueued is False:
        line += " (the broker did not answer; the sweeper will send it within minutes)"
    click.echo(line)


@group.command()
@click.argument("ref", required=False)
@click.option(
    "--state",
    type=click.Choice([s.value for s in operations.RETRYABLE]),
    help="Retry every order in this state instead of one REF.",
)
@click.option("--store", help="With --state: only this Order Desk store id.")
@click.option("--yes", is_flag=True, help="With --state: do not ask for confirmation.")
def retry(ref: str | None, state: str | None, store: str | None, yes: bool) -> None:
    """Send a failed or rejected order (REF), or every one in --state, through the pipeline again.

    A bulk retry prints how many orders match and asks before it starts.
    """
    if (ref is None) == (state is None):
        raise click.UsageError("give one order REF, or --state (with --store for one store)")
    if ref is not None:
        if store is not None:
            raise click.UsageError("--store goes with --state, not with one order REF")
        _report(operations.retry_order(ref, ACTOR))
        return
    _retry_many(state, store, yes)


def _retry_many(state: str | None, store: str | None, yes: bool) -> None:
    count = operations.count_retryable(state, store)
    where = f"of store {store}" if store else "of every store"
    if count == 0:
        click.echo(f"no {state} orders {where}")
        return
    if not yes:
        click.confirm(f"{count} {state} order(s) {where} will be sent again. Continue?", abort=True)
    result = operations.retry_orders(state, store, ACTOR)
    line = f"{result.retried} order(s) sent for submission again"
    if result.not_sent:
        line += (
            f"; the broker did not take {result.not_sent} message(s): the sweeper will send "
            "them within minutes"
        )
    click.echo(line)


@group.command("acknowledge-edit")
@click.argument("ref")
def acknowledge_edit(ref: str) -> None:
    """Clear the flag of a change after submission you have applied at the warehouse."""
    _report(operations.acknowledge_edit(ref, ACTOR))


@group.command()
@click.argument("ref")
def cancel(ref: str) -> None:
    """Ask the warehouse to cancel an order, as the cancel rule does."""
    _report(operations.request_cancel(ref, ACTOR))


@group.command()
@click.argument("store_id")
@click.argument("orderdesk_order_id")
def fetch(store_id: str, orderdesk_order_id: str) -> None:
    """Take one order in from the Order Desk API, for a webhook Order Desk gave up on."""
    result = fetch_order(store_id, orderdesk_order_id, ACTOR)
    name = f"{result.store_id}:{result.orderdesk_order_id}"
    if result.already_here:
        click.echo(f"order {name} is already here (row {result.order_row_id}, {result.state})")
        return
    line = f"order {name} fetched: {result.outcome}"
    if result.order_row_id is not None:
        line += f" (row {result.order_row_id}, {result.state})"
    if result.reason:
        line += f": {result.reason}"
    click.echo(line)
