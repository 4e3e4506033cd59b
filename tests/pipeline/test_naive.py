"""``BRIDGE_NAIVE=1`` (benchmark only): one partner call per order per step, counted on the
simulators against the same orders sent batched."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bridge.pipeline.folders import move_in_process
from bridge.pipeline.poll import poll_warehouse
from bridge.pipeline.shipments import post_shipments
from bridge.pipeline.submit import submit_order
from bridge.sim.orderdesk import OrderDeskSimulator
from bridge.sim.warehouse import WarehouseSimulator
from bridge.states import OrderState
from tests.conftest import reset_caches
from tests.pipeline.conftest import order_row
from tests.pipeline.support import key
from tests.pipeline.test_note_policy import _run_queued_notes

ORDERS = 6


def _one_burst(
    receive: Callable[..., int], store: int, warehouse: WarehouseSimulator, broker: str
) -> list[int]:
    """Every step an order goes through, from submission to its package in Order Desk."""
    ids = [receive() for _ in range(ORDERS)]
    for order_id in ids:
        submit_order(order_id)
    move_in_process(store)
    for order_id in ids:
        warehouse.ship(key(order_id))
    poll_warehouse(store)
    post_shipments(store)
    _run_queued_notes(broker)
    return ids


def _creates(warehouse: WarehouseSimulator) -> int:
    """Order creations at ShipStation, in bulk (``createorders``) or one by one."""
    return sum(
        1
        for call in warehouse.request_log
        if call.method == "POST" and call.path in ("/orders/createorder", "/orders/createorders")
    )


@pytest.mark.parametrize("warehouse_kind", ["shipstation"])
def test_naive_mode_makes_one_call_per_order_per_step(
    receive: Callable[..., int],
    orderdesk: OrderDeskSimulator,
    warehouse: WarehouseSimulator,
    store: int,
    broker: str,
    bridge_env: pytest.MonkeyPatch,
) -> None:
    calls: dict[str, dict[str, int]] = {}
    for mode in ("batched", "naive"):
        bridge_env.setenv("BRIDGE_NAIVE", "1" if mode == "naive" else "0")
        reset_caches()
        od_before, wh_before = orderdesk.calls(), warehouse.calls()
        creates_before = _creates(warehouse)
        moves_before = orderdesk.calls("POST", "/move-orders")
        posts_before = orderdesk.calls("POST", "/batch-shipments")
        ids = _one_burst(receive, store, warehouse, broker)
        assert {order_row(i).state for i in ids} == {OrderState.SHIPPED}, mode
        calls[mode] = {
            "orderdesk": orderdesk.calls() - od_before,
            "warehouse": warehouse.calls() - wh_before,
            "creates": _creates(warehouse) - creates_before,
            "moves": orderdesk.calls("POST", "/move-orders") - moves_before,
            "posts": orderdesk.calls("POST", "/batch-shipments") - posts_before,
        }

    batched, naive = calls["batched"], calls["naive"]
    assert (batched["moves"], batched["posts"]) == (1, 1)
    assert (naive["moves"], naive["posts"]) == (ORDERS, ORDERS)
    assert (batched["creates"], naive["creates"]) == (1, ORDERS)  # one bulk call vs one each
    # Naive mode also writes the routine note of every order (one call each).
    assert naive["orderdesk"] >= 3 * ORDERS > batched["orderdesk"] * 4
    assert naive["warehouse"] > batched["warehouse"] + ORDERS - 2
