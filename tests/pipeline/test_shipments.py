"""Polling the warehouse and posting its packages: batches, partial shipments, voided labels."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bridge.db import session_scope
from bridge.models import Shipment
from bridge.pipeline.folders import move_in_process
from bridge.pipeline.poll import poll_warehouse
from bridge.pipeline.shipments import post_shipments
from bridge.sim.orderdesk import OrderDeskSimulator
from bridge.sim.warehouse import WarehouseSimulator
from bridge.states import OrderState
from tests.pipeline.conftest import STORE_ID, order_row
from tests.pipeline.support import key, od, submitted


def test_ship_poll_post_single_multi_and_partial(
    receive, orderdesk: OrderDeskSimulator, warehouse: WarehouseSimulator
) -> None:
    single, multi, partial = submitted(receive, 3)
    store_id = order_row(single).store_id
    move_in_process(store_id)
    warehouse.ship(key(single))
    warehouse.ship(
        key(multi),
        packages=[
            {"lines": [{"sku": "MUG-TRL-SLT", "quantity": 2}]},
            {"lines": [{"sku": "TOTE-CNV-NAT", "quantity": 1}]},
        ],
    )
    warehouse.ship(key(partial), packages=[{"lines": [{"sku": "MUG-TRL-SLT", "quantity": 1}]}])

    assert poll_warehouse(store_id) == 4
    assert poll_warehouse(store_id) == 0  # the overlap re-read adds nothing
    orderdesk.reset_log()
    assert post_shipments(store_id) == 4
    assert orderdesk.calls("POST", "/batch-shipments") == 1
    assert post_shipments(store_id) == 0

    assert order_row(single).state == OrderState.SHIPPED
    assert order_row(multi).state == OrderState.SHIPPED
    assert order_row(partial).state == OrderState.PARTIALLY_SHIPPED
    assert len(orderdesk.shipments(STORE_ID, od(multi))) == 2
    [posted] = orderdesk.shipments(STORE_ID, od(single))
    assert posted["carrier_code"] == "UPS" and posted["tracking_number"].startswith("1Z")
    assert posted["shipment_method"]

    warehouse.ship(
        key(partial),
        packages=[
            {
                "lines": [
                    {"sku": "MUG-TRL-SLT", "quantity": 1},
                    {"sku": "TOTE-CNV-NAT", "quantity": 1},
                ]
            }
        ],
    )
    poll_warehouse(store_id)
    post_shipments(store_id)
    assert order_row(partial).state == OrderState.SHIPPED
    assert len(orderdesk.shipments(STORE_ID, od(partial))) == 2


def test_shipments_wait_for_the_move(receive, orderdesk, warehouse) -> None:
    [order_id] = submitted(receive)
    store_id = order_row(order_id).store_id
    warehouse.ship(key(order_id))
    poll_warehouse(store_id)
    assert post_shipments(store_id) == 0
    assert orderdesk.shipments(STORE_ID, od(order_id)) == []
    move_in_process(store_id)  # a move is followed by a post of what waited
    assert post_shipments(store_id) == 1


@pytest.mark.parametrize("warehouse_kind", ["shipstation"])
def test_voided_label_is_retracted_from_orderdesk(receive, orderdesk, warehouse) -> None:
    [order_id] = submitted(receive)
    store_id = order_row(order_id).store_id
    move_in_process(store_id)
    [label] = warehouse.ship(key(order_id))
    poll_warehouse(store_id)
    post_shipments(store_id)
    assert len(orderdesk.shipments(STORE_ID, od(order_id))) == 1
    warehouse.void(label)
    poll_warehouse(store_id)
    post_shipments(store_id)
    assert orderdesk.shipments(STORE_ID, od(order_id)) == []
    with session_scope() as session:
        row = session.scalars(select(Shipment)).one()
        assert row.voided and row.retracted_at is not None

    # The warehouse prints a replacement label: it reaches Order Desk although the order is shipped.
    warehouse.ship(key(order_id))
    poll_warehouse(store_id)
    assert post_shipments(store_id) == 1
    [replacement] = orderdesk.shipments(STORE_ID, od(order_id))
    assert replacement["tracking_number"] != row.tracking_number
    assert order_row(order_id).state == OrderState.SHIPPED
