"""Fixtures for pipeline steps: both simulators over HTTP, a registered store, real PostgreSQL.

Steps are called directly here (no worker): these tests pin down what each step does. The
end-to-end suite (tests/e2e) proves the same through a real Celery worker process.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bridge.db import session_scope
from bridge.models import Order
from bridge.sim.orderdesk import OrderDeskSimulator
from bridge.sim.warehouse import WarehouseSimulator
from bridge.stores.registry import StoreRegistry
from tests.conftest import reset_caches
from tests.support.simulators import Simulators

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
STORE_ID = "424242"
API_KEY = "pipeline-test-key-0123456789abcdef"


def fixture_order(name: str = "typical") -> dict[str, Any]:
    return json.loads((FIXTURES / f"order-{name}.json").read_text())


@pytest.fixture
def orderdesk(
    database: str, bridge_env: pytest.MonkeyPatch, simulators: Simulators
) -> OrderDeskSimulator:
    return simulators.orderdesk(
        STORE_ID,
        API_KEY,
        name="Pipeline Store",
        bucket_size=40,
        refill_per_second=40.0,
        settings=bridge_env,
    )


@pytest.fixture
def broker(redis_url: str, bridge_env: pytest.MonkeyPatch) -> str:
    """Messages the steps enqueue land in the test Redis, where tests can count them."""
    bridge_env.setenv("BRIDGE_BROKER_URL", redis_url)
    reset_caches()
    return redis_url


@pytest.fixture(params=["simulated"])
def warehouse_kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def warehouse(warehouse_kind: str, simulators: Simulators) -> WarehouseSimulator:
    return simulators.warehouse(warehouse_kind)


@pytest.fixture
def store(orderdesk: OrderDeskSimulator, warehouse: WarehouseSimulator, broker: str) -> int:
    config: dict[str, Any] = {"base_url": warehouse.url, "api_key": "sim-key"}
    if warehouse.kind == "shipstation":
        config["api_secret"] = "sim-secret"
    if warehouse.kind == "shipbob":
        config = {"base_url": warehouse.url, "token": "sim-key"}
    with session_scope() as session:
        row = StoreRegistry(session).add(
            orderdesk_store_id=STORE_ID,
            name="Pipeline Store",
            api_key=API_KEY,
            backend=warehouse.kind,
            backend_config=config,
            error_folder="Prepared",
        )
        return row.id


@pytest.fixture
def receive(orderdesk: OrderDeskSimulator, store: int) -> Callable[..., int]:
    """Create an order in Order Desk and record it as intake would; return our row id."""

    def _receive(payload: dict[str, Any] | None = None, **changes: Any) -> int:
        body = copy.deepcopy(payload or fixture_order()) | changes
        body.pop("id", None)
        created = orderdesk.create_order(STORE_ID, body, fire_rule=False)
        text = json.dumps(created)
        with session_scope() as session:
            order = Order(
                store_id=store,
                orderdesk_order_id=str(created["id"]),
                order_number=str(created.get("source_id") or created["id"]),
                payload=created,
                payload_sha256=hashlib.sha256(text.encode()).hexdigest(),
                orderdesk_updated_at=created.get("date_updated", ""),
                idempotency_key=f"od-{STORE_ID}-{created['id']}",
            )
            session.add(order)
            session.flush()
            return order.id

    return _receive


def order_row(order_id: int) -> Order:
    with session_scope() as session:
        order = session.get(Order, order_id)
        session.expunge(order)
        return order
