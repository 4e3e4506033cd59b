"""What a person can do to orders, shared by ``bridge orders`` and the admin pages.

Both front ends call these functions and only format the answers, so a retry from a terminal and
a retry from the browser leave the same history. Actions open their own transaction and declare
their message in it (``followups.later``): it goes out only after the commit (the row is the
truth; a lost message is re-sent by the sweeper). A refusal is an ``OperationError`` whose
message is one sentence for the operator.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from bridge.db import session_scope
from bridge.history import EventKind, record, transition
from bridge.jobs import followups, queues
from bridge.models import Order, OrderEvent, Shipment, Store, WebhookReceipt, utcnow
from bridge.states import TERMINAL, OrderState, can_move

RETRYABLE = (OrderState.FAILED, OrderState.REJECTED)
MAX_PAGE = 500
RETRY_BATCH = 200


class OperationError(ValueError):
    """An operator action that cannot be done; the message says why in one sentence."""


@dataclass(frozen=True)
class OrderDetail:
    order: Order
    store: Store
    events: list[OrderEvent]
    shipments: list[Shipment]
    receipts: list[WebhookReceipt]


@dataclass(frozen=True)
class ActionResult:
    """What an action did. ``enqueued`` is None when no message was needed, False when the broker
    was down (the sweeper sends it later)."""

    order_id: int
    label: str
    state: str
    message: str
    enqueued: bool | None


def label(store: Store, order: Order) -> str:
    """How people name an order: ``STORE_ID:ORDERDESK_ID``, accepted back as a reference."""
    return f"{store.orderdesk_store_id}:{order.orderdesk_order_id}"


def _find(session: Session, ref: str | int, *, lock: bool = False) -> Order:
    text = str(ref).strip()
    query = select(Order)
    # ASCII only: ``isdigit`` also accepts ``²``, which ``int`` refuses. 18 digits fit a bigint.
    if text.isascii() and text.isdigit() and len(text) <= 18:
        query = query.where(Order.id == int(text))
    elif text.count(":") == 1 and all(part.strip() for part in text.split(":")):
        store_id, od_id = (part.strip() for part in text.split(":"))
        query = query.join(Store).where(
            Store.orderdesk_store_id == store_id, Order.orderdesk_order_id == od_id
        )
    else:
        raise OperationError(
            f"'{text}' is not an order reference: give the row id from `bridge orders list` "
            "or STORE_ID:ORDERDESK_ID"
        )
    if lock:
        query = query.with_for_update(of=Order)
    order = session.scalar(query)
    if order is None:
        raise OperationError(f"no order {text} in the bridge")
    return order


def get_order(session: Session, ref: str | int) -> Order:
    return _find(session, ref)


def _state(value: str | None) -> str | None:
    if value in (None, ""):
        return None
    try:
        return OrderState(value.strip().lower()).value
    except ValueError:
        known = ", ".join(state.value for state in OrderState)
        raise OperationError(f"unknown state '{value}'; the states are: {known}") from None


def _store_row(session: Session, store: str) -> Store:
    row = session.scalar(select(Store).where(Store.orderdesk_store_id == str(store).strip()))
    if row is None:
        raise OperationError(f"no store with Order Desk store id {store}")
    return row


def find_orders(
    session: Session,
    state: str | None = None,
    store: str | None = None,
    search: str | None = None,
    limit: int = 50,
    offset: int = 0,
    changed_after_submission: bool = False,
) -> list[Order]:
    """Orders newest first; ``store`` is the Order Desk store id, ``search`` an Order Desk id,
    (part of) an order number, or a package's tracking number."""
    query = select(Order).options(selectinload(Order.store)).order_by(Order.id.desc())
    if (wanted := _state(state)) is not None:
        query = query.where(Order.state == wanted)
    if store not in (None, ""):
        query = query.where(Order.store_id == _store_row(session, store).id)
    if search and search.strip():
        text = search.strip()
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        tracked = select(Shipment.order_id).where(Shipment.tracking_number == text)
        query = query.where(
            or_(
                Order.orderdesk_order_id == text,
                Order.order_number.ilike(pattern, escape="\\"),
                Order.id.in_(tracked),
            )
        )
    if changed_after_submission:
        query = query.where(Order.changed_after_submission.is_(True))
    limit = max(1, min(int(limit), MAX_PAGE))
    return list(session.scalars(query.limit(limit).offset(max(0, int(offset)))))


def order_detail(session: Session, ref: str | int) -> OrderDetail:
    """The order with its whole history, its packages and every webhook that named it."""
    order = _find(session, ref)
    events = list(
        session.scalars(
            select(OrderEvent).where(OrderEvent.order_id == order.id).order_by(OrderEvent.id)
        )
    )
    shipments = list(
        session.scalars(select(Shipment).where(Shipment.order_id == order.id).order_by(Shipment.id))
    )
    receipts = list(
        session.scalars(
            select(WebhookReceipt)
            .where(
                WebhookReceipt.store_id == order.store_id,
                WebhookReceipt.orderdesk_order_id == order.orderdesk_order_id,
            )
            .order_by(WebhookReceipt.id)
        )
    )
    return OrderDetail(order, order.store, events, shipments, receipts)


def state_counts(session: Session) -> dict[str, dict[str, int]]:
    """Order counts per Order Desk store id, then per state (stores without orders included)."""
    counts: dict[str, dict[str, int]] = {
        store_id: {} for store_id in session.scalars(select(Store.orderdesk_store_id))
    }
    rows = session.execute(
        select(Store.orderdesk_store_id, Order.state, func.count())
        .join(Order, Order.store_id == Store.id)
        .group_by(Store.orderdesk_store_id, Order.state)
    )
    for store_id, state, count in rows:
        counts[store_id][state] = count
    return dict(sorted(counts.items()))


def recent_receipts(
    session: Session, outcome: str | None = None, limit: int = 50, offset: int = 0
) -> list[WebhookReceipt]:
    query = select(WebhookReceipt).order_by(WebhookReceipt.id.desc())
    if outcome:
        query = query.where(WebhookReceipt.outcome == outcome.strip())
    limit = max(1, min(int(limit), MAX_PAGE))
    return list(session.scalars(query.limit(limit).offset(max(0, int(offset)))))


def receipt_outcomes(session: Session) -> list[str]:
    return list(session.scalars(select(WebhookReceipt.outcome).distinct().order_by("outcome")))


def _put_back(session: Session, order: Order, actor: str) -> followups.Delivery:
    """Move a locked failed or rejected order to ``received`` with a fresh budget of attempts and
    declare its submission (its ``sent`` is known once the transaction commits)."""
    state = OrderState(order.state)
    transition(
        session,
        order,
        OrderState.RECEIVED,
        f"retry requested by {actor}",
        actor=actor,
        previous_state=state.value,
        previous_error=order.last_error,
        previous_reason=order.reason,
    )
    order.attempts = 0
    order.next_attempt_at = None
    order.last_error = None
    order.reason = None
    # The message goes out right after commit; keep the sweeper from doubling it.
    order.enqueued_at = utcnow()
    return followups.later(session, queues.SUBMIT_ORDER, order.id)


def retry_order(ref: str | int, actor: str) -> ActionResult:
    """Put a failed or rejected order back at the start of the pipeline, with a fresh budget of
    attempts, and send it to a worker."""
    with session_scope() as session:
        order = _find(session, ref, lock=True)
        name = label(order.store, order)
        state = OrderState(order.state)
        if state not in RETRYABLE:
            raise OperationError(
                f"order {name} is {state.value}; only failed or rejected orders can be retried"
            )
        order_id = order.id
        delivery = _put_back(session, order, actor)
    return ActionResult(
        order_id, name, OrderState.RECEIVED.value, "sent for submission", delivery.sent
    )


def _retry_filter(session: Session, state: str | None, store: str | None) -> list[Any]:
    """The conditions on ``orders`` of a bulk retry; refused unless the state is retryable."""
    wanted = _state(state)
    if wanted is None or OrderState(wanted) not in RETRYABLE:
        raise OperationError("give --state failed or --state rejected: only those can be retried")
    conditions: list[Any] = [Order.state == wanted]
    if store not in (None, ""):
        conditions.append(Order.store_id == _store_row(session, store).id)
    return conditions


def count_retryable(state: str | None, store: str | None) -> int:
    """How many orders ``retry_orders`` with the same filter would put back now."""
    with session_scope() as session:
        conditions = _retry_filter(session, state, store)
        return session.scalar(select(func.count(Order.id)).where(*conditions)) or 0


@dataclass(frozen=True)
class BulkRetry:
    """What a bulk retry did. ``not_sent`` orders are back in ``received`` but the broker did not
    take their message; the sweeper sends them later."""

    retried: int
    not_sent: int


def retry_orders(
    state: str | None, store: str | None, actor: str, batch_size: int = RETRY_BATCH
) -> BulkRetry:
    """Retry every order in ``state`` (failed or rejected), of one store or all, batch by batch.

    Each batch is one short transaction that locks its rows and re-checks their state, so an
    order a worker or another operator moved meanwhile is left alone, and a long run never holds
    many locks. Each order goes through the same steps as a single retry.
    """
    retried = not_sent = 0
    after = 0
    while True:
        with session_scope() as session:
            conditions = _retry_filter(session, state, store)
            ids = list(
                session.scalars(
                    select(Order.id)
                    .where(*conditions, Order.id > after)
                    .order_by(Order.id)
                    .limit(batch_size)
                )
            )
            if not ids:
                break
            after = ids[-1]
            # The state is checked again on the locked row: one moved since it was listed is
            # left alone, and rows a worker holds right now are skipped, not waited for.
            orders = session.scalars(
                select(Order)
                .where(Order.id.in_(ids), *conditions)
                .order_by(Order.id)
                .with_for_update(skip_locked=True)
            )
            deliveries = [_put_back(session, order, actor) for order in orders]
        retried += len(deliveries)
        not_sent += sum(1 for delivery in deliveries if delivery.sent is False)
    return BulkRetry(retried, not_sent)


def request_cancel(ref: str | int, actor: str) -> ActionResult:
    """Ask the warehouse to cancel, as a post from the cancel folder would.

    A parked order never reached a warehouse, so it is cancelled at once; an order past the point
    where the bridge can ask is refused with the reason.
    """
    with session_scope() as session:
        order = _find(session, ref, lock=True)
        name = label(order.store, order)
        state = OrderState(order.state)
        if state in (OrderState.CANCEL_REQUESTED, OrderState.CANCELLED):
            raise OperationError(f"order {name} is already {state.value}")
        if state is OrderState.REJECTED:
            message = f"cancelled by {actor} while parked"
            transition(session, order, OrderState.CANCELLED, message, actor=actor)
            order.reason = message
            target, delivery = OrderState.CANCELLED, None
        elif can_move(state, OrderState.CANCEL_REQUESTED):
            transition(
                session,
                order,
                OrderState.CANCEL_REQUESTED,
                f"cancel requested by {actor}",
                actor=actor,
            )
            target = OrderState.CANCEL_REQUESTED
            delivery = followups.later(session, queues.CANCEL_ORDER, order.id)
        elif state in TERMINAL or state is OrderState.PARTIALLY_SHIPPED:
            raise OperationError(f"order {name} is already {state.value}; it cannot be cancelled")
        else:
            raise OperationError(
                f"order {name} is {state.value}: the bridge cannot tell whether the warehouse "
                "holds it, so cancel it at the warehouse, or retry it and then cancel"
            )
        order_id = order.id
    if delivery is None:
        return ActionResult(order_id, name, target.value, "cancelled (it was parked)", None)
    return ActionResult(order_id, name, target.value, "the warehouse is being asked", delivery.sent)


def acknowledge_edit(ref: str | int, actor: str) -> ActionResult:
    """Clear the flag of a change after submission a person has applied at the warehouse."""
    with session_scope() as session:
        order = _find(session, ref, lock=True)
        name = label(order.store, order)
        if not order.edit_needs_attention:
            raise OperationError(f"order {name} has no change waiting for a person")
        order.edit_needs_attention = False
        record(
            session,
            order,
            EventKind.EDIT_ACKNOWLEDGED,
            f"change after submission acknowledged by {actor}",
            actor=actor,
        )
        return ActionResult(order.id, name, order.state, "acknowledged", None)
