"""Cancellation: a request to the warehouse that may succeed, or come too late.

Order Desk signals a cancellation by posting the order from the store's cancel folder (intake
moves the order to ``cancel_requested``). If the order never reached the warehouse, cancelling is
ours alone; if a submission is in flight, we wait for its lease; otherwise the backend decides.
A submission that lands after the order was cancelled all the same (see ``submit``) leaves an
order at the warehouse that nobody wants: that one is cancelled there too.
"""

from __future__ import annotations

import structlog
from sqlalchemy import ColumnElement, exists, func, select
from sqlalchemy.orm import Session

from bridge.backends.models import CancelResult, NormalizedStatus, RemoteRef
from bridge.db import session_scope
from bridge.history import EventKind, record, transition
from bridge.jobs import followups, queues
from bridge.jobs.retry import delay_after
from bridge.models import Order, OrderEvent, utcnow
from bridge.pipeline import notes
from bridge.remote.errors import RemoteError
from bridge.states import OrderState
from bridge.stores.context import StoreContext

log = structlog.get_logger(__name__)

# The ``step`` detail of the error events of failed cancel calls, which they are counted by.
CANCEL_STEP = "cancel"

# Event kinds: a submission that landed after the order left its claim, and the warehouse's
# answer to a cancel that did not simply succeed (or to the cancel of a late submission).


def landed_after_cancellation() -> ColumnElement[bool]:
    """Cancelled orders that a late submission created at the warehouse, not yet cancelled there."""
    return (
        (Order.state == OrderState.CANCELLED.value)
        & Order.warehouse_ref.is_not(None)
        & Order.warehouse_status.is_distinct_from(NormalizedStatus.CANCELLED.value)
        & exists().where(
            OrderEvent.order_id == Order.id, OrderEvent.kind == EventKind.LATE_SUBMISSION
        )
        & ~exists().where(
            OrderEvent.order_id == Order.id, OrderEvent.kind == EventKind.CANCEL_ANSWER
        )
    )


def _cancel_failures(session: Session, order_id: int) -> int:
    """How many cancel calls for this order failed so far: each retry waits longer."""
    failures = session.scalar(
        select(func.count())
        .select_from(OrderEvent)
        .where(
            OrderEvent.order_id == order_id,
            OrderEvent.kind == EventKind.ERROR,
            OrderEvent.detail["step"].as_string() == CANCEL_STEP,
        )
    )
    return failures or 0


def _finish(
    order_id: int, message: str, *, note: notes.NoteKind | None, at_warehouse: bool
) -> None:
    with session_scope() as session:
        order = session.get(Order, order_id, with_for_update=True)
        if at_warehouse:
            order.warehouse_status = NormalizedStatus.CANCELLED.value
        if order.state == OrderState.CANCEL_REQUESTED.value:
            transition(session, order, OrderState.CANCELLED, message)
        else:
            record(
                session,
                order,
                EventKind.CANCEL_ANSWER,
                f"{message} (what a late submission created)",
            )
        if note is not None:
            notes.later(session, order_id, note)


def cancel_order(order_id: int) -> str:
    """Carry out a cancellation request; return what happened in one word."""
    with session_scope() as session:
        order = session.get(Order, order_id)
        if order is None:
            return "nothing-to-do"
        stray = order.state == OrderState.CANCELLED.value and session.scalar(
            select(exists().where(Order.id == order_id, landed_after_cancellation()))
        )
        if order.state != OrderState.CANCEL_REQUESTED.value and not stray:
            return "nothing-to-do"
        key, ref, attempts, store_id = (
            order.idempotency_key,
            order.warehouse_ref,
            order.attempts,
            order.store_id,
        )
        in_flight = order.next_attempt_at is not None and order.next_attempt_at > utcnow()
        if ref is None and attempts and in_flight:
            # A submission holds the order: ask again once its lease has run out.
            wait = (order.next_attempt_at - utcnow()).total_seconds()
            followups.later(session, queues.CANCEL_ORDER, order_id, countdown=max(wait, 1.0))
            return "waiting"
    if ref is None and attempts == 0:
        _finish(
            order_id, "cancelled before it was sent to the warehouse", note=None, at_warehouse=False
        )
        return "cancelled"
    context = StoreContext.load(store_id)
    try:
        with context.backend() as backend:
            if ref is None:
                found = backend.find_by_key(key)
                if found is None:
                    _finish(
                        order_id,
                        "cancelled; the warehouse never received it",
                        note=None,
                        at_warehouse=False,
                    )
                    return "cancelled"
                ref = found.ref.remote_id
            result = backend.cancel(RemoteRef(remote_id=ref, key=key))
    except RemoteError as exc:
        with session_scope() as session:
            order = session.get(Order, order_id, with_for_update=True)
            failure = _cancel_failures(session, order_id) + 1
            delay = delay_after(exc, failure)
            order.last_error = f"cancel failed: {exc}"
            record(
                session,
                order,
                EventKind.ERROR,
                f"cancel failed, next try in {delay:.0f}s: {exc}",
                step=CANCEL_STEP,
                attempt=failure,
                retry_in=round(delay, 1),
            )
            followups.later(session, queues.CANCEL_ORDER, order_id, countdown=delay)
        return "retry"
    if result.state == "cancelled":
        _finish(
            order_id,
            "cancelled at the warehouse",
            note=notes.NoteKind.CANCELLED,
            at_warehouse=True,
        )
        return "cancelled"
    if result.state == "requested":
        with session_scope() as session:
            order = session.get(Order, order_id)
            record(
                session,
                order,
                EventKind.CANCEL_ANSWER,
                "the warehouse is considering the cancellation",
            )
        return "requested"
    with session_scope() as session:
        order = session.get(Order, order_id)
        order.warehouse_ref = ref
        record(
            session,
            order,
            EventKind.CANCEL_ANSWER,
            f"the warehouse could not cancel ({result.state}): {result.detail}",
        )
        notes.later(session, order_id, notes.NoteKind.CANCEL_TOO_LATE, refusal(result))
    if stray:
        log.warning("cancelled_order_left_at_warehouse", order_row=order_id, warehouse_ref=ref)
    return result.state


def refusal(result: CancelResult) -> str:
    """Why the warehouse did not cancel, in words for the merchant's note.

    A backend need not explain itself (``detail`` may be empty); the note still says something.
    """
    return result.detail.strip() or f"the warehouse answered {result.state.replace('_', ' ')}"
