"""The ShipBob backend passes the conformance kit against the simulator's ShipBob."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bridge.backends.base import WarehouseBackend
from bridge.backends.registry import create_backend
from bridge.backends.shipbob import ShipBobBackend
from bridge.backends.testing import BackendConformance

from .driver import TIMEOUT, SimulatorDriver


class TestShipBobConformance(BackendConformance):
    @pytest.fixture(autouse=True)
    def quick_timeout(self, monkeypatch: pytest.MonkeyPatch) -> None:
        # ShipBob's store config has no timeout key (its keys are a contract); the kit's lost
        # reply needs the backend to give up before the simulator answers.
        monkeypatch.setattr(ShipBobBackend, "timeout_seconds", TIMEOUT)

    @pytest.fixture
    def driver(self, simulators) -> Iterator[SimulatorDriver]:
        yield SimulatorDriver(simulators.warehouse("shipbob", api_key="kit-t0ken"))

    def make_backend(self, driver: SimulatorDriver, **config: Any) -> WarehouseBackend:
        return create_backend("shipbob", {"base_url": driver.url, "token": "kit-t0ken"} | config)
