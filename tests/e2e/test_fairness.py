"""Fair to every store: a store whose Order Desk budget is spent does not hold the workers.

One real worker process with a single slot. Store A's bucket is closed for a while (as after
Order Desk's 429); A's folder move is queued first, B's right behind it. A's task must give the
slot back (re-queued for when A's tokens return) instead of sleeping in it, so B is served at
once, and A's move still happens, exactly once, when its budget is back.
"""

from __future__ import annotations

import copy
import json
import time
from hashlib import sha256

import pytest
from sqlalchemy import select

from bridge.db import session_scope
from bridge.history import transition
from bridge.jobs import followups, queues
from bridge.models import Order, OrderEvent, Store
from bridge.remote.ratelimit import orderdesk_limiter
from bridge.sim.orderdesk import OrderDeskSimulator
from bridge.sim.warehouse import WarehouseSimulator
from bridge.states import OrderState
from bridge.stores.registry import StoreRegistry
from tests.e2e.conftest import STORE_ID
from tests.e2e.harness import Bridge, wait_until
from tests.pipeline.conftest import fixture_order

pytestmark = pytest.mark.slow

OTHER_STORE_ID = "700701"
OTHER_API_KEY = "e2e-orderdesk-key-other-8d1e2f"
# Store A's budget stays spent this long; B must be served well within it.
CLOSED_SECONDS = 20.0
PROMPT_SECONDS = 10.0


def _submitted_order(orderdesk: OrderDeskSimulator, store_row: int, od_store: str) -> str:
    """An order the warehouse accepted, waiting for its move to "In Process"."""
    body = copy.deepcopy(fixture_order())
    body.pop("id", None)
    created = orderdesk.create_order(od_store, body, fire_rule=False)
    od_id = str(created["id"])
    with session_scope() as session:
        order = Order(
            store_id=store_row,
            orderdesk_order_id=od_id,
            order_number=str(created.get("source_id") or od_id),
            payload=created,
            payload_sha256=sha256(json.dumps(created).encode()).hexdigest(),
            orderdesk_updated_at=created.get("date_updated", ""),
            idempotency_key=f"od-{od_store}-{od_id}",
        )
        session.add(order)
        session.flush()
        transition(session, order, OrderState.SUBMITTING, "submission attempt 1")
        order.warehouse_ref = f"wh-{od_id}"
        transition(session, order, OrderState.SUBMITTED, "accepted (test)")
    return od_id


def _moves(orderdesk: OrderDeskSimulator, od_store: str) -> int:
    return sum(
        1
        for call in orderdesk.request_log
        if call.store_id == od_store and call.path == "/move-orders" and call.status == 200
    )


def test_a_store_whose_budget_is_spent_gives_the_worker_slot_back_to_the_others(
    bridge: Bridge, orderdesk: OrderDeskSimulator, warehouse: WarehouseSimulator
) -> None:
    orderdesk.add_store(OTHER_STORE_ID, OTHER_API_KEY, name="Other Store")
    with session_scope() as session:
        store_a = session.scalars(select(Store.id)).one()
        store_b = (
            StoreRegistry(session)
            .add(
                orderdesk_store_id=OTHER_STORE_ID,
                name="Other Store",
                api_key=OTHER_API_KEY,
                backend=warehouse.kind,
                backend_config={"base_url": warehouse.url, "api_key": "sim-key"},
            )
            .id
        )
    od_a = _submitted_order(orderdesk, store_a, STORE_ID)
    od_b = _submitted_order(orderdesk, store_b, OTHER_STORE_ID)
    worker = bridge.start_worker(concurrency=1)

    orderdesk_limiter(STORE_ID).penalize(CLOSED_SECONDS)
    closed_at = time.monotonic()
    with session_scope() as session:
        followups.later(session, queues.MOVE_IN_PROCESS, store_a)  # first in line
        followups.later(session, queues.MOVE_IN_PROCESS, store_b)

    wait_until(
        lambda: orderdesk.folder_name_of(OTHER_STORE_ID, od_b) == "In Process",
        PROMPT_SECONDS,
        "store B's move while store A waits for its budget",
    )
    assert time.monotonic() - closed_at < CLOSED_SECONDS / 2
    assert orderdesk.folder_name_of(STORE_ID, od_a) != "In Process"
    assert "task_deferred" in worker.text()

    wait_until(
        lambda: orderdesk.folder_name_of(STORE_ID, od_a) == "In Process",
        CLOSED_SECONDS + 30,
        "store A's move once its budget is back",
    )
    assert time.monotonic() - closed_at >= CLOSED_SECONDS - 1
    # Nothing lost, nothing doubled: one move each, one transition each.
    assert (_moves(orderdesk, STORE_ID), _moves(orderdesk, OTHER_STORE_ID)) == (1, 1)
    assert orderdesk.count_429 == 0
    with session_scope() as session:
        moved = session.scalars(
            select(OrderEvent.order_id).where(OrderEvent.to_state == OrderState.IN_PROCESS.value)
        ).all()
        assert sorted(moved) == sorted(session.scalars(select(Order.id)).all())
