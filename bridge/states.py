"""The order state machine: every allowed move in one table, everything else refused.

States: docs/architecture.md#order-states. The main line is monotonic
(received → submitting → submitted → in_process → partially_shipped → shipped); side states
park an order for a person (``rejected``, ``failed``) or record a cancellation. A late or repeated
event must never move an order backwards, so an illegal move raises instead of being ignored:
callers that may legitimately see stale events ask ``can_move`` first.
"""

from __future__ import annotations

from enum import StrEnum


class OrderState(StrEnum):
    RECEIVED = "received"
    SUBMITTING = "submitting"
    SUBMITTED = "submitted"
    IN_PROCESS = "in_process"
    PARTIALLY_SHIPPED = "partially_shipped"
    SHIPPED = "shipped"
    REJECTED = "rejected"
    FAILED = "failed"
    CANCEL_REQUESTED = "cancel_requested"
    CANCELLED = "cancelled"


S = OrderState

TRANSITIONS: dict[OrderState, frozenset[OrderState]] = {
    S.RECEIVED: frozenset({S.SUBMITTING, S.REJECTED, S.FAILED, S.CANCEL_REQUESTED, S.CANCELLED}),
    S.SUBMITTING: frozenset({S.SUBMITTED, S.REJECTED, S.FAILED, S.CANCEL_REQUESTED}),
    S.SUBMITTED: frozenset(
        {S.IN_PROCESS, S.PARTIALLY_SHIPPED, S.SHIPPED, S.CANCEL_REQUESTED, S.CANCELLED}
    ),
    S.IN_PROCESS: frozenset({S.PARTIALLY_SHIPPED, S.SHIPPED, S.CANCEL_REQUESTED, S.CANCELLED}),
    S.PARTIALLY_SHIPPED: frozenset({S.SHIPPED}),
    S.SHIPPED: frozenset(),
    # A person fixed the cause (or the order was re-sent with a correction): try again from the top.
    S.REJECTED: frozenset({S.RECEIVED, S.CANCELLED}),
    # Retries exhausted. An operator retry starts over; a late lookup may prove it was submitted.
    S.FAILED: frozenset({S.RECEIVED, S.SUBMITTED, S.CANCELLED}),
    # Cancelling is a request: the warehouse may confirm it or report that the order already left.
    S.CANCEL_REQUESTED: frozenset({S.CANCELLED, S.PARTIALLY_SHIPPED, S.SHIPPED, S.FAILED}),
    S.CANCELLED: frozenset(),
}

TERMINAL: frozenset[OrderState] = frozenset(s for s, targets in TRANSITIONS.items() if not targets)


class IllegalTransition(ValueError):
    """A move the state machine does not allow, e.g. shipped → submitted."""

    def __init__(self, current: OrderState, target: OrderState) -> None:
        super().__init__(f"an order cannot move from {current} to {target}")
        self.current = current
        self.target = target


def can_move(current: OrderState | str, target: OrderState | str) -> bool:
    return OrderState(target) in TRANSITIONS[OrderState(current)]


def check_move(current: OrderState | str, target: OrderState | str) -> None:
    """Raise ``IllegalTransition`` unless ``current → target`` is in the table."""
    if not can_move(current, target):
        raise IllegalTransition(OrderState(current), OrderState(target))
