"""A parked order: the merchant gets a note and finds it in the error folder."""

from __future__ import annotations

from bridge.db import session_scope
from bridge.history import transition
from bridge.models import Order
from bridge.pipeline.parking import park_in_orderdesk
from bridge.states import OrderState
from tests.pipeline.conftest import STORE_ID, fixture_order
from tests.pipeline.support import od


def test_parked_order_gets_a_note_and_the_error_folder(receive, orderdesk) -> None:
    order_id = receive(fixture_order("no-ship-to"))
    with session_scope() as session:
        order = session.get(Order, order_id)
        order.reason = "there is no ship-to address."
        transition(session, order, OrderState.REJECTED, order.reason)
    park_in_orderdesk(order_id)
    assert orderdesk.folder_name_of(STORE_ID, od(order_id)) == "Prepared"
    assert any("ship-to" in h["note"] for h in orderdesk.history(STORE_ID, od(order_id)))
