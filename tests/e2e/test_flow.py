"""Order Desk posts a batch to the intake; every order reaches the warehouse once, is moved to
"In Process", ships (single, multi-package, partial), and every package lands in Order Desk
exactly once, through real gunicorn, Celery worker and beat processes."""

from __future__ import annotations

import copy
import json
from collections import Counter
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select

from bridge.db import session_scope
from bridge.jobs import queues
from bridge.models import Order, OrderEvent, Shipment
from bridge.states import OrderState
from tests.e2e.conftest import API_KEY, STORE_ID, scaled
from tests.e2e.harness import wait_until

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def sample_orders(count: int) -> list[dict]:
    typical = json.loads((FIXTURES / "order-typical.json").read_text())
    international = json.loads((FIXTURES / "order-international.json").read_text())
    orders = []
    for n in range(count):
        order = copy.deepcopy(international if n % 5 == 4 else typical)
        order.pop("id", None)
        order["source_id"] = f"E2E-{n:05d}"
        order["shipping"]["first_name"] = f"Customer{n}"
        orders.append(order)
    return orders


def state_counts() -> Counter:
    with session_scope() as session:
        return Counter(
            dict(session.execute(select(Order.state, func.count()).group_by(Order.state)).all())
        )


def all_shipped(count: int) -> bool:
    return state_counts().get(OrderState.SHIPPED.value, 0) == count


def in_state(state: OrderState) -> int:
    return state_counts().get(state.value, 0)


def ship_everything(warehouse, keys: list[str]) -> list[str]:
    """Single parcels for most, two parcels for every 5th, half now for every 7th; returns the
    keys shipped partially."""
    partial = []
    for n, key in enumerate(keys):
        if n % 7 == 3:
            warehouse.ship(key, partial=True, carrier="usps")
            partial.append(key)
        elif n % 5 == 1:
            lines = warehouse.order_by_key(key)["lines"]
            warehouse.ship(
                key,
                carrier="fedex",
                packages=[
                    {"lines": [{"sku": ln["sku"], "quantity": ln["quantity"]}]} for ln in lines
                ],
            )
        else:
            warehouse.ship(key)
    return partial


@pytest.mark.slow
def test_batch_flows_from_orderdesk_to_warehouse_and_back(bridge, orderdesk, warehouse) -> None:
    count = scaled(50)
    bridge.start_web()
    bridge.start_worker()
    bridge.start_beat()
    flower = bridge.start_flower()
    orderdesk.configure_rule(
        STORE_ID, f"{bridge.web_url}/webhooks/orderdesk", retry_delays=[0.5] * 9
    )
    created = [orderdesk.create_order(STORE_ID, order) for order in sample_orders(count)]
    keys = [f"od-{STORE_ID}-{order['id']}" for order in created]
    deadline = 60 + count
    try:
        wait_until(lambda: in_state(OrderState.IN_PROCESS) == count, deadline, "all in process")
        partial = ship_everything(warehouse, keys)
        wait_until(
            lambda: (
                in_state(OrderState.PARTIALLY_SHIPPED) == len(partial)
                and in_state(OrderState.SHIPPED) == count - len(partial)
            ),
            deadline,
            "first packages in Order Desk",
        )
        for key in partial:
            warehouse.ship(key)
        wait_until(lambda: all_shipped(count), deadline, f"{count} orders shipped")
    except AssertionError:
        print(state_counts(), bridge.dump_logs())
        raise

    # Every order reached the warehouse exactly once.
    assert all(warehouse.order_by_key(key) for key in keys)
    assert len(warehouse.orders()) == count
    assert warehouse.create_calls == count

    # Every order was moved to "In Process" and every package posted exactly once.
    with session_scope() as session:
        rows = session.scalars(select(Shipment)).all()
        by_order = {o.id: o.orderdesk_order_id for o in session.scalars(select(Order))}
        partial_orders = session.scalar(
            select(func.count(func.distinct(OrderEvent.order_id))).where(
                OrderEvent.to_state == OrderState.PARTIALLY_SHIPPED.value
            )
        )
    multi_package_orders = 0
    for order in created:
        od_id = str(order["id"])
        history = orderdesk.history(STORE_ID, od_id)
        assert any("In Process" in (h.get("note") or "") for h in history) or (
            orderdesk.folder_name_of(STORE_ID, od_id) == "In Process"
        )
        in_od = orderdesk.shipments(STORE_ID, od_id)
        ours = [r for r in rows if by_order[r.order_id] == od_id]
        assert sorted(s["tracking_number"] for s in in_od) == sorted(
            r.tracking_number for r in ours
        )
        assert len({s["tracking_number"] for s in in_od}) == len(in_od)  # no package twice
        assert all(s["carrier_code"] and s["shipment_method"] for s in in_od)
        multi_package_orders += len(in_od) > 1
    assert all(orderdesk.folder_name_of(STORE_ID, str(o["id"])) == "In Process" for o in created)
    assert partial_orders > 0 and multi_package_orders > 0  # the mix really was mixed

    # Batching: far fewer Order Desk calls than orders for moves and shipments, and no 429.
    moves = orderdesk.calls("POST", "/move-orders")
    batches = orderdesk.calls("POST", "/batch-shipments")
    total = len(orderdesk.request_log)
    print(
        f"\n{count} orders: {total} Order Desk calls ({total / count:.2f} per order), "
        f"move-orders {moves}, batch-shipments {batches}, 429s {orderdesk.count_429}"
    )
    assert moves < count / 3 and batches < count / 3
    assert orderdesk.count_429 == 0

    # Flower shows the tasks by name, with row ids as their only arguments.
    tasks = requests.get(f"{flower}/api/tasks", params={"limit": 1000}, timeout=10).json()
    names = Counter(task["name"] for task in tasks.values())
    assert names[queues.SUBMIT_ORDER] >= count and names[queues.POLL_WAREHOUSE] >= 1
    for task in tasks.values():
        assert API_KEY not in json.dumps(task)
        if task["name"] == queues.SUBMIT_ORDER:
            assert task["args"].strip("[]()").isdigit()
