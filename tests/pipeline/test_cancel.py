"""Cancellation at the warehouse: before it was sent, in time, and too late."""

from __future__ import annotations

from bridge.db import session_scope
from bridge.history import transition
from bridge.models import Order
from bridge.pipeline.cancel import cancel_order
from bridge.pipeline.poll import poll_warehouse
from bridge.pipeline.shipments import post_shipments
from bridge.states import OrderState
from tests.pipeline.conftest import order_row
from tests.pipeline.support import key, submitted


def test_cancel_before_and_after_shipping(receive, orderdesk, warehouse) -> None:
    early, late = submitted(receive, 2)
    warehouse.ship(key(late))
    for order_id in (early, late):
        with session_scope() as session:
            transition(session, session.get(Order, order_id), OrderState.CANCEL_REQUESTED, "test")
    assert cancel_order(early) == "cancelled"
    assert order_row(early).state == OrderState.CANCELLED
    assert warehouse.order_by_key(key(early))["status"] == "cancelled"
    assert cancel_order(late) == "too_late"
    assert order_row(late).state == OrderState.CANCEL_REQUESTED
    store_id = order_row(late).store_id
    poll_warehouse(store_id)
    post_shipments(store_id)
    assert order_row(late).state == OrderState.SHIPPED


def test_cancel_of_an_order_never_sent(receive) -> None:
    order_id = receive()
    with session_scope() as session:
        transition(session, session.get(Order, order_id), OrderState.CANCEL_REQUESTED, "test")
    assert cancel_order(order_id) == "cancelled"
