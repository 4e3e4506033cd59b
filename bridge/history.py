"""State changes and their history, written together so the record can never miss a step.

Every move of an order goes through ``transition``: it checks the state machine, updates the row
and appends an ``order_events`` row in the caller's transaction. Steps that are not moves
(a history note sent, a payload changed after submission) are recorded with ``record``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from bridge.models import Order, OrderEvent, utcnow
from bridge.states import OrderState, check_move

_STAMPS = {
    OrderState.SUBMITTED: "submitted_at",
    OrderState.IN_PROCESS: "in_process_at",
    OrderState.SHIPPED: "shipped_at",
}


def record(session: Session, order: Order, kind: str, message: str, **detail: Any) -> OrderEvent:
    event = OrderEvent(order=order, kind=kind, message=message, detail=detail, at=utcnow())
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
    event = record(session, order, "transition", message, **detail)
    event.from_state = current.value
    event.to_state = target.value
    return event
