"""What a signed, well-formed order means given what the bridge already holds for it.

The order is inserted as ``received`` unless it exists (``ON CONFLICT DO NOTHING``); a repeat
locks the existing row and is decided here: a plain duplicate, a newer payload before or after
submission, a corrected parked order, a cancellation. The webhook's full path
(``bridge.intake.full``) and reconciliation (``bridge.intake.trusted``) both decide through
``Decision``, each handing in how its result is finished (with or without a receipt).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bridge.backends.errors import UnknownBackend
from bridge.backends.registry import backend_class
from bridge.history import EventKind, count_arrival, record, transition
from bridge.intake.checks import is_cancel_request, why_unfulfillable
from bridge.intake.result import (
    ACCEPTED,
    CANCEL_REFUSED,
    CANCEL_REQUESTED,
    DUPLICATE,
    PARKED,
    IntakeResult,
)
from bridge.intake.rows import order_row_values
from bridge.jobs import queues
from bridge.jobs.followups import Message
from bridge.models import Order, Store
from bridge.orderdesk.webhook import ParsedOrder
from bridge.states import TERMINAL, OrderState, can_move

CANCELLED_BEFORE_ARRIVAL = "cancelled in Order Desk before it reached the bridge"
OD_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"

# States in which a backend that updates unshipped orders is sent the newer version (a
# submission in flight is waited for); later, the order has left the warehouse's open orders.
PUSHABLE = frozenset({OrderState.SUBMITTING, OrderState.SUBMITTED, OrderState.IN_PROCESS})

# Completes a decided result: the webhook writes its receipt, reconciliation only names it.
Finish = Callable[[IntakeResult], IntakeResult]


def parse_od_time(value: str) -> datetime | None:
    """Order Desk's ``date_updated`` ("YYYY-MM-DD HH:MM:SS") as a naive UTC datetime."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        return datetime.strptime(value, OD_TIME_FORMAT)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.astimezone(UTC).replace(tzinfo=None) if parsed.tzinfo else parsed


def _is_newer(candidate: str, known: str) -> bool:
    new = parse_od_time(candidate)
    old = parse_od_time(known)
    return new is not None and (old is None or new > old)


def _updates_unshipped(backend: str) -> bool:
    try:
        return backend_class(backend).capabilities().updates_unshipped
    except UnknownBackend:
        return False


def _attention_message(backend: str, state: OrderState) -> str:
    if state in PUSHABLE:
        why = f"the {backend} warehouse cannot update an order it already holds"
    else:
        why = f"the order is already {state.value}"
    return f"changed in Order Desk after submission and {why}: apply the change there"


# ``bridge.pipeline.notes.NoteKind.CHANGED_AFTER_SUBMISSION``: intake sits below the pipeline,
# so it names the kind by its value (tests/pipeline/test_note_policy.py checks they agree).
CHANGED_NOTE = "changed_after_submission"


class Decision:
    """One order's decision, in the caller's transaction; ``inserted`` once its row is new."""

    def __init__(self, session: Session, store: Store, parsed: ParsedOrder, finish: Finish) -> None:
        self.session = session
        self.store = store
        self.parsed = parsed
        self.finish = finish
        self.od_id = parsed.order.id
        self.unfulfillable = why_unfulfillable(parsed.order)
        self.inserted = False

    def run(self) -> IntakeResult:
        cancel = is_cancel_request(self.store, self.parsed.data)
        new_id = self._insert()
        if new_id is not None and not cancel and not self.unfulfillable:
            # The busy path: nothing more to change, so no ORM object is loaded at all.
            follow_ups: list[Message] = [Message(queues.SUBMIT_ORDER, (new_id,))]
            return self._finish(new_id, ACCEPTED, follow_ups=follow_ups)
        order = self._load(new_id)
        if new_id is not None:
            if cancel:
                transition(self.session, order, OrderState.CANCELLED, CANCELLED_BEFORE_ARRIVAL)
                order.reason = CANCELLED_BEFORE_ARRIVAL
                return self._answer(order, CANCEL_REQUESTED)
            return self._park(order, "parked: the order cannot be fulfilled as sent")
        if cancel:
            return self._cancel_known(order)
        if not _is_newer(self.parsed.order.date_updated, order.orderdesk_updated_at):
            return self._answer(order, DUPLICATE)
        state = OrderState(order.state)
        if state is OrderState.RECEIVED:
            self._refresh(order)
            record(
                self.session,
                order,
                EventKind.PAYLOAD_REFRESHED,
                "payload refreshed before submission",
            )
            if self.unfulfillable:
                return self._park(order, "parked: the refreshed order cannot be fulfilled")
            return self._answer(order, DUPLICATE)
        if state is OrderState.REJECTED:
            self._refresh(order)
            if self.unfulfillable:
                record(
                    self.session, order, EventKind.PAYLOAD_REFRESHED, "re-sent, still unfulfillable"
                )
                return self._park(order, None)
            transition(self.session, order, OrderState.RECEIVED, "re-sent with a correction")
            order.reason = None
            return self._answer(
                order, ACCEPTED, follow_ups=[Message(queues.SUBMIT_ORDER, (order.id,))]
            )
        return self._changed_after_submission(order, state)

    def _changed_after_submission(self, order: Order, state: OrderState) -> IntakeResult:
        """A newer version of an order the warehouse may hold: push it there, or flag it.

        A backend that can replace an unshipped order gets the new payload through
        ``bridge.push_edit`` (which waits for a submission in flight). Otherwise the warehouse
        keeps the earlier version and a person is asked to apply the change there.
        """
        version = self.parsed.order.date_updated[:32]
        order.changed_after_submission = True
        detail = {
            "date_updated": self.parsed.order.date_updated,
            "payload_sha256": self.parsed.sha256,
        }
        if state in PUSHABLE and _updates_unshipped(self.store.backend):
            self._refresh(order)
            record(
                self.session,
                order,
                EventKind.CHANGED_AFTER_SUBMISSION,
                "changed after submission: the new version goes to the warehouse",
                **detail,
            )
            return self._answer(
                order, DUPLICATE, follow_ups=[Message(queues.PUSH_EDIT, (order.id,))]
            )
        order.orderdesk_updated_at = version
        record(
            self.session,
            order,
            EventKind.CHANGED_AFTER_SUBMISSION,
            "changed after submission: the warehouse still has the earlier version",
            **detail,
        )
        if state not in (OrderState.CANCEL_REQUESTED, OrderState.CANCELLED):
            order.edit_handled_version = version
            order.edit_needs_attention = True
            record(
                self.session,
                order,
                EventKind.EDIT_NEEDS_ATTENTION,
                _attention_message(self.store.backend, state),
                date_updated=self.parsed.order.date_updated,
            )
        # The merchant reads it in the order's history (a problem note; once per order).
        note = [Message(queues.ADD_HISTORY_NOTE, (order.id, CHANGED_NOTE))]
        return self._answer(order, DUPLICATE, follow_ups=note if order.warehouse_ref else None)

    def _insert(self) -> int | None:
        """The new row's id, or None when the order exists (a concurrent insert is waited for)."""
        dialect = self.session.get_bind().dialect.name
        upsert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        table = Order.__table__
        statement = (
            upsert(table)
            .values(**self._row_values(), state=OrderState.RECEIVED.value)
            # No conflict target: the idempotency key is unique too and derived from (store,
            # Order Desk id). Naming one index would let a racing insert of the same order
            # fail on the other with a unique violation instead of doing nothing.
            .on_conflict_do_nothing()
            .returning(table.c.id)
        )
        new_id = self.session.execute(statement).scalar_one_or_none()
        if new_id is not None:
            self.inserted = True
            count_arrival()
        return new_id

    def _load(self, new_id: int | None) -> Order:
        if new_id is not None:
            return self.session.get_one(Order, new_id)
        return self.session.execute(
            select(Order)
            .where(Order.store_id == self.store.id, Order.orderdesk_order_id == self.od_id)
            .with_for_update()
        ).scalar_one()

    def _row_values(self) -> dict[str, Any]:
        return order_row_values(self.store, self.parsed)

    def _refresh(self, order: Order) -> None:
        values = self._row_values()
        for name in ("payload", "payload_sha256", "order_number", "orderdesk_updated_at"):
            setattr(order, name, values[name])

    def _park(self, order: Order, message: str | None) -> IntakeResult:
        reason = self.unfulfillable or ""
        if order.state != OrderState.REJECTED:
            transition(self.session, order, OrderState.REJECTED, message or reason, reason=reason)
        order.reason = reason
        return self._answer(
            order,
            PARKED,
            reason=reason,
            follow_ups=[Message(queues.PARK_IN_ORDERDESK, (order.id,))],
        )

    def _cancel_known(self, order: Order) -> IntakeResult:
        state = OrderState(order.state)
        if state in (OrderState.CANCEL_REQUESTED, OrderState.CANCELLED):
            return self._answer(order, DUPLICATE)
        if state is OrderState.REJECTED:
            # Parked orders never reached a warehouse: there is nothing to ask it.
            message = "cancelled in Order Desk while parked"
            transition(self.session, order, OrderState.CANCELLED, message)
            order.reason = message
            return self._answer(order, CANCEL_REQUESTED)
        if can_move(state, OrderState.CANCEL_REQUESTED):
            transition(self.session, order, OrderState.CANCEL_REQUESTED, "cancelled in Order Desk")
            return self._answer(
                order, CANCEL_REQUESTED, follow_ups=[Message(queues.CANCEL_ORDER, (order.id,))]
            )
        if state in TERMINAL or state is OrderState.PARTIALLY_SHIPPED:
            reason = f"order {self.od_id} is already {state.value}; it can no longer be cancelled"
        else:
            reason = (
                f"order {self.od_id} is {state.value}: the bridge cannot tell whether the "
                "warehouse holds it, so a person must cancel it there"
            )
        record(
            self.session,
            order,
            EventKind.CANCEL_TOO_LATE,
            "cancel requested too late",
            reason=reason,
        )
        return self._answer(order, CANCEL_REFUSED, reason=reason)

    def _answer(
        self,
        order: Order,
        outcome: str,
        *,
        reason: str | None = None,
        follow_ups: list[Message] | None = None,
    ) -> IntakeResult:
        return self._finish(order.id, outcome, reason=reason, follow_ups=follow_ups)

    def _finish(
        self,
        order_row_id: int,
        outcome: str,
        *,
        reason: str | None = None,
        follow_ups: list[Message] | None = None,
    ) -> IntakeResult:
        body: dict[str, Any] = {"result": outcome, "order_id": self.od_id}
        if reason is not None:
            body["reason"] = reason
        result = IntakeResult(
            200,
            body,
            outcome,
            order_row_id=order_row_id,
            follow_ups=follow_ups or [],
            reason=reason or "",
        )
        return self.finish(result)
