"""Pausing a store: its webhooks are still taken in, nothing goes to the warehouse until resume.

An operator pauses a store when its warehouse account is being moved, its stock counted, or
its orders must be held for any reason without Order Desk seeing refusals (which it would give
up on after a few retries). While ``paused_at`` is set, intake stores orders as ``received``
as usual, ``submit_order`` claims none of them (and counts no attempt), and the sweeper does not
re-send them. Cancellations of orders never sent still work: they need no warehouse call.

The claim reads the store row ``FOR SHARE`` and a pause is an ``UPDATE`` of it, so once a pause
has committed no new claim can start; a claim already committed (a call in flight) finishes.
Resume clears the mark and, in the same transaction, sends every waiting order for submission.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import structlog
from sqlalchemy import Select, select, update
from sqlalchemy.orm import Session

from bridge.jobs import followups, queues
from bridge.models import Order, Store, utcnow
from bridge.states import OrderState
from bridge.stores.registry import StoreError, StoreRegistry

log = structlog.get_logger(__name__)

# The states whose next step is a warehouse submission: what a pause holds back.
HELD_STATES = (OrderState.RECEIVED.value, OrderState.SUBMITTING.value)


@dataclass(frozen=True)
class PauseResult:
    """What a pause or resume did, for the operator: the store, and the orders it concerns."""

    store_id: str
    paused: bool
    changed: bool
    waiting: int


def _waiting(session: Session, store: Store) -> list[Order]:
    return list(
        session.scalars(
            select(Order)
            .where(Order.store_id == store.id, Order.state.in_(HELD_STATES))
            .order_by(Order.id)
        )
    )


def pause_store(session: Session, orderdesk_store_id: str, actor: str) -> PauseResult:
    """Hold back the store's submissions from now on; pausing a paused store changes nothing."""
    store = StoreRegistry(session).get(orderdesk_store_id)
    if not store.active:
        raise StoreError(f"store {orderdesk_store_id} is disabled; there is nothing to pause")
    waiting = len(_waiting(session, store))
    if store.paused_at is not None:
        return PauseResult(store.orderdesk_store_id, True, False, waiting)
    store.paused_at = utcnow()
    store.paused_by = actor[:100]
    session.flush()
    log.info("store_paused", store=store.orderdesk_store_id, actor=actor, waiting=waiting)
    return PauseResult(store.orderdesk_store_id, True, True, waiting)


def resume_store(session: Session, orderdesk_store_id: str, actor: str) -> PauseResult:
    """Clear the pause and send every held order for submission once this transaction commits.

    An order whose retry time is still ahead is sent with that delay, so a resume does not cut
    a warehouse's backoff short.
    """
    store = StoreRegistry(session).get(orderdesk_store_id)
    if store.paused_at is None:
        return PauseResult(store.orderdesk_store_id, False, False, len(_waiting(session, store)))
    store.paused_at = None
    store.paused_by = None
    now = utcnow()
    waiting = _waiting(session, store)
    if waiting:
        # The messages go out right after commit; keep the sweeper from doubling them.
        session.execute(
            update(Order)
            .where(Order.id.in_([order.id for order in waiting]))
            .values(enqueued_at=now)
            .execution_options(synchronize_session=False)
        )
    for order in waiting:
        ahead = (order.next_attempt_at or now) - now
        countdown = ahead.total_seconds() if ahead > timedelta(0) else None
        followups.later(session, queues.SUBMIT_ORDER, order.id, countdown=countdown)
    session.flush()
    log.info("store_resumed", store=store.orderdesk_store_id, actor=actor, sent=len(waiting))
    return PauseResult(store.orderdesk_store_id, False, True, len(waiting))


def paused_stores() -> Select[tuple[int]]:
    """The row ids of the stores paused now, as a subquery for the scans that skip them."""
    return select(Store.id).where(Store.paused_at.is_not(None))
