"""Fixtures for the operator tools: a registered store, seeded orders, a Redis broker to count
messages in, and the two simulators over HTTP for the audit."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from click.testing import CliRunner, Result
from flask.testing import FlaskClient

from bridge.cli import main
from bridge.db import session_scope
from bridge.history import record, transition
from bridge.models import Order, Shipment, WebhookReceipt, utcnow
from bridge.settings import get_settings
from bridge.sim.orderdesk import OrderDeskSimulator
from bridge.sim.warehouse import WarehouseSimulator
from bridge.states import OrderState
from bridge.stores import StoreRegistry
from tests.conftest import reset_caches

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
STORE_ID = "515151"
API_KEY = "ops-orderdesk-key-SECRET-9f3a7c"
WAREHOUSE_KEY = "ops-warehouse-key-SECRET-41d2"
ADMIN_PASSWORD = "correct horse battery staple"

# The path an order takes to reach each state, so seeded rows have a believable history.
PATHS: dict[OrderState, list[OrderState]] = {
    OrderState.RECEIVED: [],
    OrderState.SUBMITTING: [OrderState.SUBMITTING],
    OrderState.SUBMITTED: [OrderState.SUBMITTING, OrderState.SUBMITTED],
    OrderState.IN_PROCESS: [OrderState.SUBMITTING, OrderState.SUBMITTED, OrderState.IN_PROCESS],
    OrderState.SHIPPED: [
        OrderState.SUBMITTING,
        OrderState.SUBMITTED,
        OrderState.IN_PROCESS,
        OrderState.SHIPPED,
    ],
    OrderState.FAILED: [OrderState.SUBMITTING, OrderState.FAILED],
    OrderState.REJECTED: [OrderState.REJECTED],
}


def fixture_order(name: str = "typical") -> dict[str, Any]:
    return json.loads((FIXTURES / f"order-{name}.json").read_text())


def queued_tasks(broker: str, queue: str) -> list[str]:
    client = redis.Redis.from_url(broker)
    try:
        return [json.loads(raw)["headers"]["task"] for raw in client.lrange(queue, 0, -1)]
    finally:
        client.close()


def order_row(order_id: int) -> Order:
    with session_scope() as session:
        order = session.get(Order, order_id)
        assert order is not None
        order.events  # noqa: B018 - load the history before the session closes
        session.expunge(order)
        return order


@pytest.fixture
def broker(redis_url: str, bridge_env: pytest.MonkeyPatch) -> str:
    """Celery publishes to the test Redis, where tests count the messages.

    The Celery app reads its broker URL when ``workers.celery_app`` is first imported, which may
    have happened earlier in the session with another URL; give the dispatcher a fresh app.
    """
    bridge_env.setenv("BRIDGE_BROKER_URL", redis_url)
    reset_caches()
    from workers import celery_app

    bridge_env.setattr(celery_app, "app", celery_app.make_celery(get_settings()))
    return redis_url


@pytest.fixture
def store(database: str) -> int:
    """A registered store whose warehouse nobody listens on (the audit tests bring their own)."""
    return _register("http://127.0.0.1:9")


def _register(warehouse_url: str) -> int:
    with session_scope() as session:
        row = StoreRegistry(session).add(
            orderdesk_store_id=STORE_ID,
            name="Ops <Test> Store",
            api_key=API_KEY,
            backend="simulated",
            backend_config={"base_url": warehouse_url, "api_key": WAREHOUSE_KEY},
        )
        return row.id


SeedOrder = Callable[..., int]


@pytest.fixture
def seed_order(store: int) -> SeedOrder:
    """Write an order row as the pipeline would have left it in ``state``, with its events."""
    return _seeder(lambda: store)


def _seeder(store_id: Callable[[], int]) -> SeedOrder:
    counter = iter(range(70_000_000, 80_000_000))

    def _seed(
        state: OrderState = OrderState.RECEIVED,
        *,
        orderdesk_order_id: str | None = None,
        payload: dict[str, Any] | None = None,
        age: timedelta = timedelta(0),
        shipments: list[dict[str, Any]] | None = None,
        **fields: Any,
    ) -> int:
        od_id = orderdesk_order_id or str(next(counter))
        body = copy.deepcopy(payload or fixture_order()) | {"id": od_id}
        created = utcnow() - age
        with session_scope() as session:
            order = Order(
                store_id=store_id(),
                orderdesk_order_id=od_id,
                order_number=str(body.get("source_id") or od_id),
                payload=body,
                payload_sha256=hashlib.sha256(json.dumps(body).encode()).hexdigest(),
                orderdesk_updated_at=str(body.get("date_updated", "")),
                idempotency_key=f"od-{STORE_ID}-{od_id}",
                state=OrderState.RECEIVED.value,
                attempts=0,
                created_at=created,
                updated_at=created,
            )
            session.add(order)
            record(session, order, "received", "received from Order Desk")
            for step in PATHS[state]:
                transition(session, order, step, f"moved to {step.value}")
            for key, value in fields.items():
                setattr(order, key, value)
            for spec in shipments or []:
                session.add(Shipment(order=order, **({"created_at": created} | spec)))
            session.add(
                WebhookReceipt(
                    store_id=store_id(),
                    claimed_store_id=STORE_ID,
                    orderdesk_order_id=od_id,
                    outcome="accepted",
                    http_status=200,
                    body_bytes=1234,
                    received_at=created,
                )
            )
            session.flush()
            return order.id

    return _seed


@pytest.fixture
def cli(database: str) -> Callable[..., Result]:
    def _run(*args: str) -> Result:
        return CliRunner().invoke(main, list(args), catch_exceptions=False)

    return _run


@pytest.fixture
def admin_client(database: str, bridge_env: pytest.MonkeyPatch) -> Iterator[FlaskClient]:
    from web import create_app

    bridge_env.setenv("BRIDGE_ADMIN_PASSWORD", ADMIN_PASSWORD)
    reset_caches()
    app = create_app()
    with app.test_client() as client:
        yield client


def basic(password: str, user: str = "ops") -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


AUTH = basic(ADMIN_PASSWORD)


# -- the audit: both simulators over HTTP ----------------------------------------------------------


@pytest.fixture
def orderdesk(database: str, bridge_env: pytest.MonkeyPatch) -> Iterator[OrderDeskSimulator]:
    sim = OrderDeskSimulator(bucket_size=40, refill_per_second=40.0)
    sim.add_store(STORE_ID, API_KEY, name="Ops Store")
    with sim:
        bridge_env.setenv("BRIDGE_ORDERDESK_API_URL", sim.url)
        bridge_env.setenv("BRIDGE_ORDERDESK_BUCKET_SIZE", "40")
        bridge_env.setenv("BRIDGE_ORDERDESK_REFILL_PER_SECOND", "40")
        reset_caches()
        yield sim


@pytest.fixture
def warehouse() -> Iterator[WarehouseSimulator]:
    with WarehouseSimulator(kind="simulated", api_key=WAREHOUSE_KEY) as sim:
        yield sim


@pytest.fixture
def audited_store(orderdesk: OrderDeskSimulator, warehouse: WarehouseSimulator, broker: str) -> int:
    return _register(warehouse.url)


@pytest.fixture
def seed_audited(audited_store: int) -> SeedOrder:
    return _seeder(lambda: audited_store)


def od_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")
