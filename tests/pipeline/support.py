"""Shortcuts the pipeline step tests share: submitted orders and their keys and ids."""

from __future__ import annotations

from collections.abc import Callable

from bridge.db import session_scope
from bridge.history import transition
from bridge.models import HistoryNotes, Order, Store
from bridge.pipeline.submit import submit_order
from bridge.states import OrderState
from tests.pipeline.conftest import fixture_order, order_row


def submitted(receive: Callable[..., int], count: int = 1) -> list[int]:
    ids = [receive() for _ in range(count)]
    for order_id in ids:
        submit_order(order_id)
    return ids


def key(order_id: int) -> str:
    return order_row(order_id).idempotency_key


def od(order_id: int) -> str:
    return order_row(order_id).orderdesk_order_id


def rejected(receive: Callable[..., int], reason: str = "there is no ship-to address.") -> int:
    """An order parked as ``rejected`` (as intake parks one without a ship-to)."""
    order_id = receive(fixture_order("no-ship-to"))
    with session_scope() as session:
        order = session.get_one(Order, order_id)
        order.reason = reason
        transition(session, order, OrderState.REJECTED, reason)
    return order_id


def history_notes(store_id: int, policy: HistoryNotes) -> None:
    """Set the store's history-notes policy (``bridge stores update --history-notes``)."""
    with session_scope() as session:
        session.get_one(Store, store_id).history_notes = policy.value
