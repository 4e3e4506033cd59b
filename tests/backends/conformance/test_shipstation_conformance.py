"""The ShipStation v1 backend passes the conformance kit against the simulator's ShipStation."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bridge.backends.base import WarehouseBackend
from bridge.backends.registry import create_backend
from bridge.backends.testing import BackendConformance

from .driver import TIMEOUT, SimulatorDriver


class TestShipStationConformance(BackendConformance):
    @pytest.fixture
    def driver(self, simulators) -> Iterator[SimulatorDriver]:
        sim = simulators.warehouse("shipstation", api_key="kit-key", api_secret="kit-s3cret")
        yield SimulatorDriver(sim)

    def make_backend(self, driver: SimulatorDriver, **config: Any) -> WarehouseBackend:
        settings = {
            "base_url": driver.url,
            "api_key": "kit-key",
            "api_secret": "kit-s3cret",
            "timeout": TIMEOUT,
            # The simulator has no window of its own; the account's 40 a minute would only
            # slow the kit down (the throttle check brings the 429s).
            "rate_limit_per_minute": 6000,
        }
        return create_backend("shipstation", settings | config)
