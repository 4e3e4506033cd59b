"""Submit orders to the warehouse exactly once, in bulk where the backend allows it.

The algorithm, per ``submit_order(order_id)`` message:

1. Claim. The claimable rows are locked (``FOR UPDATE SKIP LOCKED``, in id order), moved to
   ``submitting``, their attempt counted and a lease set (``next_attempt_at``); only one worker
   can win a row, so a duplicate message or a re-sent webhook does nothing. Where the backend
   has a bulk create, the same worker also claims the store's other waiting orders (new ones
   and retries now due), after a short linger when a burst is arriving, so a burst of orders
   costs a few warehouse calls while a lone order goes out at once. The worker stops the task
   before the lease runs out (``bridge/jobs/celery_config.py``), so a cancellation or the
   sweeper never acts on a live claim.
2. The claim is committed before the warehouse is called: that is the write-ahead intent.
3. An attempt after the first may follow a call whose outcome nobody saw (a timeout, a worker
   killed mid-call), so it asks the warehouse for our keys first, all of the batch's in one
   ``find_many`` (a listing by creation window), and adopts what it finds.
4. Right before the write, claims the order has left (a cancellation) are dropped. Submit with
   the key ``od-<store>-<order>``; record each outcome in one transaction, on the locked rows:
   submitted, parked as ``rejected`` (the warehouse refused it), or a retry at a backoff time
   (the sweeper parks it as ``failed`` once the attempts run out). A submission that lands late
   all the same is adopted: a failed order becomes submitted, a cancelled one is cancelled.
5. What follows (the history note, the move to "In Process", the retry) is declared in that
   same transaction and published once it commits.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import pydantic
import structlog
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from bridge.backends import errors as backend_errors
from bridge.backends.base import LookupHints, WarehouseBackend
from bridge.backends.fulfillment import Unfulfillable, to_fulfillment_order
from bridge.backends.models import FulfillmentOrder, RemoteRef
from bridge.db import session_scope
from bridge.history import EventKind, record, transition
from bridge.jobs import followups, queues
from bridge.jobs.retry import backoff_seconds, retry_after
from bridge.models import Order, OrderEvent, Store, utcnow
from bridge.orderdesk.payload import Order as OrderDeskOrder
from bridge.pipeline import naive, notes
from bridge.remote.errors import RemoteError
from bridge.settings import get_settings
from bridge.states import OrderState
from bridge.stores.context import StoreContext

log = structlog.get_logger(__name__)

ATTEMPT_MESSAGE = "submission attempt"

# The folder move waits this long for the rest of a burst: one move for all of its orders.
MOVE_DELAY_SECONDS = 2.0


@dataclass(frozen=True)
class Claim:
    id: int
    key: str
    order_number: str
    payload: dict
    attempts: int
    # An earlier attempt (perhaps before an operator's retry reset the count) may have
    # reached the warehouse unseen, so the warehouse is asked first.
    tried_before: bool
    # When the row was made: no attempt can have reached the warehouse before it.
    created_at: datetime


@dataclass(frozen=True)
class Accepted:
    ref: RemoteRef
    how: str


@dataclass(frozen=True)
class Refused:
    reason: str


@dataclass(frozen=True)
class TryAgain:
    error: Exception
    retry_after: float | None = None


@dataclass(frozen=True)
class Withdrawn:
    """The order left this claim before the warehouse call (a cancellation, the sweeper)."""

    state: str


Outcome = Accepted | Refused | TryAgain | Withdrawn


def _claimable(now: datetime) -> ColumnElement[bool]:
    settings = get_settings()
    fresh = Order.state == OrderState.RECEIVED.value
    overdue = (Order.state == OrderState.SUBMITTING.value) & (Order.next_attempt_at <= now)
    return (fresh | overdue) & (Order.attempts < settings.max_attempts)


def _burst_in_progress(store_id: int, window: float) -> bool:
    since = utcnow() - timedelta(seconds=max(window, 0.001) * 2)
    with session_scope() as session:
        arriving = session.scalar(
            select(func.count())
            .select_from(Order)
            .where(
                Order.store_id == store_id,
                Order.state == OrderState.RECEIVED.value,
                Order.created_at >= since,
            )
        )
    return (arriving or 0) > 1


def _claim(store_id: int, first_id: int, limit: int) -> list[Claim]:
    """Claim ``first_id`` and up to ``limit - 1`` other claimable orders of the store.

    All rows are locked in one statement, in id order, skipping rows another worker holds: two
    workers claiming overlapping bursts split them instead of each waiting for the other's rows.
    The claim condition is checked again under the lock, and every move goes through
    ``transition``.
    """
    settings = get_settings()
    now = utcnow()
    lease_until = now + timedelta(seconds=settings.submit_lease_seconds)
    claims: list[Claim] = []
    with session_scope() as session:
        # Shared lock: a pause (an UPDATE of this row) waits for the claim, and a claim after a
        # committed pause sees it and claims nothing.
        paused = session.scalar(
            select(Store.paused_at).where(Store.id == store_id).with_for_update(read=True)
        )
        if paused is not None:
            return claims
        # Overdue retries ride along with new orders: after a fault a whole batch is unclear,
        # and claimed together it is looked up at the warehouse together.
        others = (
            select(Order.id)
            .where(Order.store_id == store_id, Order.id != first_id, _claimable(now))
            .order_by(Order.id)
            .limit(max(limit - 1, 0))
        )
        orders = session.scalars(
            select(Order)
            .where((Order.id == first_id) | Order.id.in_(others), _claimable(now))
            .order_by(Order.id)
            .with_for_update(skip_locked=True)
        ).all()
        if not orders:
            return claims
        tried_before = set(
            session.scalars(
                select(OrderEvent.order_id).where(
                    OrderEvent.order_id.in_([order.id for order in orders]),
                    (OrderEvent.kind == EventKind.ATTEMPT)
                    | (OrderEvent.to_state == OrderState.SUBMITTING.value),
                )
            )
        )
        for order in orders:
            order.attempts += 1
            order.next_attempt_at = lease_until
            message = f"{ATTEMPT_MESSAGE} {order.attempts}"
            if order.state == OrderState.RECEIVED.value:
                transition(session, order, OrderState.SUBMITTING, message, attempt=order.attempts)
            else:
                record(session, order, EventKind.ATTEMPT, message, attempt=order.attempts)
            claims.append(
                Claim(
                    order.id,
                    order.idempotency_key,
                    order.order_number,
                    order.payload,
                    order.attempts,
                    order.id in tried_before,
                    order.created_at,
                )
            )
    return claims


def _classify(error: RemoteError) -> Outcome:
    if isinstance(error, backend_errors.DuplicateOrder) and error.existing is not None:
        return Accepted(error.existing.ref, "already at the warehouse (duplicate refused)")
    if isinstance(error, backend_errors.ValidationError):
        return Refused(f"the warehouse refused the order: {error}")
    return TryAgain(error, retry_after=retry_after(error))


def _prepare(
    claims: list[Claim],
) -> tuple[dict[int, Outcome], list[tuple[Claim, FulfillmentOrder]]]:
    outcomes: dict[int, Outcome] = {}
    ready: list[tuple[Claim, FulfillmentOrder]] = []
    for claim in claims:
        try:
            ready.append(
                (claim, to_fulfillment_order(OrderDeskOrder.model_validate(claim.payload)))
            )
        except Unfulfillable as exc:
            outcomes[claim.id] = Refused(str(exc))
        except pydantic.ValidationError as exc:
            outcomes[claim.id] = Refused(
                f"the stored order cannot be read: {exc.error_count()} errors"
            )
    return outcomes, ready


def _look_up_earlier_attempts(
    backend: WarehouseBackend,
    ready: list[tuple[Claim, FulfillmentOrder]],
    outcomes: dict[int, Outcome],
) -> list[tuple[Claim, FulfillmentOrder]]:
    """Adopt orders an earlier, unobserved attempt already created; return the rest.

    All of the batch's unclear orders are asked about in one ``find_many``: a backend that can
    list reads them by the batch's creation window, a page for hundreds of orders, instead of
    one call each (after a fault, a whole batch is unclear at once).
    """
    unclear = [claim for claim, _ in ready if claim.tried_before]
    if not unclear:
        return ready
    hints = LookupHints(
        order_numbers={claim.key: claim.order_number for claim in unclear},
        created_after=min(claim.created_at for claim in unclear),
    )
    try:
        found = backend.find_many([claim.key for claim in unclear], hints)
    except RemoteError as exc:
        for claim in unclear:
            outcomes[claim.id] = _classify(exc)
        return [(claim, order) for claim, order in ready if not claim.tried_before]
    remaining = []
    for claim, order in ready:
        if claim.key in found:
            outcomes[claim.id] = Accepted(
                found[claim.key].ref, "found at the warehouse after an unclear attempt"
            )
        else:
            remaining.append((claim, order))
    return remaining


def _withdraw_lost_claims(
    ready: list[tuple[Claim, FulfillmentOrder]], outcomes: dict[int, Outcome]
) -> list[tuple[Claim, FulfillmentOrder]]:
    """Just before the warehouse write, keep only the claims that are still ours.

    The claim may be minutes old (rate-limit waits, look-ups): an order cancelled in Order Desk
    meanwhile must not be created at the warehouse now.
    """
    if not ready:
        return ready
    with session_scope() as session:
        current = {
            row.id: (row.state, row.attempts)
            for row in session.execute(
                select(Order.id, Order.state, Order.attempts).where(
                    Order.id.in_([claim.id for claim, _ in ready])
                )
            )
        }
    remaining = []
    for claim, order in ready:
        state, attempts = current[claim.id]
        if state == OrderState.SUBMITTING.value and attempts == claim.attempts:
            remaining.append((claim, order))
        else:
            outcomes[claim.id] = Withdrawn(state)
    return remaining


def _send(
    backend: WarehouseBackend,
    ready: list[tuple[Claim, FulfillmentOrder]],
    outcomes: dict[int, Outcome],
) -> None:
    if not ready:
        return
    if len(ready) > 1 and backend.capabilities().bulk_submit_max > 1:
        try:
            results = backend.submit_many([(order, claim.key) for claim, order in ready])
        except RemoteError as exc:
            for claim, _ in ready:
                outcomes[claim.id] = _classify(exc)
            return
        for (claim, _), result in zip(ready, results, strict=True):
            if result.error is not None:
                outcomes[claim.id] = _classify(result.error)
            elif result.ref is not None:
                outcomes[claim.id] = Accepted(result.ref, "accepted in a bulk submission")
        return
    for claim, order in ready:
        try:
            result = backend.submit(order, claim.key)
        except RemoteError as exc:
            outcomes[claim.id] = _classify(exc)
        else:
            outcomes[claim.id] = Accepted(result.ref, "accepted")


def _record(context: StoreContext, claims: list[Claim], outcomes: dict[int, Outcome]) -> None:
    """Write each outcome under the row lock (rows locked in id order), deciding on fresh state.

    What follows each outcome is declared in the same transaction, published once it commits.
    """
    settings = get_settings()
    now = utcnow()
    by_id = {claim.id: claim for claim in claims}
    with session_scope() as session:
        orders = session.scalars(
            select(Order).where(Order.id.in_(by_id)).order_by(Order.id).with_for_update()
        ).all()
        for order in orders:
            claim = by_id[order.id]
            outcome = outcomes.get(order.id) or TryAgain(RuntimeError("no outcome recorded"))
            if isinstance(outcome, Accepted):
                _accepted(session, context, order, outcome)
            elif not _still_ours(order, claim) or isinstance(outcome, Withdrawn):
                _moved_on(session, order, claim, outcome)
            elif isinstance(outcome, Refused):
                order.reason = outcome.reason
                order.next_attempt_at = None
                transition(session, order, OrderState.REJECTED, outcome.reason)
                followups.later(session, queues.PARK_IN_ORDERDESK, order.id)
            else:
                error = outcome.error
                order.last_error = f"{type(error).__name__}: {error}"[:2000]
                if order.attempts >= settings.max_attempts:
                    order.next_attempt_at = None
                    transition(
                        session,
                        order,
                        OrderState.FAILED,
                        f"gave up after {order.attempts} attempts; last error: {error}",
                    )
                    notes.later(session, order.id, notes.NoteKind.FAILED)
                    continue
                delay = backoff_seconds(order.attempts, retry_after=outcome.retry_after)
                order.next_attempt_at = now + timedelta(seconds=delay)
                record(
                    session,
                    order,
                    EventKind.ERROR,
                    f"attempt {order.attempts} failed, next try in {delay:.0f}s: {error}",
                    error=type(error).__name__,
                )
                followups.later(session, queues.SUBMIT_ORDER, order.id, countdown=delay)


def _still_ours(order: Order, claim: Claim) -> bool:
    return order.state == OrderState.SUBMITTING.value and order.attempts == claim.attempts


def _moved_on(session: Session, order: Order, claim: Claim, outcome: Outcome) -> None:
    """The order left this claim while the attempt ran: note what it saw, leave the state alone.

    When nothing reached the warehouse and a cancellation waits for this claim's lease, the
    lease is dropped so the cancellation goes ahead now.
    """
    if isinstance(outcome, Withdrawn):
        seen = f"not sent: the order became {outcome.state} before the warehouse call"
    elif isinstance(outcome, Refused):
        seen = f"refused by the warehouse after the order became {order.state}: {outcome.reason}"
    else:
        seen = f"ended unclear after the order became {order.state}: {outcome.error}"
    record(
        session,
        order,
        EventKind.ATTEMPT,
        f"attempt {claim.attempts} {seen}",
        attempt=claim.attempts,
    )
    nothing_sent = isinstance(outcome, Withdrawn | Refused)
    if (
        nothing_sent
        and order.state == OrderState.CANCEL_REQUESTED.value
        and order.attempts == claim.attempts
    ):
        order.next_attempt_at = None
        followups.later(session, queues.CANCEL_ORDER, order.id)


def _accepted(session: Session, context: StoreContext, order: Order, outcome: Accepted) -> None:
    """Adopt the warehouse's order whatever happened to ours meanwhile.

    A submission may land after its lease ran out (a worker pool that cannot stop tasks, a
    stalled clock): an order the sweeper marked failed is submitted after all; one cancelled,
    or waiting to be, is cancelled at the warehouse at once.
    """
    ref = outcome.ref.remote_id
    order.warehouse_ref = ref
    order.last_error = None
    order.next_attempt_at = None
    message = f"{outcome.how} by {context.backend_name} as {ref}"
    state = OrderState(order.state)
    if state in (OrderState.SUBMITTING, OrderState.FAILED):
        if state is OrderState.FAILED:
            message += " (the submission landed after the order was marked failed)"
        transition(session, order, OrderState.SUBMITTED, message, warehouse_ref=ref)
        late = state is OrderState.FAILED
        notes.later(
            session, order.id, notes.NoteKind.SUBMITTED_LATE if late else notes.NoteKind.SUBMITTED
        )
        followups.later(session, queues.MOVE_IN_PROCESS, context.id, countdown=MOVE_DELAY_SECONDS)
    elif state in (OrderState.CANCEL_REQUESTED, OrderState.CANCELLED):
        when = "was cancelled" if state is OrderState.CANCELLED else "had a cancellation pending"
        record(
            session,
            order,
            EventKind.LATE_SUBMISSION,
            f"{message} after the order {when}: cancelling it at the warehouse now",
            warehouse_ref=ref,
        )
        log.warning("late_submission", order_row=order.id, state=state.value, warehouse_ref=ref)
        followups.later(session, queues.CANCEL_ORDER, order.id)
    else:
        record(session, order, EventKind.SUBMITTED, message, warehouse_ref=ref)


def submit_order(order_id: int) -> int:
    """Submit ``order_id`` (and, in bulk, its waiting neighbours); return how many were claimed."""
    settings = get_settings()
    with session_scope() as session:
        order = session.get(Order, order_id)
        if order is None:
            log.warning("submit_unknown_order", order_row=order_id)
            return 0
        store_id = order.store_id
    context = StoreContext.load(store_id)
    if not context.active:
        log.info(
            "submit_skipped_inactive_store", order_row=order_id, store=context.orderdesk_store_id
        )
        return 0
    if context.paused:
        log.info("submit_held_paused_store", order_row=order_id, store=context.orderdesk_store_id)
        return 0
    batch_size = naive.per_call(context.capabilities.bulk_submit_max)
    if (
        batch_size > 1
        and settings.submit_linger_seconds
        and _burst_in_progress(store_id, settings.submit_linger_seconds)
    ):
        time.sleep(settings.submit_linger_seconds)
    claims = _claim(store_id, order_id, batch_size)
    if not claims:
        return 0
    outcomes, ready = _prepare(claims)
    with context.backend() as backend:
        ready = _look_up_earlier_attempts(backend, ready, outcomes)
        _send(backend, _withdraw_lost_claims(ready, outcomes), outcomes)
    _record(context, claims, outcomes)
    log.info(
        "submitted",
        store=context.orderdesk_store_id,
        claimed=len(claims),
        accepted=sum(isinstance(o, Accepted) for o in outcomes.values()),
        refused=sum(isinstance(o, Refused) for o in outcomes.values()),
        retrying=sum(isinstance(o, TryAgain) for o in outcomes.values()),
        withdrawn=sum(isinstance(o, Withdrawn) for o in outcomes.values()),
    )
    return len(claims)
