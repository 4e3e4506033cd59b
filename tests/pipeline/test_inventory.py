"""Stock levels from the warehouse reach the store's Order Desk inventory."""

from __future__ import annotations

from bridge.pipeline.inventory import sync_inventory
from tests.pipeline.conftest import STORE_ID


def test_inventory_levels_reach_orderdesk(store, orderdesk, warehouse) -> None:
    orderdesk.add_inventory_item(STORE_ID, {"name": "Trail Mug", "code": "MUG-TRL-SLT", "stock": 0})
    warehouse.set_inventory("MUG-TRL-SLT", 17)
    warehouse.set_inventory("NOT-IN-ORDERDESK", 3)
    assert sync_inventory(store) == 1
    [item] = orderdesk.inventory(STORE_ID)
    assert int(item["stock"]) == 17
