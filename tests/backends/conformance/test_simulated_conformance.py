"""The simulated backend passes the conformance kit against the warehouse simulator."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bridge.backends.base import WarehouseBackend
from bridge.backends.registry import create_backend
from bridge.backends.testing import BackendConformance

from .driver import TIMEOUT, SimulatorDriver


class TestSimulatedConformance(BackendConformance):
    @pytest.fixture
    def driver(self, simulators) -> Iterator[SimulatorDriver]:
        yield SimulatorDriver(simulators.warehouse("simulated", api_key="kit-s1m-key"))

    def make_backend(self, driver: SimulatorDriver, **config: Any) -> WarehouseBackend:
        settings = {"base_url": driver.url, "api_key": "kit-s1m-key", "timeout": TIMEOUT}
        return create_backend("simulated", settings | config)
