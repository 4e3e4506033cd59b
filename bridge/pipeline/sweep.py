"""The sweeper: PostgreSQL says what is overdue; the broker is told again.

Messages can be lost (Redis flushed or restarted without persistence, a publish that failed
while the broker was down, a worker killed after acking). None of that loses work, because this
periodic pass finds every row whose next step is overdue and re-sends its message, and parks
orders whose attempts are exhausted as ``failed`` with their last error (and tells the merchant
with a history note). Re-sending is harmless: every step claims its rows first.

``sweep`` runs one named scan per thing it looks for, all in one transaction; each scan declares
the messages it finds due, and they go out once that transaction commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import ColumnElement, exists, or_, select, update
from sqlalchemy.orm import Session

from bridge.backends.registry import backend_class
from bridge.db import session_scope
from bridge.history import EventKind, transition
from bridge.jobs import followups, leases, queues
from bridge.models import Order, OrderEvent, Shipment, Store, utcnow
from bridge.pipeline import notes
from bridge.pipeline.cancel import landed_after_cancellation
from bridge.pipeline.poll import cursor_row, due_stores
from bridge.pipeline.shipments import still_to_post
from bridge.settings import get_settings
from bridge.states import OrderState
from bridge.stores.pause import paused_stores

log = structlog.get_logger(__name__)


@dataclass
class SweepReport:
    resubmitted: int = 0
    failed: int = 0
    moves: int = 0
    shipment_posts: int = 0
    cancels: int = 0
    edits: int = 0


@dataclass(frozen=True)
class _Clock:
    """The moment of the pass, and the one before which an untouched row counts as forgotten."""

    now: datetime
    quiet: datetime

    def not_recently_sent(self) -> ColumnElement[bool]:
        """The sweeper did not re-send this order's message within the grace period."""
        return or_(Order.enqueued_at.is_(None), Order.enqueued_at < self.quiet)


def sweep() -> SweepReport:
    settings = get_settings()
    report = SweepReport()
    with leases.held("sweep", ttl=max(settings.sweep_interval_seconds, 10)) as mine:
        if not mine:
            return report
        now = utcnow()
        clock = _Clock(now, now - timedelta(seconds=settings.sweep_grace_seconds))
        with session_scope() as session:
            report.failed = fail_exhausted_submissions(session, clock)
            report.resubmitted = resend_forgotten_submissions(session, clock)
            report.cancels = resend_forgotten_cancels(session, clock)
            report.edits = resend_pending_edits(session, clock)
            report.moves = resend_waiting_moves(session, clock)
            report.shipment_posts = resend_waiting_shipments(session, clock)
    if any(vars(report).values()):
        log.info("swept", **vars(report))
    return report


def fail_exhausted_submissions(session: Session, clock: _Clock) -> int:
    """Orders whose last attempt's lease ran out: ``failed``, and the merchant is told.

    Locked, and the condition checked again under the lock: a submission recording its outcome
    holds the row, and is skipped rather than overwritten.
    """
    exhausted = session.scalars(
        select(Order)
        .where(
            Order.state == OrderState.SUBMITTING.value,
            Order.next_attempt_at <= clock.now,
            Order.attempts >= get_settings().max_attempts,
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
        notes.later(session, order.id, notes.NoteKind.FAILED)
    return len(exhausted)


def resend_forgotten_submissions(session: Session, clock: _Clock) -> int:
    """Received orders nobody picked up, and attempts whose retry time passed unnoticed.

    A paused store's orders wait on purpose; its resume sends them.
    """
    overdue = session.scalars(
        select(Order.id).where(
            clock.not_recently_sent(),
            Order.store_id.not_in(paused_stores()),
            or_(
                (Order.state == OrderState.RECEIVED.value) & (Order.updated_at < clock.quiet),
                (Order.state == OrderState.SUBMITTING.value)
                & (Order.next_attempt_at < clock.quiet),
            ),
        )
    ).all()
    _resend(session, clock, queues.SUBMIT_ORDER, overdue)
    return len(overdue)


def resend_forgotten_cancels(session: Session, clock: _Clock) -> int:
    """Cancellations the warehouse has not answered, and late submissions not yet cancelled."""
    cancels = session.scalars(
        select(Order.id).where(
            clock.not_recently_sent(),
            Order.updated_at < clock.quiet,
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
    _resend(session, clock, queues.CANCEL_ORDER, cancels)
    return len(cancels)


EDIT_SETTLED_BY_PUSH = [
    OrderState.SUBMITTED.value,
    OrderState.IN_PROCESS.value,
    OrderState.PARTIALLY_SHIPPED.value,
    OrderState.SHIPPED.value,
    OrderState.FAILED.value,
]


def resend_pending_edits(session: Session, clock: _Clock) -> int:
    """Changes after submission still to be sent to a warehouse that can update its orders.

    Only a backend that updates unshipped orders leaves a version unhandled (otherwise the
    intake flags it at once), so this finds lost ``push_edit`` messages and exhausted retries.
    """
    pending = session.scalars(
        select(Order.id).where(
            clock.not_recently_sent(),
            Order.updated_at < clock.quiet,
            Order.changed_after_submission.is_(True),
            Order.edit_handled_version.is_distinct_from(Order.orderdesk_updated_at),
            # push_edit settles the rest: it waits for a submission, flags a shipped order.
            Order.state.in_(EDIT_SETTLED_BY_PUSH),
        )
    ).all()
    _resend(session, clock, queues.PUSH_EDIT, pending)
    return len(pending)


def _resend(session: Session, clock: _Clock, task: str, order_ids: list[int]) -> None:
    """Send ``task`` again for each order; ``enqueued_at`` keeps the next pass from doubling it."""
    if not order_ids:
        return
    session.execute(
        update(Order)
        .where(Order.id.in_(order_ids))
        .values(enqueued_at=clock.now)
        .execution_options(synchronize_session=False)
    )
    for order_id in order_ids:
        followups.later(session, task, order_id)


def resend_waiting_moves(session: Session, clock: _Clock) -> int:
    """Stores with submitted orders not yet moved to "In Process"."""
    stores = session.scalars(
        select(Order.store_id)
        .where(Order.state == OrderState.SUBMITTED.value, Order.updated_at < clock.quiet)
        .distinct()
    ).all()
    for store_id in stores:
        followups.later(session, queues.MOVE_IN_PROCESS, store_id)
    return len(stores)


def resend_waiting_shipments(session: Session, clock: _Clock) -> int:
    """Stores with packages still to post to Order Desk."""
    stores = session.scalars(
        still_to_post(Order.store_id).where(Shipment.created_at < clock.quiet).distinct()
    ).all()
    for store_id in stores:
        followups.later(session, queues.POST_SHIPMENTS, store_id)
    return len(stores)


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
                store = session.get_one(Store, store_id)
                cursor = cursor_row(session, store_id, store.backend)
                cursor.next_poll_at = now + timedelta(seconds=store.poll_interval_seconds)
                followups.later(session, queues.POLL_WAREHOUSE, store_id)
        _schedule_inventory(settings.inventory_interval_seconds)
        return due


def _schedule_inventory(default_interval: float) -> None:
    """Each store with inventory sync on, once per its interval: a lease taken and never
    released expires on schedule, so the next scan after that sends the next sync."""
    with session_scope() as session:
        stores = session.execute(
            select(Store.id, Store.backend, Store.inventory_interval_seconds).where(
                Store.active.is_(True), Store.inventory_sync.is_(True)
            )
        ).all()
        for store_id, backend, interval in stores:
            if not backend_class(backend).capabilities().inventory:
                continue
            ttl = float(interval or default_interval)
            if leases.acquire(f"inventory-due:{store_id}", leases.new_owner(), ttl=ttl):
                followups.later(session, queues.SYNC_INVENTORY, store_id)
