"""The submit step: exactly once per order, in bulk where it can, parked or retried when not."""

from __future__ import annotations

import time

import pytest
import redis
from sqlalchemy import func, select

from bridge.backends.shipbob import ShipBobBackend
from bridge.db import session_scope
from bridge.jobs import queues
from bridge.models import Order, OrderEvent
from bridge.pipeline.submit import submit_order
from bridge.sim.warehouse import WarehouseSimulator
from bridge.states import OrderState
from bridge.stores.registry import StoreRegistry
from tests.pipeline.conftest import STORE_ID, fixture_order, order_row


def queued(broker: str, queue: str) -> list[dict]:
    import json

    client = redis.Redis.from_url(broker)
    return [json.loads(raw) for raw in client.lrange(queue, 0, -1)]


def queued_tasks(broker: str, queue: str) -> list[str]:
    return [message["headers"]["task"] for message in queued(broker, queue)]


def test_one_order_is_submitted_once(receive, warehouse: WarehouseSimulator, broker: str) -> None:
    order_id = receive()
    assert submit_order(order_id) == 1
    assert submit_order(order_id) == 0  # a duplicate message does nothing

    order = order_row(order_id)
    assert order.state == OrderState.SUBMITTED
    assert order.attempts == 1
    stored = warehouse.order_by_key(f"od-{STORE_ID}-{order.orderdesk_order_id}")
    assert stored is not None and order.warehouse_ref
    assert warehouse.create_calls == 1
    # The routine "sent to the warehouse" note is left out under the default policy.
    assert queues.ADD_HISTORY_NOTE not in queued_tasks(broker, queues.QUEUE_ORDERDESK)
    assert queues.MOVE_IN_PROCESS in queued_tasks(broker, queues.QUEUE_ORDERDESK)


@pytest.mark.parametrize("warehouse_kind", ["shipstation"])
def test_a_burst_goes_out_in_one_bulk_call(receive, warehouse: WarehouseSimulator) -> None:
    ids = [receive() for _ in range(12)]
    assert submit_order(ids[0]) == 12
    assert all(submit_order(i) == 0 for i in ids[1:])
    assert warehouse.calls("POST", "/orders/createorders") == 1
    assert len(warehouse.orders()) == 12
    assert {order_row(i).state for i in ids} == {OrderState.SUBMITTED}


def impatient(warehouse: WarehouseSimulator, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the store's backend give up on an answer after half a second."""
    if warehouse.kind == "shipbob":  # its store config has no timeout key (a contract)
        monkeypatch.setattr(ShipBobBackend, "timeout_seconds", 0.5)
        return
    with session_scope() as session:
        StoreRegistry(session).update(STORE_ID, backend_config={"timeout": 0.5})


@pytest.mark.parametrize("warehouse_kind", ["shipstation", "simulated", "shipbob"])
def test_unclear_outcome_is_looked_up_not_resubmitted(
    receive, warehouse: WarehouseSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    impatient(warehouse, monkeypatch)
    order_id = receive()
    warehouse.set_faults(timeout_after_store=1, hang_seconds=3)
    submit_order(order_id)
    first = order_row(order_id)
    assert first.state == OrderState.SUBMITTING
    assert "Ambiguous" in (first.last_error or "")

    with session_scope() as session:  # the backoff has passed
        session.get(Order, order_id).next_attempt_at = first.created_at
    warehouse.clear_faults()
    submit_order(order_id)
    order = order_row(order_id)
    assert order.state == OrderState.SUBMITTED
    assert len(warehouse.orders()) == 1
    with session_scope() as session:
        messages = session.scalars(
            select(OrderEvent.message).where(OrderEvent.order_id == order_id)
        ).all()
    assert any("found at the warehouse after an unclear attempt" in m for m in messages)


def test_refused_order_is_parked_with_its_reason(
    receive, warehouse: WarehouseSimulator, broker: str
) -> None:
    warehouse.refuse_addresses_containing("INVALID")
    payload = fixture_order()
    payload["shipping"]["address1"] = "1 INVALID Street"
    order_id = receive(payload)
    submit_order(order_id)
    order = order_row(order_id)
    assert order.state == OrderState.REJECTED
    assert "refused" in order.reason
    assert queues.PARK_IN_ORDERDESK in queued_tasks(broker, queues.QUEUE_ORDERDESK)


def test_a_failing_warehouse_schedules_retries_then_fails(
    receive, warehouse: WarehouseSimulator, broker: str, bridge_env
) -> None:
    bridge_env.setenv("BRIDGE_MAX_ATTEMPTS", "3")
    bridge_env.setenv("BRIDGE_RETRY_BASE_SECONDS", "0.01")
    from tests.conftest import reset_caches

    reset_caches()
    warehouse.set_faults(error_rate=1.0, error_status=503)
    order_id = receive()
    for _ in range(3):
        with session_scope() as session:
            order = session.get(Order, order_id)
            order.next_attempt_at = order.created_at
        submit_order(order_id)
    order = order_row(order_id)
    assert order.state == OrderState.FAILED
    assert order.attempts == 3
    assert "503" in order.last_error or "Transient" in order.last_error
    assert queued_tasks(broker, queues.QUEUE_INTAKE).count(queues.SUBMIT_ORDER) == 2
    with session_scope() as session:
        assert session.scalar(select(func.count()).select_from(OrderEvent)) >= 4


@pytest.mark.parametrize("warehouse_kind", ["shipstation"])
def test_a_batch_of_unclear_orders_is_looked_up_in_one_listing(
    receive, warehouse: WarehouseSimulator
) -> None:
    """50 orders whose bulk create timed out after the warehouse stored them: the retry asks
    ShipStation about all 50 with one paged listing, not 50 lookups, and creates nothing again."""
    with session_scope() as session:
        StoreRegistry(session).update(STORE_ID, backend_config={"timeout": 0.5})
    ids = [receive() for _ in range(50)]
    warehouse.set_faults(timeout_after_store=1, hang_seconds=3)
    assert submit_order(ids[0]) == 50
    assert {order_row(i).state for i in ids} == {OrderState.SUBMITTING}
    assert len(warehouse.orders()) == 50

    warehouse.clear_faults()
    with session_scope() as session:  # every backoff has passed
        for order in session.scalars(select(Order).where(Order.id.in_(ids))):
            order.next_attempt_at = order.created_at
    # The simulator logs the timed-out create once its held answer is finally sent.
    deadline = time.monotonic() + 10
    while warehouse.calls("POST", "/orders/createorders") < 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    before = warehouse.calls()

    assert submit_order(ids[-1]) == 50

    assert warehouse.calls() - before <= 2
    assert warehouse.calls("GET", "/orders") >= 1
    assert warehouse.calls("POST", "/orders/createorders") == 1
    assert {order_row(i).state for i in ids} == {OrderState.SUBMITTED}
    assert len(warehouse.orders()) == 50
