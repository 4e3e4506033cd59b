"""``bridge orders``: what an operator reads and types, and that no secret is ever printed."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta

from click.testing import Result

from bridge.jobs import queues
from bridge.states import OrderState
from tests.ops.conftest import (
    API_KEY,
    STORE_ID,
    WAREHOUSE_KEY,
    SeedOrder,
    order_row,
    queued_tasks,
)

Cli = Callable[..., Result]
SHIPMENT = {
    "package_id": "PKG-1",
    "remote_shipment_id": "SHP-1",
    "tracking_number": "1Z999AA10123456784",
    "carrier": "UPS",
}


def _no_secrets(*results: Result) -> None:
    for result in results:
        assert API_KEY not in result.output
        assert WAREHOUSE_KEY not in result.output


def test_list_filters_by_state_and_store(cli: Cli, seed_order: SeedOrder) -> None:
    failed = seed_order(OrderState.FAILED, last_error="warehouse answered 503", attempts=8)
    seed_order(OrderState.SHIPPED)

    result = cli("orders", "list", "--state", "failed", "--store", STORE_ID)

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split()[:3] == ["ROW", "STORE:ORDER", "NUMBER"]
    assert len(lines) == 2
    assert lines[1].split()[0] == str(failed)
    assert "failed" in lines[1] and "warehouse answered 503" in lines[1]
    assert cli("orders", "list", "--state", "cancelled").output.strip() == "no orders match"
    _no_secrets(result)


def test_show_prints_the_whole_history(cli: Cli, seed_order: SeedOrder) -> None:
    order_id = seed_order(
        OrderState.IN_PROCESS, orderdesk_order_id="5150", shipments=[SHIPMENT], age=timedelta(1)
    )

    text = cli("orders", "show", f"{STORE_ID}:5150")
    data = json.loads(cli("orders", "show", str(order_id), "--json").output)

    assert text.exit_code == 0, text.output
    assert f"order {STORE_ID}:5150 (row {order_id})" in text.output
    assert "transition submitted -> in_process: moved to in_process" in text.output
    assert "PKG-1: UPS 1Z999AA10123456784 (not posted)" in text.output
    assert "200 accepted" in text.output
    assert [e["to_state"] for e in data["events"]] == [
        "submitting",
        "submitted",
        "in_process",
    ]
    assert data["shipments"][0]["tracking_number"] == SHIPMENT["tracking_number"]
    _no_secrets(text)


def test_retry_and_cancel_from_the_terminal(cli: Cli, seed_order: SeedOrder, broker: str) -> None:
    failed = seed_order(OrderState.FAILED, orderdesk_order_id="8100", last_error="boom")
    in_process = seed_order(OrderState.IN_PROCESS, orderdesk_order_id="8200")

    retried = cli("orders", "retry", str(failed))
    cancelled = cli("orders", "cancel", f"{STORE_ID}:8200")

    assert retried.exit_code == 0 and cancelled.exit_code == 0
    assert retried.output.strip() == f"order {STORE_ID}:8100 is now received: sent for submission"
    assert "is now cancel_requested" in cancelled.output
    assert order_row(failed).events[-1].detail["actor"] == "cli"
    assert order_row(in_process).state == OrderState.CANCEL_REQUESTED.value
    assert sorted(queued_tasks(broker, queues.QUEUE_INTAKE)) == [
        queues.CANCEL_ORDER,
        queues.SUBMIT_ORDER,
    ]
    _no_secrets(retried, cancelled)


def test_refusals_are_one_sentence(cli: Cli, seed_order: SeedOrder, broker: str) -> None:
    shipped = seed_order(OrderState.SHIPPED, orderdesk_order_id="9100")

    results = [
        cli("orders", "retry", str(shipped)),
        cli("orders", "cancel", str(shipped)),
        cli("orders", "show", "424242:1"),
        cli("orders", "list", "--store", "1"),
    ]

    assert [r.exit_code for r in results] == [1, 1, 1, 1]
    assert results[0].output == (
        f"Error: order {STORE_ID}:9100 is shipped; only failed or rejected orders can be retried\n"
    )
    assert "already shipped; it cannot be cancelled" in results[1].output
    assert results[2].output == "Error: no order 424242:1 in the bridge\n"
    assert results[3].output == "Error: no store with Order Desk store id 1\n"
    assert order_row(shipped).state == OrderState.SHIPPED.value
    assert queued_tasks(broker, queues.QUEUE_INTAKE) == []
    _no_secrets(*results)
