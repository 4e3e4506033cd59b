"""Moves, polling, shipment posting, voids, cancels and the sweeper, step by step."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bridge.db import session_scope
from bridge.history import transition
from bridge.jobs import queues
from bridge.models import Order, OrderEvent, Shipment, utcnow
from bridge.pipeline.cancel import cancel_order
from bridge.pipeline.inventory import sync_inventory
from bridge.pipeline.orderdesk_sync import (
    add_history_note,
    move_in_process,
    park_in_orderdesk,
    post_shipments,
)
from bridge.pipeline.poll import poll_warehouse
from bridge.pipeline.submit import submit_order
from bridge.pipeline.sweep import schedule_polls, sweep
from bridge.sim.orderdesk import OrderDeskSimulator
from bridge.sim.warehouse import WarehouseSimulator
from bridge.states import OrderState
from tests.conftest import reset_caches
from tests.pipeline.conftest import STORE_ID, fixture_order, order_row
from tests.pipeline.test_submit import queued_tasks


def _submitted(receive, count: int = 1) -> list[int]:
    ids = [receive() for _ in range(count)]
    for order_id in ids:
        submit_order(order_id)
    return ids


def _key(order_id: int) -> str:
    return order_row(order_id).idempotency_key


def _od(order_id: int) -> str:
    return order_row(order_id).orderdesk_order_id


def test_moves_are_batched_per_store(receive, orderdesk: OrderDeskSimulator) -> None:
    ids = _submitted(receive, 5)
    orderdesk.reset_log()
    assert move_in_process(order_row(ids[0]).store_id) == 5
    assert orderdesk.calls("POST", "/move-orders") == 1
    for order_id in ids:
        assert order_row(order_id).state == OrderState.IN_PROCESS
        assert orderdesk.folder_name_of(STORE_ID, _od(order_id)) == "In Process"
    assert move_in_process(order_row(ids[0]).store_id) == 0


def test_ship_poll_post_single_multi_and_partial(
    receive, orderdesk: OrderDeskSimulator, warehouse: WarehouseSimulator
) -> None:
    single, multi, partial = _submitted(receive, 3)
    store_id = order_row(single).store_id
    move_in_process(store_id)
    warehouse.ship(_key(single))
    warehouse.ship(
        _key(multi),
        packages=[
            {"lines": [{"sku": "MUG-TRL-SLT", "quantity": 2}]},
            {"lines": [{"sku": "TOTE-CNV-NAT", "quantity": 1}]},
        ],
    )
    warehouse.ship(_key(partial), packages=[{"lines": [{"sku": "MUG-TRL-SLT", "quantity": 1}]}])

    assert poll_warehouse(store_id) == 4
    assert poll_warehouse(store_id) == 0  # the overlap re-read adds nothing
    orderdesk.reset_log()
    assert post_shipments(store_id) == 4
    assert orderdesk.calls("POST", "/batch-shipments") == 1
    assert post_shipments(store_id) == 0

    assert order_row(single).state == OrderState.SHIPPED
    assert order_row(multi).state == OrderState.SHIPPED
    assert order_row(partial).state == OrderState.PARTIALLY_SHIPPED
    assert len(orderdesk.shipments(STORE_ID, _od(multi))) == 2
    [posted] = orderdesk.shipments(STORE_ID, _od(single))
    assert posted["carrier_code"] == "UPS" and posted["tracking_number"].startswith("1Z")
    assert posted["shipment_method"]

    warehouse.ship(
        _key(partial),
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
    assert len(orderdesk.shipments(STORE_ID, _od(partial))) == 2


def test_shipments_wait_for_the_move(receive, orderdesk, warehouse) -> None:
    [order_id] = _submitted(receive)
    store_id = order_row(order_id).store_id
    warehouse.ship(_key(order_id))
    poll_warehouse(store_id)
    assert post_shipments(store_id) == 0
    assert orderdesk.shipments(STORE_ID, _od(order_id)) == []
    move_in_process(store_id)  # a move is followed by a post of what waited
    assert post_shipments(store_id) == 1


@pytest.mark.parametrize("warehouse_kind", ["shipstation"])
def test_voided_label_is_retracted_from_orderdesk(receive, orderdesk, warehouse) -> None:
    [order_id] = _submitted(receive)
    store_id = order_row(order_id).store_id
    move_in_process(store_id)
    [label] = warehouse.ship(_key(order_id))
    poll_warehouse(store_id)
    post_shipments(store_id)
    assert len(orderdesk.shipments(STORE_ID, _od(order_id))) == 1
    warehouse.void(label)
    poll_warehouse(store_id)
    post_shipments(store_id)
    assert orderdesk.shipments(STORE_ID, _od(order_id)) == []
    with session_scope() as session:
        row = session.scalars(select(Shipment)).one()
        assert row.voided and row.retracted_at is not None

    # The warehouse prints a replacement label: it reaches Order Desk although the order is shipped.
    warehouse.ship(_key(order_id))
    poll_warehouse(store_id)
    assert post_shipments(store_id) == 1
    [replacement] = orderdesk.shipments(STORE_ID, _od(order_id))
    assert replacement["tracking_number"] != row.tracking_number
    assert order_row(order_id).state == OrderState.SHIPPED


def test_history_notes_are_written_once(receive, orderdesk) -> None:
    [order_id] = _submitted(receive)
    assert add_history_note(order_id, "submitted") is True
    assert add_history_note(order_id, "submitted") is False
    notes = [h["note"] for h in orderdesk.history(STORE_ID, _od(order_id))]
    assert len([n for n in notes if "sent this order to the warehouse" in n]) == 1
    assert order_row(order_id).warehouse_ref in notes[-1]


def test_parked_order_gets_a_note_and_the_error_folder(receive, orderdesk) -> None:
    order_id = receive(fixture_order("no-ship-to"))
    with session_scope() as session:
        order = session.get(Order, order_id)
        order.reason = "there is no ship-to address."
        transition(session, order, OrderState.REJECTED, order.reason)
    park_in_orderdesk(order_id)
    assert orderdesk.folder_name_of(STORE_ID, _od(order_id)) == "Prepared"
    assert any("ship-to" in h["note"] for h in orderdesk.history(STORE_ID, _od(order_id)))


def test_cancel_before_and_after_shipping(receive, orderdesk, warehouse) -> None:
    early, late = _submitted(receive, 2)
    warehouse.ship(_key(late))
    for order_id in (early, late):
        with session_scope() as session:
            transition(session, session.get(Order, order_id), OrderState.CANCEL_REQUESTED, "test")
    assert cancel_order(early) == "cancelled"
    assert order_row(early).state == OrderState.CANCELLED
    assert warehouse.order_by_key(_key(early))["status"] == "cancelled"
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


def test_sweeper_resends_overdue_work_and_parks_exhausted_orders(
    receive, warehouse, broker, bridge_env
) -> None:
    bridge_env.setenv("BRIDGE_SWEEP_GRACE_SECONDS", "0")
    bridge_env.setenv("BRIDGE_MAX_ATTEMPTS", "2")
    reset_caches()
    forgotten = receive()  # its message was lost
    exhausted = receive()
    with session_scope() as session:
        order = session.get(Order, exhausted)
        transition(session, order, OrderState.SUBMITTING, "claimed")
        order.attempts = 2
        order.next_attempt_at = utcnow() - timedelta(seconds=1)
        order.last_error = "TransientError: HTTP 503"
        session.get(Order, forgotten).updated_at = utcnow() - timedelta(seconds=5)
    report = sweep()
    assert report.resubmitted == 1 and report.failed == 1
    assert order_row(exhausted).state == OrderState.FAILED
    assert "HTTP 503" in order_row(exhausted).last_error
    assert queued_tasks(broker, queues.QUEUE_INTAKE) == [queues.SUBMIT_ORDER]
    assert order_row(forgotten).enqueued_at is not None
    with session_scope() as session:
        kinds = session.scalars(
            select(OrderEvent.to_state).where(OrderEvent.order_id == exhausted)
        ).all()
    assert OrderState.FAILED in kinds


def test_schedule_polls_enqueues_due_stores_once(store, broker) -> None:
    assert schedule_polls() == [store]
    assert schedule_polls() == []
    assert sorted(queued_tasks(broker, queues.QUEUE_POLL)) == [
        queues.POLL_WAREHOUSE,
        queues.SYNC_INVENTORY,  # the simulated warehouse reports stock: once per interval
    ]


def test_inventory_levels_reach_orderdesk(store, orderdesk, warehouse) -> None:
    orderdesk.add_inventory_item(STORE_ID, {"name": "Trail Mug", "code": "MUG-TRL-SLT", "stock": 0})
    warehouse.set_inventory("MUG-TRL-SLT", 17)
    warehouse.set_inventory("NOT-IN-ORDERDESK", 3)
    assert sync_inventory(store) == 1
    [item] = orderdesk.inventory(STORE_ID)
    assert int(item["stock"]) == 17
