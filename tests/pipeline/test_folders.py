"""The move to "In Process": one call per store for a burst of submitted orders."""

from __future__ import annotations

from bridge.pipeline.folders import move_in_process
from bridge.sim.orderdesk import OrderDeskSimulator
from bridge.states import OrderState
from tests.pipeline.conftest import STORE_ID, order_row
from tests.pipeline.support import od, submitted


def test_moves_are_batched_per_store(receive, orderdesk: OrderDeskSimulator) -> None:
    ids = submitted(receive, 5)
    orderdesk.reset_log()
    assert move_in_process(order_row(ids[0]).store_id) == 5
    assert orderdesk.calls("POST", "/move-orders") == 1
    for order_id in ids:
        assert order_row(order_id).state == OrderState.IN_PROCESS
        assert orderdesk.folder_name_of(STORE_ID, od(order_id)) == "In Process"
    assert move_in_process(order_row(ids[0]).store_id) == 0
