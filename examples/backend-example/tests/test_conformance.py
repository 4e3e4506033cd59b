"""The example backend passes the bridge's conformance kit against the example warehouse."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from orderdesk_bridge_example.warehouse import ExampleWarehouse

from bridge.backends.base import WarehouseBackend
from bridge.backends.registry import create_backend
from bridge.backends.testing import BackendConformance, Parcel

TOKEN = "ex-t0ken-for-tests"


class ExampleDriver:
    """The kit's warehouse driver: each method is one call into the example warehouse."""

    def __init__(self, warehouse: ExampleWarehouse) -> None:
        self.warehouse = warehouse

    def order_keys(self, order_number: str) -> list[str]:
        return self.warehouse.keys_for_number(order_number)

    def ship(self, key: str, parcels: Sequence[Parcel]) -> None:
        self.warehouse.ship(key, [(p.tracking_number, p.lines) for p in parcels])

    def void(self, key: str, tracking_number: str) -> None:
        self.warehouse.void(tracking_number)

    def lose_next_reply(self) -> None:
        self.warehouse.lose_next_reply()

    def throttle(self, seconds: float) -> None:
        self.warehouse.throttle(seconds)

    def set_stock(self, sku: str, available: int) -> None:
        raise NotImplementedError  # the example warehouse keeps no stock

    def clear_faults(self) -> None:
        self.warehouse.clear_faults()


class TestExampleConformance(BackendConformance):
    @pytest.fixture
    def driver(self) -> Iterator[ExampleDriver]:
        with ExampleWarehouse(TOKEN, hang_seconds=6.0) as warehouse:
            yield ExampleDriver(warehouse)

    def make_backend(self, driver: ExampleDriver, **config: Any) -> WarehouseBackend:
        settings = {"base_url": driver.warehouse.url, "token": TOKEN, "timeout": 3.0}
        return create_backend("example", settings | config)
