"""Push an order changed in Order Desk after submission to a warehouse that can update it.

The intake stores the newer payload and sends ``bridge.push_edit`` (``bridge.intake.decision``).
The version is Order Desk's ``date_updated``: the row's ``orderdesk_updated_at`` is the newest
one, ``edit_handled_version`` the last one dealt with, so each version is pushed once. The push
always sends the newest payload, so a newer edit supersedes an older one still waiting; a newer
one arriving during a push is sent by a follow-up. Updates replace the order under the same key
(ShipStation's upsert), so a repeat after an unclear answer is harmless; a retryable failure is
raised for the task's retry policy. Nothing is pushed once the order has shipped or left the
warehouse's open orders: that, a refusal or an unreadable payload flags the order for a person.
"""

from __future__ import annotations

from dataclasses import dataclass

import pydantic
import structlog
from sqlalchemy.orm import Session

from bridge.backends.errors import NotSupported
from bridge.backends.fulfillment import Unfulfillable, to_fulfillment_order
from bridge.backends.models import FulfillmentOrder, RemoteRef
from bridge.db import session_scope
from bridge.history import EventKind, record
from bridge.jobs import followups, leases, queues
from bridge.jobs.retry import is_retryable
from bridge.models import Order, utcnow
from bridge.orderdesk.payload import Order as OrderDeskOrder
from bridge.remote.errors import RemoteError
from bridge.states import OrderState
from bridge.stores.context import StoreContext

log = structlog.get_logger(__name__)

# One push per order at a time; a second message meanwhile comes back after ``BUSY_SECONDS``.
LEASE_SECONDS = 300
BUSY_SECONDS = 5.0
# The states whose order the warehouse holds open (a submission in flight is waited for).
OPEN_AT_WAREHOUSE = (OrderState.SUBMITTED.value, OrderState.IN_PROCESS.value)
EDIT_STEP = "edit"


@dataclass(frozen=True)
class _Pending:
    store_id: int
    version: str
    key: str
    ref: str
    payload: dict


def push_edit(order_id: int) -> str:
    """Send the newest version of the order to the warehouse; return what happened in a word."""
    with leases.held(f"edit:{order_id}", ttl=LEASE_SECONDS) as mine:
        if not mine:
            # The holder may be sending an older version: look again once it is done.
            with session_scope() as session:
                followups.later(session, queues.PUSH_EDIT, order_id, countdown=BUSY_SECONDS)
            return "busy"
        pending = _pending(order_id)
        if isinstance(pending, str):
            return pending
        return _push(order_id, pending)


def _pending(order_id: int) -> _Pending | str:
    """What to send, or a word saying why nothing is sent now."""
    with session_scope() as session:
        order = session.get(Order, order_id)
        if order is None or not order.changed_after_submission:
            return "nothing-to-do"
        version = order.orderdesk_updated_at
        if order.edit_handled_version == version:
            return "nothing-to-do"
        if order.state in (OrderState.CANCEL_REQUESTED.value, OrderState.CANCELLED.value):
            # Cancelled in Order Desk meanwhile: the edit no longer matters to anyone.
            order.edit_handled_version = version
            return "nothing-to-do"
        if order.state == OrderState.SUBMITTING.value:
            # The submission in flight carries the earlier payload; update once it has landed.
            lease_end = order.next_attempt_at or utcnow()
            wait = max((lease_end - utcnow()).total_seconds(), BUSY_SECONDS)
            followups.later(session, queues.PUSH_EDIT, order_id, countdown=wait)
            return "waiting"
        if order.state not in OPEN_AT_WAREHOUSE or not order.warehouse_ref:
            _flag(
                session,
                order,
                version,
                f"changed in Order Desk after submission, but the order is already "
                f"{order.state}: nothing was sent to the warehouse; apply the change there",
            )
            return "too-late"
        return _Pending(
            order.store_id, version, order.idempotency_key, order.warehouse_ref, order.payload
        )


def _push(order_id: int, pending: _Pending) -> str:
    try:
        fulfillment = to_fulfillment_order(OrderDeskOrder.model_validate(pending.payload))
    except (Unfulfillable, pydantic.ValidationError) as exc:
        reason = str(exc) if isinstance(exc, Unfulfillable) else "the stored order cannot be read"
        return _settle(
            order_id, pending.version, refused=f"the new version cannot be sent: {reason}"
        )
    try:
        ref = _update(pending, fulfillment)
    except RemoteError as exc:
        if is_retryable(exc):
            with session_scope() as session:
                order = session.get_one(Order, order_id)
                order.last_error = f"edit push failed: {exc}"
                record(
                    session,
                    order,
                    EventKind.ERROR,
                    f"sending the new version failed; tried again later: {exc}",
                    step=EDIT_STEP,
                )
            raise
        verb = "cannot update orders" if isinstance(exc, NotSupported) else "refused the update"
        return _settle(order_id, pending.version, refused=f"the warehouse {verb}: {exc}")
    return _settle(order_id, pending.version, ref=ref)


def _update(pending: _Pending, fulfillment: FulfillmentOrder) -> RemoteRef:
    context = StoreContext.load(pending.store_id)
    with context.backend() as backend:
        return backend.update(
            fulfillment, pending.key, RemoteRef(remote_id=pending.ref, key=pending.key)
        )


def _settle(
    order_id: int, version: str, *, ref: RemoteRef | None = None, refused: str | None = None
) -> str:
    """Record the outcome for ``version``; a newer version that arrived meanwhile is sent next."""
    with session_scope() as session:
        order = session.get_one(Order, order_id, with_for_update=True)
        if ref is not None:
            order.edit_handled_version = version
            order.last_error = None
            record(
                session,
                order,
                EventKind.EDIT_PUSHED,
                "the warehouse has the version changed in Order Desk after submission",
                date_updated=version,
                warehouse_ref=ref.remote_id,
            )
            log.info("edit_pushed", order_row=order_id, date_updated=version)
        else:
            _flag(session, order, version, f"changed after submission, not applied: {refused}")
        if order.orderdesk_updated_at != version:
            followups.later(session, queues.PUSH_EDIT, order_id)
    return "pushed" if ref is not None else "refused"


def _flag(session: Session, order: Order, version: str, message: str) -> None:
    """Leave ``version`` to a person: the flag shows on the order page until acknowledged."""
    order.edit_handled_version = version
    order.edit_needs_attention = True
    record(session, order, EventKind.EDIT_NEEDS_ATTENTION, message, date_updated=version)
