"""The one way tests start the Order Desk and warehouse simulators over real HTTP on loopback.

``simulators`` (per test) and ``module_simulators`` (per module, for suites that keep one server
warm) start simulators on demand and stop them all, newest first, when their scope ends. Asked
to, ``orderdesk`` also points this process's bridge settings at the simulator and its bucket.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from bridge.sim.orderdesk import OrderDeskSimulator
from bridge.sim.warehouse import WarehouseSimulator
from tests.conftest import reset_caches


class Simulators:
    """Starts simulators and remembers them so they are all stopped afterwards."""

    def __init__(self) -> None:
        self._started: list[OrderDeskSimulator | WarehouseSimulator] = []

    def orderdesk(
        self,
        store_id: str | None = None,
        api_key: str | None = None,
        *,
        name: str = "Demo Store",
        bucket_size: int = 20,
        refill_per_second: float = 3.0,
        settings: pytest.MonkeyPatch | None = None,
    ) -> OrderDeskSimulator:
        """A started Order Desk (20 tokens, 3 per second, like the real one, unless told).

        With ``store_id`` and ``api_key`` the store exists before the server answers. With
        ``settings`` (the ``bridge_env`` monkeypatch) the bridge in this process talks to it.
        """
        sim = OrderDeskSimulator(bucket_size=bucket_size, refill_per_second=refill_per_second)
        if store_id is not None and api_key is not None:
            sim.add_store(store_id, api_key, name=name)
        self._started.append(sim.start())
        if settings is not None:
            settings.setenv("BRIDGE_ORDERDESK_API_URL", sim.url)
            settings.setenv("BRIDGE_ORDERDESK_BUCKET_SIZE", str(bucket_size))
            settings.setenv("BRIDGE_ORDERDESK_REFILL_PER_SECOND", str(refill_per_second))
            reset_caches()
        return sim

    def warehouse(self, kind: str = "simulated", **options: Any) -> WarehouseSimulator:
        """A started warehouse of ``kind``; ``options`` go to ``WarehouseSimulator``."""
        sim = WarehouseSimulator(kind=kind, **options).start()
        self._started.append(sim)
        return sim

    def stop_all(self) -> None:
        while self._started:
            self._started.pop().stop()


@contextmanager
def running_simulators() -> Iterator[Simulators]:
    simulators = Simulators()
    try:
        yield simulators
    finally:
        simulators.stop_all()


@pytest.fixture
def simulators() -> Iterator[Simulators]:
    """Simulators for this test, stopped when it ends."""
    with running_simulators() as started:
        yield started


@pytest.fixture(scope="module")
def module_simulators() -> Iterator[Simulators]:
    """Simulators shared by one test module: stopping a werkzeug server takes half a second."""
    with running_simulators() as started:
        yield started
