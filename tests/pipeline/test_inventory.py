"""Inventory sync against both simulators over HTTP: what the merchant can still sell reaches
Order Desk, in batches, only when it changed, and only for stores that turned it on."""

from __future__ import annotations

import math

import pytest

from bridge.db import session_scope
from bridge.jobs import queues
from bridge.models import InventoryLevel, Store
from bridge.orderdesk.client import INVENTORY_BATCH_MAX
from bridge.pipeline.inventory import sync_inventory
from bridge.pipeline.sweep import schedule_polls
from bridge.sim.orderdesk import OrderDeskSimulator
from bridge.sim.warehouse import WarehouseSimulator
from bridge.stores.registry import StoreError, StoreRegistry
from tests.pipeline.conftest import STORE_ID
from tests.pipeline.support import rejected, submitted
from tests.pipeline.test_submit import queued_tasks

BATCH = "/batch-inventory-items"


def turn_on(interval: int | None = None) -> None:
    with session_scope() as session:
        StoreRegistry(session).update(
            STORE_ID, inventory_sync=True, inventory_interval_seconds=interval
        )


def stock(orderdesk: OrderDeskSimulator) -> dict[str, int]:
    return {item["code"]: int(item["stock"]) for item in orderdesk.inventory(STORE_ID)}


def stock_both(
    orderdesk: OrderDeskSimulator, warehouse: WarehouseSimulator, levels: dict[str, int]
) -> None:
    for sku, available in levels.items():
        orderdesk.add_inventory_item(STORE_ID, {"name": sku, "code": sku, "stock": 0})
        warehouse.set_inventory(sku, available)


def test_off_by_default_sends_nothing(store, orderdesk, warehouse) -> None:
    stock_both(orderdesk, warehouse, {"MUG-TRL-SLT": 17})
    result = sync_inventory(store)
    assert result.skipped == "inventory sync is off for this store"
    assert (result.sent, result.unchanged, result.refused) == (0, 0, 0)
    assert orderdesk.calls("PUT", BATCH) == 0
    assert stock(orderdesk) == {"MUG-TRL-SLT": 0}


def test_changed_levels_go_in_batches_and_unchanged_ones_cost_nothing(
    store, orderdesk, warehouse
) -> None:
    count = 2 * INVENTORY_BATCH_MAX + 17
    levels = {f"SKU-{n:04d}": n % 40 for n in range(count)}
    stock_both(orderdesk, warehouse, levels)
    turn_on()

    first = sync_inventory(store)
    assert (first.sent, first.unchanged, first.refused) == (count, 0, 0)
    assert orderdesk.calls("PUT", BATCH) == math.ceil(count / INVENTORY_BATCH_MAX) == 3
    assert stock(orderdesk) == levels

    again = sync_inventory(store)
    assert (again.sent, again.unchanged, again.refused) == (0, count, 0)
    assert orderdesk.calls("PUT", BATCH) == 3  # nothing changed: no Order Desk call at all

    warehouse.set_inventory("SKU-0007", 99)
    third = sync_inventory(store)
    assert (third.sent, third.unchanged) == (1, count - 1)
    assert orderdesk.calls("PUT", BATCH) == 4
    assert stock(orderdesk)["SKU-0007"] == 99


def test_units_of_orders_not_yet_at_the_warehouse_are_held_back(
    store, orderdesk, warehouse, receive
) -> None:
    # The fixture order has 2 x MUG-TRL-SLT and 1 x TOTE-CNV-NAT.
    stock_both(orderdesk, warehouse, {"MUG-TRL-SLT": 10, "TOTE-CNV-NAT": 1, "CAP-1": 5})
    submitted(receive)  # at the warehouse: its available stock already counts it
    receive()  # received: held by the bridge
    rejected(receive)  # parked: held by the bridge, still meant to ship
    turn_on()
    result = sync_inventory(store)
    assert result.sent == 3
    # 10 - 2 (received) - 2 (parked); the tote goes below zero and is sent as 0.
    assert stock(orderdesk) == {"MUG-TRL-SLT": 6, "TOTE-CNV-NAT": 0, "CAP-1": 5}


def test_a_refused_item_is_not_remembered_and_is_tried_again(store, orderdesk, warehouse) -> None:
    stock_both(orderdesk, warehouse, {"MUG-TRL-SLT": 4})
    warehouse.set_inventory("NOT-IN-ORDERDESK", 3)
    turn_on()
    first = sync_inventory(store)
    assert (first.sent, first.refused) == (1, 1)
    with session_scope() as session:
        remembered = {row.sku: row.level for row in session.query(InventoryLevel)}
    assert remembered == {"MUG-TRL-SLT": 4}
    second = sync_inventory(store)
    assert (second.sent, second.unchanged, second.refused) == (0, 1, 1)
    assert orderdesk.calls("PUT", BATCH) == 2


def test_beat_schedules_only_stores_that_turned_it_on(store, broker) -> None:
    schedule_polls()
    assert queues.SYNC_INVENTORY not in queued_tasks(broker, queues.QUEUE_POLL)
    turn_on(interval=600)
    with session_scope() as session:
        assert session.get_one(Store, store).inventory_interval_seconds == 600
    schedule_polls()
    schedule_polls()  # not due again within its interval
    assert queued_tasks(broker, queues.QUEUE_POLL).count(queues.SYNC_INVENTORY) == 1


def test_a_backend_without_stock_cannot_turn_it_on(store) -> None:
    with session_scope() as session:
        registry = StoreRegistry(session)
        registry.update(
            STORE_ID,
            backend="shipstation",
            backend_config={
                "base_url": "http://127.0.0.1:9",
                "api_key": "k",
                "api_secret": "s",
            },
        )
        with pytest.raises(StoreError, match="does not report stock levels"):
            registry.update(STORE_ID, inventory_sync=True)
        with pytest.raises(StoreError, match="at least 60 seconds"):
            registry.update(STORE_ID, inventory_interval_seconds=5)
