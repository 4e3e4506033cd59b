"""Fetching one order from Order Desk by hand, for a webhook Order Desk gave up on.

The order is read with the store's own key and taken through the intake's trusted path
(``bridge.intake.trusted``), exactly as reconciliation takes the orders it finds: the same
decisions as a webhook (duplicate, refresh, parked, cancel folder, accepted), the same row, the
same submit message once the transaction commits. An order the bridge already holds answers
``duplicate`` ("already here") and is left as it is, unless Order Desk's copy is newer, which
refreshes it as a re-sent webhook would.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import structlog

from bridge.db import session_scope
from bridge.history import EventKind, record
from bridge.intake import trusted
from bridge.intake.result import DUPLICATE
from bridge.jobs import followups
from bridge.models import Order
from bridge.ops.operations import OperationError
from bridge.orderdesk.webhook import BadPayload, parse_order
from bridge.remote.errors import RemoteError
from bridge.stores.context import StoreContext
from bridge.stores.registry import StoreError, StoreRegistry

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class FetchResult:
    """What the intake decided for the fetched order (``outcome`` is an intake outcome)."""

    store_id: str
    orderdesk_order_id: str
    outcome: str
    inserted: bool
    order_row_id: int | None
    state: str | None
    reason: str

    @property
    def already_here(self) -> bool:
        return self.outcome == DUPLICATE


def fetch_order(orderdesk_store_id: str, orderdesk_order_id: str, actor: str) -> FetchResult:
    """Read the order from Order Desk and take it in; ``OperationError`` says why not."""
    wanted = str(orderdesk_order_id).strip()
    if not wanted:
        raise OperationError("give the Order Desk order id to fetch")
    with session_scope() as session:
        try:
            store = StoreRegistry(session).get(orderdesk_store_id)
        except StoreError as exc:
            raise OperationError(str(exc)) from None
        if not store.active:
            raise OperationError(f"store {store.orderdesk_store_id} is disabled")
        context = StoreContext.from_row(session, store)
    try:
        with context.orderdesk() as client:
            raw = client.get_order_data(wanted)
    except RemoteError as exc:
        raise OperationError(f"Order Desk did not give order {wanted}: {exc}") from None
    try:
        parsed = parse_order(json.dumps(raw))
    except BadPayload as exc:
        raise OperationError(f"Order Desk's order {wanted} cannot be taken in: {exc}") from None
    if parsed.order.id != wanted:
        raise OperationError(
            f"Order Desk answered with order {parsed.order.id} when asked for {wanted}"
        )
    with session_scope() as session:
        store = StoreRegistry(session).get(context.orderdesk_store_id)
        taken = trusted.take_trusted(session, store, parsed)
        result = taken.result
        state = None
        if result.order_row_id is not None:
            order = session.get_one(Order, result.order_row_id)
            if taken.inserted:
                record(
                    session,
                    order,
                    EventKind.RECOVERED,
                    f"fetched from Order Desk by {actor}: no webhook for it reached the bridge",
                    outcome=result.outcome,
                    actor=actor,
                )
            state = order.state
        for message in result.follow_ups:
            followups.later(session, message.task, *message.args, countdown=message.countdown)
    log.info(
        "order_fetched",
        store=context.orderdesk_store_id,
        order_id=wanted,
        outcome=result.outcome,
        inserted=taken.inserted,
        actor=actor,
    )
    return FetchResult(
        context.orderdesk_store_id,
        wanted,
        result.outcome,
        taken.inserted,
        result.order_row_id,
        state,
        result.reason,
    )
