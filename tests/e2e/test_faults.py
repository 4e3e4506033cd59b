"""Idempotency under faults, with the bridge running as real processes.

Each test breaks one thing the pipeline must survive and then checks the invariant that
matters: every order reached the warehouse exactly once and still ends where it should.
"""

from __future__ import annotations

import signal
import time

import pytest
import redis
from sqlalchemy import select

from bridge.db import session_scope
from bridge.jobs import handoff
from bridge.models import Order, OrderEvent
from bridge.states import OrderState
from tests.e2e.conftest import STORE_ID, scaled
from tests.e2e.harness import wait_until
from tests.e2e.test_flow import all_shipped, in_state, sample_orders, state_counts

pytestmark = pytest.mark.slow


def start(bridge, orderdesk, *, worker: bool = True) -> None:
    bridge.start_web()
    if worker:
        bridge.start_worker()
        bridge.start_beat()
    orderdesk.configure_rule(
        STORE_ID, f"{bridge.web_url}/webhooks/orderdesk", retry_delays=[0.5] * 9
    )


def post(orderdesk, count: int, **shipping: str) -> list[str]:
    keys = []
    for order in sample_orders(count):
        order["shipping"].update(shipping)
        created = orderdesk.create_order(STORE_ID, order)
        keys.append(f"od-{STORE_ID}-{created['id']}")
    return keys


def finish(bridge, count: int, timeout: float = 90) -> None:
    try:
        wait_until(lambda: all_shipped(count), timeout, f"{count} orders shipped")
    except AssertionError:
        print(state_counts(), bridge.dump_logs())
        raise


def assert_exactly_once(warehouse, keys: list[str]) -> None:
    assert len(warehouse.orders()) == len(keys)
    assert all(warehouse.order_by_key(key) for key in keys)


def test_warehouse_timeout_after_storing_creates_no_duplicate(bridge, orderdesk, warehouse) -> None:
    count = scaled(6)
    warehouse.set_auto_ship(0.3)
    warehouse.set_faults(timeout_after_store=3, hang_seconds=5)  # the backend gives up after 2 s
    start(bridge, orderdesk)
    keys = post(orderdesk, count)
    finish(bridge, count)
    assert_exactly_once(warehouse, keys)
    assert warehouse.create_calls == count


def test_orderdesk_500s_for_a_while_then_work_resumes(bridge, orderdesk, warehouse) -> None:
    count = scaled(8)
    warehouse.set_auto_ship(0.3)
    orderdesk.set_faults(
        error_rate=1.0, error_status=500, paths=["/move-orders", "/batch-shipments", "/orders/"]
    )
    start(bridge, orderdesk)
    keys = post(orderdesk, count)
    wait_until(lambda: in_state(OrderState.SUBMITTED) == count, 60, "all submitted")
    assert in_state(OrderState.IN_PROCESS) == 0  # Order Desk is down for moves
    wait_until(lambda: orderdesk.calls("POST", "/move-orders") >= 2, 30, "moves to be retried")
    orderdesk.clear_faults()
    finish(bridge, count)
    assert_exactly_once(warehouse, keys)
    for key in keys:
        od_id = key.rsplit("-", 1)[1]
        shipments = orderdesk.shipments(STORE_ID, od_id)
        assert len(shipments) == 1


def test_worker_killed_mid_submit_still_submits_exactly_once(bridge, orderdesk, warehouse) -> None:
    warehouse.set_auto_ship(0.3)
    warehouse.set_faults(latency=3.0, paths=["/v1/orders"])
    start(bridge, orderdesk)
    [key] = post(orderdesk, 1)
    wait_until(lambda: in_state(OrderState.SUBMITTING) == 1, 30, "the submission to start")
    time.sleep(1.0)  # inside the warehouse's 3 s answer: the worker is mid-call
    bridge.procs["worker"].signal(signal.SIGKILL)
    bridge.procs["worker"].popen.wait(10)
    warehouse.clear_faults()
    bridge.start_worker("worker2")
    finish(bridge, 1, timeout=60)
    assert_exactly_once(warehouse, [key])
    assert warehouse.create_calls == 1
    with session_scope() as session:
        order = session.scalars(select(Order)).one()
        messages = session.scalars(
            select(OrderEvent.message).where(OrderEvent.order_id == order.id)
        ).all()
    assert order.attempts >= 2  # the killed attempt, then at least one that looked it up
    assert any("found at the warehouse after an unclear attempt" in m for m in messages)


def test_redis_flushed_with_work_queued_is_recovered_by_the_sweeper(
    bridge, orderdesk, warehouse, broker_url: str
) -> None:
    count = scaled(8)
    warehouse.set_auto_ship(0.3)
    start(bridge, orderdesk, worker=False)
    keys = post(orderdesk, count)
    wait_until(lambda: in_state(OrderState.RECEIVED) == count, 30, "all orders received")
    client = redis.Redis.from_url(broker_url)
    # The intake hands new orders over on one Redis list (bridge.jobs.handoff), woken drains
    # aside: flushing loses both, and only the sweeper is left to find the orders.
    wait_until(lambda: client.llen(handoff.NEW_ORDERS_KEY) == count, 10, "orders handed over")
    client.flushdb()
    bridge.start_worker()
    bridge.start_beat()
    finish(bridge, count)
    assert_exactly_once(warehouse, keys)


def test_poison_order_fails_after_the_attempt_limit_without_holding_up_others(
    bridge, orderdesk, warehouse, bridge_env
) -> None:
    bridge.env["BRIDGE_MAX_ATTEMPTS"] = "3"
    count = scaled(6)
    warehouse.set_auto_ship(0.3)
    warehouse.poison_addresses_containing("POISON", status=500)
    start(bridge, orderdesk)
    [poison] = post(orderdesk, 1, address1="1 POISON Way")
    keys = post(orderdesk, count)
    finish(bridge, count)
    wait_until(lambda: in_state(OrderState.FAILED) == 1, 60, "the poison order to fail")
    with session_scope() as session:
        failed = session.scalars(select(Order).where(Order.state == OrderState.FAILED.value)).one()
        assert failed.idempotency_key == poison
        assert failed.attempts == 3
        assert "500" in failed.last_error
    assert warehouse.order_by_key(poison) is None
    assert_exactly_once(warehouse, keys)
