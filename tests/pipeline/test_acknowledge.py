"""Acknowledging shipments to a warehouse whose feed lists what was not acknowledged (ShipBob):
only once Order Desk has every package of a shipment, and again when an acknowledgement was lost.
"""

from __future__ import annotations

import pytest

from bridge.pipeline.folders import move_in_process
from bridge.pipeline.poll import poll_warehouse
from bridge.pipeline.shipments import post_shipments
from bridge.sim.orderdesk import OrderDeskSimulator
from bridge.sim.warehouse import WarehouseSimulator
from tests.pipeline.conftest import STORE_ID, order_row
from tests.pipeline.support import key, od, submitted

pytestmark = pytest.mark.parametrize("warehouse_kind", ["shipbob"])
ACK = "/2026-01/shipment:batchUpdateTrackingUpload"


def uploaded(warehouse: WarehouseSimulator, order_id: int) -> list[bool]:
    """Each tracked shipment's "tracking uploaded" flag at the warehouse, in shipment order."""
    shipments = warehouse.order_by_key(key(order_id))["shipments"]
    return [s["is_tracking_uploaded"] for s in shipments if s["tracking"]]


def ship_three(warehouse: WarehouseSimulator, single: int, multi: int, partial: int) -> None:
    warehouse.ship(key(single))
    warehouse.ship(
        key(multi),
        packages=[
            {"lines": [{"sku": "MUG-TRL-SLT", "quantity": 2}]},
            {"lines": [{"sku": "TOTE-CNV-NAT", "quantity": 1}]},
        ],
    )
    warehouse.ship(key(partial), packages=[{"lines": [{"sku": "MUG-TRL-SLT", "quantity": 1}]}])


def test_acknowledged_only_after_orderdesk_has_the_packages(
    receive, orderdesk: OrderDeskSimulator, warehouse: WarehouseSimulator
) -> None:
    single, multi, partial = submitted(receive, 3)
    store_id = order_row(single).store_id
    move_in_process(store_id)
    ship_three(warehouse, single, multi, partial)

    assert poll_warehouse(store_id) == 4
    assert warehouse.calls("POST", ACK) == 0  # merged, not yet in Order Desk

    orderdesk.set_faults(error_rate=1.0, paths=["/batch-shipments"])
    assert post_shipments(store_id) == 0
    assert warehouse.calls("POST", ACK) == 0  # Order Desk did not take them: no acknowledgement
    orderdesk.clear_faults()

    assert post_shipments(store_id) == 4
    assert warehouse.calls("POST", ACK) == 1  # one batch call for all four
    assert uploaded(warehouse, single) == [True]
    assert uploaded(warehouse, multi) == [True, True]
    assert uploaded(warehouse, partial) == [True]

    # The feed now lists nothing; the rest of the partial order brings it back once.
    assert poll_warehouse(store_id) == 0
    warehouse.ship(key(partial))
    assert poll_warehouse(store_id) == 1
    assert uploaded(warehouse, partial) == [True, False]
    assert post_shipments(store_id) == 1
    assert uploaded(warehouse, partial) == [True, True]
    assert warehouse.calls("POST", ACK) == 2
    assert len(orderdesk.shipments(STORE_ID, od(partial))) == 2


def test_a_lost_acknowledgement_is_sent_again_by_the_next_poll(
    receive, orderdesk: OrderDeskSimulator, warehouse: WarehouseSimulator
) -> None:
    single, multi, partial = submitted(receive, 3)
    store_id = order_row(single).store_id
    move_in_process(store_id)
    ship_three(warehouse, single, multi, partial)
    assert poll_warehouse(store_id) == 4

    warehouse.set_faults(error_rate=1.0, paths=[ACK])
    assert post_shipments(store_id) == 4  # Order Desk has them; the acknowledgement failed
    assert warehouse.calls("POST", ACK) == 1
    assert uploaded(warehouse, multi) == [False, False]
    warehouse.clear_faults()

    assert poll_warehouse(store_id) == 0  # listed again, nothing new, acknowledged now
    assert warehouse.calls("POST", ACK) == 2
    assert all(
        uploaded(warehouse, o) == [True] * len(uploaded(warehouse, o))
        for o in (single, multi, partial)
    )
    assert poll_warehouse(store_id) == 0
    assert warehouse.calls("POST", ACK) == 2  # an empty feed costs no acknowledgement
    assert sum(len(orderdesk.shipments(STORE_ID, od(o))) for o in (single, multi, partial)) == 4


def test_a_void_after_acknowledgement_is_retracted_and_acknowledged_once(
    receive, orderdesk: OrderDeskSimulator, warehouse: WarehouseSimulator
) -> None:
    [order_id] = submitted(receive)
    store_id = order_row(order_id).store_id
    move_in_process(store_id)
    [shipment_id] = warehouse.ship(key(order_id))
    poll_warehouse(store_id)
    assert post_shipments(store_id) == 1
    assert warehouse.calls("POST", ACK) == 1
    assert len(orderdesk.shipments(STORE_ID, od(order_id))) == 1

    warehouse.void(shipment_id)  # ShipBob lists the changed shipment as not uploaded again
    assert uploaded(warehouse, order_id) == [False]
    assert poll_warehouse(store_id) == 0
    assert warehouse.calls("POST", ACK) == 2  # the void is recorded, so it is acknowledged
    assert uploaded(warehouse, order_id) == [True]
    post_shipments(store_id)
    assert orderdesk.shipments(STORE_ID, od(order_id)) == []  # retracted from our rows
    assert poll_warehouse(store_id) == 0
    assert warehouse.calls("POST", ACK) == 2
