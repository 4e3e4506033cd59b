"""The move to "In Process": one call per store for a burst of submitted orders."""

from __future__ import annotations

from bridge.db import session_scope
from bridge.models import Store
from bridge.pipeline.folders import move_in_process
from bridge.pipeline.parking import park_in_orderdesk
from bridge.sim.orderdesk import OrderDeskSimulator
from bridge.states import OrderState
from bridge.stores.context import StoreContext
from tests.pipeline.conftest import STORE_ID, order_row
from tests.pipeline.support import od, rejected, submitted


def test_moves_are_batched_per_store(receive, orderdesk: OrderDeskSimulator) -> None:
    ids = submitted(receive, 5)
    orderdesk.reset_log()
    assert move_in_process(order_row(ids[0]).store_id) == 5
    assert orderdesk.calls("POST", "/move-orders") == 1
    for order_id in ids:
        assert order_row(order_id).state == OrderState.IN_PROCESS
        assert orderdesk.folder_name_of(STORE_ID, od(order_id)) == "In Process"
    assert move_in_process(order_row(ids[0]).store_id) == 0


def test_the_store_rows_folder_cache_is_the_one_every_step_reads(
    receive, orderdesk: OrderDeskSimulator
) -> None:
    """A folder id Order Desk gave one step is written to the store row; the next step asks
    nobody, and intake sees the same ids."""
    [order_id] = submitted(receive)
    parked = rejected(receive)
    store_id = order_row(order_id).store_id
    assert StoreContext.load(store_id).folders == {}
    orderdesk.reset_log()

    move_in_process(store_id)
    assert orderdesk.calls("GET", "/store") == 1
    with session_scope() as session:
        cached = session.get_one(Store, store_id).orderdesk_folders
    assert cached["In Process"] == "21656" and "Prepared" in cached

    park_in_orderdesk(parked)  # the error folder's id comes from the row, not from Order Desk
    assert orderdesk.folder_name_of(STORE_ID, od(parked)) == "Prepared"
    assert orderdesk.calls("GET", "/store") == 1


def test_a_folder_created_since_the_cache_was_filled_is_looked_up_once(
    receive, orderdesk: OrderDeskSimulator
) -> None:
    [order_id] = submitted(receive)
    store_id = order_row(order_id).store_id
    with session_scope() as session:  # a stale cache: "In Process" was not there yet
        session.get_one(Store, store_id).orderdesk_folders = {"New": "21654"}
    orderdesk.reset_log()
    assert move_in_process(store_id) == 1
    assert orderdesk.calls("GET", "/store") == 1
    assert StoreContext.load(store_id).folders["In Process"] == 21656
