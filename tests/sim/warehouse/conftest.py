"""Simulators of both kinds on loopback and HTTP sessions already authenticated to them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from bridge.sim.warehouse import WarehouseSimulator

from .support import KEY, SECRET, Api


@pytest.fixture
def ss_sim() -> Iterator[WarehouseSimulator]:
    with WarehouseSimulator("shipstation", KEY, SECRET, seed=1) as sim:
        yield sim


@pytest.fixture
def ss(ss_sim: WarehouseSimulator) -> Iterator[Api]:
    with requests.Session() as session:
        session.auth = (KEY, SECRET)
        yield Api(ss_sim.url, session)


@pytest.fixture
def native_sim() -> Iterator[WarehouseSimulator]:
    with WarehouseSimulator("simulated", KEY, SECRET, seed=2) as sim:
        yield sim


@pytest.fixture
def native(native_sim: WarehouseSimulator) -> Iterator[Api]:
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {KEY}"
        yield Api(native_sim.url, session)
