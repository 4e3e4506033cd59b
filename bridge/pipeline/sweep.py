"""The sweeper: PostgreSQL says what is overdue; the broker is told again.

Messages can be lost (Redis flushed or restarted without persistence, a publish that failed
while the broker was down, a worker killed after acking). None of that loses work, because this
periodic pass finds every row whose next step is overdue and re-sends its message, and parks
orders whose attempts are exhausted as ``failed`` with their last error (and tells the merchant
with a history note). It parks only rows it could lock and that still qualify under the lock,
so a submission recording its outcome at that moment wins. Re-sending is harmless:
every step claims its rows first. ``enqueued_at`` keeps the sweeper from re-sending the same
row on every pass while its message is still queued.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import structlog
from sqlalchemy import exists, or_, select, update

from bridge.backends.registry import backend_class
from bridge.db import session_scope
from bridge.history import EventKind, transition
from bridge.jobs import dispatch, leases, queues
from bridge.models import BackendCursor, Order, OrderEvent, Shipment, Store, utcnow
from bridge.pipeline.cancel import landed_after_cancellation
from bridge.pipeline.orderdesk_sync import POSTABLE_STATES
from bridge.pipeline.poll import due_stores
from bridge.settings import get_settings
from bridge.states import OrderState

log = structlog.get_logger(__name__)


@dataclass
class SweepReport:
    resubmitted: int = 0
    failed: int = 0
    moves: int = 0
    shipment_posts: int = 0
    cancels: int = 0


def sweep() -> SweepReport:
    settings = get_settings()
    report = SweepReport()
    with leases.held("sweep", ttl=max(settings.sweep_interval_seconds, 10)) as mine:
        if not mine:
            return report
        now = utcnow()
        quiet = now - timedelta(seconds=settings.sweep_grace_seconds)
        not_recently_sent = or_(Order.enqueued_at.is_(None), Order.enqueued_at < quiet)
        messages: list[tuple[str, tuple[object, ...]]] = []
        with session_scope() as session:
            # Locked, and the condition checked again under the lock: a submission recording
            # its outcome holds the row, and is skipped rather than overwritten.
            exhausted = session.scalars(
                select(Order)
                .where(
                    Order.state == OrderState.SUBMITTING.value,
                    Order.next_attempt_at <= now,
                    Order.attempts >= settings.max_attempts,
                )
                .order_by(Order.id)
                .with_for_update(skip_locked=True)
                .execution_options(populate_existing=True)
            ).all()
            for order in exhausted:
                transition(
                    session,
                    order,
                    OrderState.FAILED,
                    f"gave up after {order.attempts} attempts; last error: "
                    f"{order.last_error or 'the worker never reported back'}",
                )
                messages.append((queues.ADD_HISTORY_NOTE, (order.id, "failed")))
            report.failed = len(exhausted)

            overdue = session.scalars(
                select(Order.id).where(
                    not_recently_sent,
                    or_(
                        (Order.state == OrderState.RECEIVED.value) & (Order.updated_at < quiet),
                        (Order.state == OrderState.SUBMITTING.value)
                        & (Order.next_attempt_at < quiet),
                    ),
                )
            ).all()
            cancels = session.scalars(
                select(Order.id).where(
                    not_recently_sent,
                    Order.updated_at < quiet,
                    or_(
                        (Order.state == OrderState.CANCEL_REQUESTED.value)
                        # The warehouse already answered "too late" or "considering it".
                        & ~exists().where(
                            OrderEvent.order_id == Order.id,
                            OrderEvent.kind == EventKind.CANCEL_ANSWER,
                        ),
                        landed_after_cancellation(),
                    ),
                )
            ).all()
            resent = [*overdue, *cancels]
            if resent:
                session.execute(
                    update(Order)
                    .where(Order.id.in_(resent))
                    .values(enqueued_at=now)
                    .execution_options(synchronize_session=False)
                )
            messages += [(queues.SUBMIT_ORDER, (order_id,)) for order_id in overdue]
            messages += [(queues.CANCEL_ORDER, (order_id,)) for order_id in cancels]
            report.resubmitted, report.cancels = len(overdue), len(cancels)

            move_stores = session.scalars(
                select(Order.store_id)
                .where(Order.state == OrderState.SUBMITTED.value, Order.updated_at < quiet)
                .distinct()
            ).all()
            post_stores = session.scalars(
                select(Order.store_id)
                .join(Shipment, Shipment.order_id == Order.id)
                .where(
                    Order.state.in_(POSTABLE_STATES),
                    Shipment.posted_at.is_(None),
                    Shipment.voided.is_(False),
                    Shipment.attempts < settings.max_attempts,
                    Shipment.created_at < quiet,
                )
                .distinct()
            ).all()
            messages += [(queues.MOVE_IN_PROCESS, (store_id,)) for store_id in move_stores]
            messages += [(queues.POST_SHIPMENTS, (store_id,)) for store_id in post_stores]
            report.moves, report.shipment_posts = len(move_stores), len(post_stores)
        for task, args in messages:
            dispatch.send(task, *args)
    if any(vars(report).values()):
        log.info("swept", **vars(report))
    return report


def schedule_polls() -> list[int]:
    """Enqueue a poll for each store that is due, and push its next poll time forward."""
    settings = get_settings()
    with leases.held("schedule-polls", ttl=max(settings.schedule_interval_seconds, 2)) as mine:
        if not mine:
            return []
        due = due_stores()
        now = utcnow()
        with session_scope() as session:
            for store_id in due:
                store = session.get(Store, store_id)
                cursor = session.scalar(
                    select(BackendCursor).where(
                        BackendCursor.store_id == store_id, BackendCursor.backend == store.backend
                    )
                )
                if cursor is None:
                    cursor = BackendCursor(store_id=store_id, backend=store.backend)
                    session.add(cursor)
                cursor.next_poll_at = now + timedelta(seconds=store.poll_interval_seconds)
        for store_id in due:
            dispatch.send(queues.POLL_WAREHOUSE, store_id)
        _schedule_inventory(settings.inventory_interval_seconds)
        return due


def _schedule_inventory(interval: float) -> None:
    """Once per interval per store: a lease taken and never released expires on schedule."""
    with session_scope() as session:
        stores = session.execute(
            select(Store.id, Store.backend).where(Store.active.is_(True))
        ).all()
    for store_id, backend in stores:
        if not backend_class(backend).capabilities().inventory:
            continue
        if leases.acquire(f"inventory-due:{store_id}", leases.new_owner(), ttl=interval):
            dispatch.send(queues.SYNC_INVENTORY, store_id)
