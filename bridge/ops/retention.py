"""Forget what the bridge no longer needs, so its tables stop growing and personal data leaves.

Run daily by Celery beat (task ``bridge.retention``). Past ``BRIDGE_RETENTION_DAYS`` (90 by
default):

* webhook receipts are deleted, except those of orders still in flight;
* a finished order (shipped or cancelled, unchanged since the cutoff, every package posted) keeps
  its row, and with it the idempotency key and the Order Desk ``date_updated``, forever: a replay
  of a years-old signed webhook still meets the row and is answered ``duplicate``, never made a
  new order. What goes is the personal data and history: the payload (addresses, e-mail,
  lines) becomes ``{"id": ...}``, the last error is cleared, its events are deleted, and
  ``pruned_at`` says when.

Orders still in flight (any other state) keep everything. Work goes in batches of ``BATCH`` rows,
one short transaction each, so a big table is never locked for long; a run that reaches its time
budget stops between batches and says so (``complete=False``), and the task then runs again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import ColumnElement, and_, delete, exists, func, select, update

from bridge.db import session_scope
from bridge.models import Order, OrderEvent, Shipment, WebhookReceipt, utcnow
from bridge.settings import get_settings
from bridge.states import TERMINAL

log = structlog.get_logger(__name__)

BATCH = 1000
FINISHED = sorted(state.value for state in TERMINAL)


@dataclass
class RetentionReport:
    cutoff: datetime
    receipts_deleted: int = 0
    orders_pruned: int = 0
    events_deleted: int = 0
    complete: bool = True


def prune(
    *,
    days: int | None = None,
    now: datetime | None = None,
    batch: int = BATCH,
    time_budget: float | None = None,
) -> RetentionReport:
    """Apply the retention rules once; ``time_budget`` (seconds) bounds the run."""
    days = get_settings().retention_days if days is None else days
    report = RetentionReport(cutoff=(now or utcnow()) - timedelta(days=days))
    deadline = None if time_budget is None else time.monotonic() + time_budget

    def out_of_time() -> bool:
        return deadline is not None and time.monotonic() >= deadline

    while not out_of_time():
        deleted = _delete_receipts(report.cutoff, batch)
        report.receipts_deleted += deleted
        if deleted < batch:
            break
    while not out_of_time():
        pruned, events = _prune_orders(report.cutoff, batch)
        report.orders_pruned += pruned
        report.events_deleted += events
        if pruned < batch:
            break
    else:
        report.complete = False
    log.info(
        "retention",
        cutoff=report.cutoff.isoformat(),
        receipts_deleted=report.receipts_deleted,
        orders_pruned=report.orders_pruned,
        events_deleted=report.events_deleted,
        complete=report.complete,
    )
    return report


def _in_flight_order() -> ColumnElement[bool]:
    """The receipt belongs to an order that is not finished yet."""
    return exists().where(
        Order.store_id == WebhookReceipt.store_id,
        Order.orderdesk_order_id == WebhookReceipt.orderdesk_order_id,
        Order.state.not_in(FINISHED),
    )


def _delete_receipts(cutoff: datetime, batch: int) -> int:
    due = (
        select(WebhookReceipt.id)
        .where(WebhookReceipt.received_at < cutoff, ~_in_flight_order())
        .order_by(WebhookReceipt.id)
        .limit(batch)
    )
    with session_scope() as session:
        return session.execute(
            delete(WebhookReceipt)
            .where(WebhookReceipt.id.in_(due.scalar_subquery()))
            .execution_options(synchronize_session=False)
        ).rowcount


def _prune_orders(cutoff: datetime, batch: int) -> tuple[int, int]:
    unposted = exists().where(
        Shipment.order_id == Order.id, Shipment.posted_at.is_(None), Shipment.voided.is_(False)
    )
    with session_scope() as session:
        dialect = session.get_bind().dialect.name
        ids = list(
            session.scalars(
                select(Order.id)
                .where(
                    and_(
                        Order.pruned_at.is_(None),
                        Order.state.in_(FINISHED),
                        Order.updated_at < cutoff,
                        ~unposted,
                    )
                )
                .order_by(Order.id)
                .limit(batch)
                # An order the intake holds right now is left for the next run.
                .with_for_update(skip_locked=True)
            )
        )
        if not ids:
            return 0, 0
        events = session.execute(
            delete(OrderEvent)
            .where(OrderEvent.order_id.in_(ids))
            .execution_options(synchronize_session=False)
        ).rowcount
        build = func.jsonb_build_object if dialect == "postgresql" else func.json_object
        session.execute(
            update(Order)
            .where(Order.id.in_(ids))
            .values(
                payload=build("id", Order.orderdesk_order_id),
                last_error=None,
                pruned_at=utcnow(),
                # The order did not change: keep its last-change time as it was.
                updated_at=Order.updated_at,
            )
            .execution_options(synchronize_session=False)
        )
    return len(ids), events
