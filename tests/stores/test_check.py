"""`bridge stores check` against the simulators: ready, and each problem in plain words."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from bridge.cli import main
from bridge.db import session_scope
from bridge.sim.orderdesk import OrderDeskSimulator
from bridge.sim.warehouse import WarehouseSimulator
from bridge.stores.registry import StoreRegistry
from tests.conftest import reset_caches
from tests.support.simulators import Simulators

KEY = "check-key-0123456789abcdef"


@pytest.fixture
def sims(
    database: str, bridge_env, simulators: Simulators
) -> tuple[OrderDeskSimulator, WarehouseSimulator]:
    orderdesk = simulators.orderdesk("555", KEY, name="Check Store", settings=bridge_env)
    orderdesk.add_store("556", KEY, name="No Folder", folders={1: "New", 2: "Canceled"})
    return orderdesk, simulators.warehouse("simulated")


def _add(store_id: str, warehouse_url: str, api_key: str = KEY) -> None:
    with session_scope() as session:
        StoreRegistry(session).add(
            orderdesk_store_id=store_id,
            name="s",
            api_key=api_key,
            backend="simulated",
            backend_config={"base_url": warehouse_url, "api_key": "sim-key"},
        )


def test_ready_store_and_folder_ids_cached(sims) -> None:
    _, warehouse = sims
    _add("555", warehouse.url)
    result = CliRunner().invoke(main, ["stores", "check", "555"])
    assert result.exit_code == 0, result.output
    assert "is ready" in result.output and "in_process=" in result.output
    with session_scope() as session:
        assert StoreRegistry(session).get("555").orderdesk_folders["In Process"]


@pytest.mark.parametrize(
    ("store_id", "api_key", "warehouse_up", "expected"),
    [
        ("555", "wrong-key-000000000000", True, "refused the API key"),
        ("556", KEY, True, "In Process"),
        ("555", KEY, False, "warehouse (simulated)"),
    ],
)
def test_problems_are_named(sims, store_id, api_key, warehouse_up, expected) -> None:
    _, warehouse = sims
    _add(store_id, warehouse.url if warehouse_up else "http://127.0.0.1:9", api_key)
    result = CliRunner().invoke(main, ["stores", "check", store_id])
    assert result.exit_code != 0
    assert expected in result.output
    assert api_key not in result.output
    assert "Traceback" not in result.output


def test_unreachable_orderdesk(database: str, bridge_env, simulators: Simulators) -> None:
    bridge_env.setenv("BRIDGE_ORDERDESK_API_URL", "http://127.0.0.1:9/api/v2")
    reset_caches()
    _add("555", simulators.warehouse("simulated").url)
    result = CliRunner().invoke(main, ["stores", "check", "555"])
    assert result.exit_code != 0
    assert "127.0.0.1:9" in result.output
