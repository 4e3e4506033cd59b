"""The lifecycle commands: ``bridge stores update --inventory-sync``, ``stores show``,
``stores sync-inventory``, and ``orders show``/``acknowledge-edit`` for an edit left to a person."""

from __future__ import annotations

import json

from bridge.states import OrderState
from tests.ops.conftest import STORE_ID


def test_turned_on_shown_and_run_now(cli, audited_store, orderdesk, warehouse) -> None:
    orderdesk.add_inventory_item(STORE_ID, {"name": "Mug", "code": "MUG", "stock": 0})
    warehouse.set_inventory("MUG", 12)

    refused = cli("stores", "sync-inventory", STORE_ID)
    assert refused.exit_code != 0
    assert "inventory sync is off" in refused.output
    assert json.loads(cli("stores", "show", STORE_ID, "--json").output)["inventory_sync"] is False

    updated = cli("stores", "update", STORE_ID, "--inventory-sync", "--inventory-interval", "120")
    assert updated.exit_code == 0, updated.output
    shown = json.loads(cli("stores", "show", STORE_ID, "--json").output)
    assert (shown["inventory_sync"], shown["inventory_interval"]) == (True, 120)

    first = cli("stores", "sync-inventory", STORE_ID, "--json")
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout) == {"sent": 1, "unchanged": 0, "refused": 0, "skipped": ""}
    again = cli("stores", "sync-inventory", STORE_ID)
    assert "0 level(s) sent, 1 unchanged, 0 refused" in again.output
    assert orderdesk.calls("PUT", "/batch-inventory-items") == 1

    assert cli("stores", "update", STORE_ID, "--no-inventory-sync").exit_code == 0
    assert json.loads(cli("stores", "show", STORE_ID, "--json").output)["inventory_sync"] is False


def test_orders_show_and_acknowledge_an_edit_left_to_a_person(cli, seed_order) -> None:
    order_id = seed_order(
        OrderState.IN_PROCESS, changed_after_submission=True, edit_needs_attention=True
    )
    shown = cli("orders", "show", str(order_id)).output
    assert "the warehouse did not take that change" in shown
    assert json.loads(cli("orders", "show", str(order_id), "--json").stdout)["order"][
        "edit_needs_attention"
    ]
    done = cli("orders", "acknowledge-edit", str(order_id))
    assert done.exit_code == 0 and "acknowledged" in done.output
    assert "did not take that change" not in cli("orders", "show", str(order_id)).output
    again = cli("orders", "acknowledge-edit", str(order_id))
    assert again.exit_code != 0 and "no change waiting for a person" in again.output
