"""State changes and their history, written together so the record can never miss a step.

Every move of an order goes through ``transition``: it checks the state machine, updates the row,
appends an ``order_events`` row in the caller's transaction and counts the move for Prometheus.
Steps that are not moves (a history note sent, a payload changed after submission) are recorded
with ``record``. Every event has a kind from ``EventKind``: queries and pages filter on it, never
on the wording of a message.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlalchemy.orm import Session

from bridge.metrics import ORDER_TRANSITIONS
from bridge.models import Order, OrderEvent, utcnow
from bridge.states import OrderState, check_move


class EventKind(StrEnum):
    """What an ``order_events`` row records; the values are stored, so never rename one."""

    # A state change, written only by ``transition``.
    TRANSITION = "transition"
    # A submission attempt that did not change the state (a re-claim, a claim that lost its order).
    ATTEMPT = "attempt"
    # A step failed and will be tried again (the message says when).
    ERROR = "error"
    # The warehouse accepted an order that had already moved past ``submitting``.
    SUBMITTED = "submitted"
    # A submission landed after the order was cancelled; it is being cancelled at the warehouse.
    LATE_SUBMISSION = "late_submission"
    # The warehouse's answer to a cancellation (done, considering, too late).
    CANCEL_ANSWER = "cancel"
    CANCEL_TOO_LATE = "cancel_too_late"
    # Order Desk re-sent the order with a new payload before it was submitted.
    PAYLOAD_REFRESHED = "payload_refreshed"
    # Order Desk re-sent the order with a new payload after it was submitted.
    CHANGED_AFTER_SUBMISSION = "changed_after_submission"
    # The warehouse took the newer version of an order it already held (an update, not a copy).
    EDIT_PUSHED = "edit_pushed"
    # A change after submission the warehouse could not take: a person must apply it there.
    EDIT_NEEDS_ATTENTION = "edit_needs_attention"
    # A person confirmed they dealt with such a change; the flag is cleared.
    EDIT_ACKNOWLEDGED = "edit_acknowledged"
    # Reconciliation found the order in Order Desk; no webhook had brought it.
    RECOVERED = "recovered"
    ORDERDESK_NOTE = "orderdesk_note"
    ORDERDESK_MOVE = "orderdesk_move"
    WAREHOUSE_STATUS = "warehouse_status"
    SHIPMENT_POSTED = "shipment_posted"
    SHIPMENT_VOIDED = "shipment_voided"
    SHIPMENT_RETRACTED = "shipment_retracted"


_STAMPS = {
    OrderState.SUBMITTED: "submitted_at",
    OrderState.IN_PROCESS: "in_process_at",
    OrderState.SHIPPED: "shipped_at",
}


def record(
    session: Session, order: Order, kind: EventKind, message: str, **detail: Any
) -> OrderEvent:
    event = OrderEvent(order=order, kind=kind.value, message=message, detail=detail, at=utcnow())
    session.add(event)
    return event


def transition(
    session: Session, order: Order, target: OrderState, message: str, **detail: Any
) -> OrderEvent:
    """Move ``order`` to ``target`` or raise ``IllegalTransition``; the event says why."""
    current = OrderState(order.state)
    check_move(current, target)
    order.state = target.value
    stamp = _STAMPS.get(target)
    if stamp and getattr(order, stamp) is None:
        setattr(order, stamp, utcnow())
    event = record(session, order, EventKind.TRANSITION, message, **detail)
    event.from_state = current.value
    event.to_state = target.value
    ORDER_TRANSITIONS.labels(target.value).inc()
    return event


def count_arrival() -> None:
    """A new order stored in ``received``: the one state reached by insert, not by a move."""
    ORDER_TRANSITIONS.labels(OrderState.RECEIVED.value).inc()
