"""Fixtures for the Order Desk client tests: a real simulator on loopback."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from bridge.orderdesk.client import OrderDeskClient
from bridge.remote.ratelimit import LocalLeakyBucket
from bridge.sim.orderdesk import OrderDeskSimulator
from tests.support.simulators import Simulators


@dataclass(frozen=True)
class Store:
    id: str
    api_key: str


@pytest.fixture(scope="module")
def _running_sim(module_simulators: Simulators) -> OrderDeskSimulator:
    return module_simulators.orderdesk()


@pytest.fixture
def sim(_running_sim: OrderDeskSimulator) -> OrderDeskSimulator:
    """The module's simulator with no faults and an empty request log (each test has its store)."""
    _running_sim.clear_faults()
    _running_sim.reset_log()
    return _running_sim


@pytest.fixture
def add_store(sim: OrderDeskSimulator) -> Callable[..., Store]:
    """Register another store (unique id, random key) in the simulator."""

    def add(**kwargs: Any) -> Store:
        store = Store(id=str(secrets.randbelow(900_000) + 100_000), api_key=secrets.token_hex(20))
        sim.add_store(store.id, store.api_key, **kwargs)
        return store

    return add


@pytest.fixture
def store(add_store: Callable[..., Store]) -> Store:
    return add_store(name="Acme Goods")


@pytest.fixture
def make_client(sim: OrderDeskSimulator, store: Store) -> Iterator[Callable[..., OrderDeskClient]]:
    """Clients for the test store with a fresh bucket mirroring Order Desk's, short timeouts."""
    made: list[OrderDeskClient] = []

    def make(**kwargs: Any) -> OrderDeskClient:
        kwargs.setdefault("limiter", LocalLeakyBucket(20, 3.0))
        kwargs.setdefault("timeout", (2.0, 5.0))
        client = OrderDeskClient(
            kwargs.pop("store_id", store.id),
            kwargs.pop("api_key", store.api_key),
            kwargs.pop("base_url", sim.url),
            **kwargs,
        )
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def client(make_client: Callable[..., OrderDeskClient]) -> OrderDeskClient:
    return make_client()


def _order_payload(number: int = 1, **overrides: Any) -> dict[str, Any]:
    order: dict[str, Any] = {
        "source_id": f"SRC-{number}",
        "source_name": "Shopify",
        "email": f"buyer{number}@example.com",
        "shipping": {
            "first_name": "Dana",
            "last_name": "Reyes",
            "address1": "1450 Harbor Blvd",
            "city": "Costa Mesa",
            "state": "CA",
            "postal_code": "92626",
            "country": "US",
        },
        "order_items": [{"name": "Trail Mug", "code": "MUG-1", "price": "24", "quantity": 1}],
    }
    order.update(overrides)
    return order


@pytest.fixture
def new_order(sim: OrderDeskSimulator, store: Store) -> Callable[..., str]:
    """Create an order in the simulated store as a cart would; returns its internal id."""
    counter = iter(range(1, 10_000))

    def create(folder_name: str | None = "New", **overrides: Any) -> str:
        stored = sim.create_order(
            store.id,
            _order_payload(next(counter), **overrides),
            folder_name=folder_name,
            fire_rule=False,
        )
        return str(stored["id"])

    return create
