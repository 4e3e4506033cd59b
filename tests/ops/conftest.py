"""Fixtures for the operator tools: a registered store, seeded orders, a Redis broker to count
messages in, a signed-in admin client, and the two simulators over HTTP for the audit."""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from click.testing import CliRunner, Result
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from bridge.cli import main
from bridge.db import session_scope
from bridge.history import transition
from bridge.models import Order, Shipment, WebhookReceipt, utcnow
from bridge.sim.orderdesk import OrderDeskSimulator
from bridge.sim.warehouse import WarehouseSimulator
from bridge.states import OrderState
from bridge.stores.registry import StoreRegistry
from tests.conftest import reset_caches
from tests.support.simulators import Simulators

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
STORE_ID = "515151"
API_KEY = "ops-orderdesk-key-SECRET-9f3a7c"
WAREHOUSE_KEY = "ops-warehouse-key-SECRET-41d2"
ADMIN_USER = "ops"
ADMIN_PASSWORD = "correct horse battery staple"
# A browser sends Origin on every POST; the admin pages refuse a POST from another site.
ORIGIN = {"Origin": "http://localhost"}

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
    """Celery publishes to the test Redis, where tests count the messages."""
    bridge_env.setenv("BRIDGE_BROKER_URL", redis_url)
    reset_caches()
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


def add_admin_user(name: str = ADMIN_USER, password: str = ADMIN_PASSWORD) -> None:
    from bridge.accounts.users import AdminUsers

    with session_scope() as session:
        AdminUsers(session).add(name, password)


def form_token(client: FlaskClient, path: str = "/admin/login") -> str:
    """The CSRF token of the form on ``path``, as a browser would submit it."""
    page = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, f"{path} has no form"
    return match.group(1)


def sign_in(
    client: FlaskClient, name: str = ADMIN_USER, password: str = ADMIN_PASSWORD, **environ: Any
) -> TestResponse:
    """Fill in and send the sign-in form."""
    return client.post(
        "/admin/login",
        data={"name": name, "password": password, "csrf_token": form_token(client)},
        headers=ORIGIN,
        **environ,
    )


@pytest.fixture
def admin_app(database: str, bridge_env: pytest.MonkeyPatch) -> Flask:
    """The web app with its admin pages, and one admin user (``ops``)."""
    from web import create_app

    reset_caches()
    add_admin_user()
    return create_app()


@pytest.fixture
def admin_client(admin_app: Flask) -> Iterator[FlaskClient]:
    """A browser signed in to the admin pages as ``ops``."""
    with admin_app.test_client() as client:
        assert sign_in(client).status_code == 303
        yield client


# -- the audit: both simulators over HTTP ----------------------------------------------------------


@pytest.fixture
def orderdesk(
    database: str, bridge_env: pytest.MonkeyPatch, simulators: Simulators
) -> OrderDeskSimulator:
    return simulators.orderdesk(
        STORE_ID,
        API_KEY,
        name="Ops Store",
        bucket_size=40,
        refill_per_second=40.0,
        settings=bridge_env,
    )


@pytest.fixture
def warehouse(simulators: Simulators) -> WarehouseSimulator:
    return simulators.warehouse("simulated", api_key=WAREHOUSE_KEY)


@pytest.fixture
def audited_store(orderdesk: OrderDeskSimulator, warehouse: WarehouseSimulator, broker: str) -> int:
    return _register(warehouse.url)


@pytest.fixture
def seed_audited(audited_store: int) -> SeedOrder:
    return _seeder(lambda: audited_store)


def od_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")
