"""End-to-end fixtures: simulators in the test process, the bridge in its own processes.

Sizes are small by default so CI stays quick; ``BRIDGE_TEST_SCALE=N`` multiplies them (N=4
gives the 200-order run of the pipeline issue).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import update

from bridge.db import session_scope
from bridge.models import Store
from bridge.sim.orderdesk import OrderDeskSimulator
from bridge.sim.warehouse import WarehouseSimulator
from bridge.stores.registry import StoreRegistry
from tests.conftest import REDIS_SERVER, TEST_SECRET_KEY, reset_caches
from tests.e2e.harness import Bridge
from tests.support.simulators import Simulators

SCALE = max(int(os.environ.get("BRIDGE_TEST_SCALE", "1")), 1)
STORE_ID = "700700"
API_KEY = "e2e-orderdesk-key-5b0c9e7d1a2f"
BROKER_DB = 13


def scaled(n: int) -> int:
    return n * SCALE


@pytest.fixture
def broker_url() -> Iterator[str]:
    url = f"{REDIS_SERVER}/{BROKER_DB}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()
    client.close()


@pytest.fixture
def orderdesk(simulators: Simulators) -> OrderDeskSimulator:
    # Order Desk's own bucket (20 tokens, 3 per second); the bridge processes get its URL.
    return simulators.orderdesk(STORE_ID, API_KEY, name="E2E Store")


@pytest.fixture
def warehouse(request: pytest.FixtureRequest, simulators: Simulators) -> WarehouseSimulator:
    return simulators.warehouse(getattr(request, "param", "simulated"))


def simulator_config(warehouse: WarehouseSimulator) -> dict[str, Any]:
    """The store's backend config for a warehouse simulator of any kind."""
    if warehouse.kind == "shipbob":
        return {"base_url": warehouse.url, "token": "sim-key"}
    config: dict[str, Any] = {"base_url": warehouse.url, "api_key": "sim-key", "timeout": 2}
    if warehouse.kind == "shipstation":
        config["api_secret"] = "sim-secret"
    return config


@contextmanager
def running_bridge(
    *,
    database: str,
    bridge_env: pytest.MonkeyPatch,
    broker_url: str,
    orderdesk: OrderDeskSimulator,
    tmp_path: Path,
    backend: str,
    backend_config: dict[str, Any],
) -> Iterator[Bridge]:
    """The bridge's settings for quick end-to-end runs and one store on ``backend``; the
    harness that starts its processes, stopped afterwards."""
    settings = {
        "BRIDGE_DATABASE_URL": database,
        "BRIDGE_BROKER_URL": broker_url,
        "BRIDGE_REDIS_URL": broker_url,
        "BRIDGE_SECRET_KEY": TEST_SECRET_KEY,
        "BRIDGE_ORDERDESK_API_URL": orderdesk.url,
        "BRIDGE_DATA_DIR": str(tmp_path / "var"),
        "BRIDGE_LOG_FORMAT": "console",
        # Workers serve no /metrics unless a test gives one a port (tests/monitoring).
        "BRIDGE_METRICS_PORT": "0",
        "BRIDGE_SWEEP_INTERVAL_SECONDS": "1",
        "BRIDGE_SWEEP_GRACE_SECONDS": "3",
        "BRIDGE_SCHEDULE_INTERVAL_SECONDS": "1",
        "BRIDGE_SUBMIT_LEASE_SECONDS": "10",
        "BRIDGE_RETRY_BASE_SECONDS": "0.5",
        "BRIDGE_RETRY_MAX_SECONDS": "5",
    }
    for key, value in settings.items():
        bridge_env.setenv(key, value)
    reset_caches()
    with session_scope() as session:
        StoreRegistry(session).add(
            orderdesk_store_id=STORE_ID,
            name="E2E Store",
            api_key=API_KEY,
            backend=backend,
            backend_config=backend_config,
        )
        # Faster than the registry allows operators (10 s), to keep the suite short.
        session.execute(update(Store).values(poll_interval_seconds=1))
    logs = tmp_path / "logs"
    logs.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    harness = Bridge(env=env, logs=logs)
    try:
        yield harness
    finally:
        harness.stop()
        if os.environ.get("BRIDGE_TEST_SHOW_LOGS"):
            print(harness.dump_logs())


@pytest.fixture
def bridge(
    database: str,
    bridge_env: pytest.MonkeyPatch,
    broker_url: str,
    orderdesk: OrderDeskSimulator,
    warehouse: WarehouseSimulator,
    tmp_path: Path,
) -> Iterator[Bridge]:
    with running_bridge(
        database=database,
        bridge_env=bridge_env,
        broker_url=broker_url,
        orderdesk=orderdesk,
        tmp_path=tmp_path,
        backend=warehouse.kind,
        backend_config=simulator_config(warehouse),
    ) as harness:
        yield harness
