"""The lifecycle through real gunicorn, Celery worker and beat processes: a merchant's edit after
submission replaces the order at ShipStation once, and beat keeps a store's Order Desk inventory
at what it can still sell, sending only what changed."""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path

import pytest
import requests
from sqlalchemy import select, update

from bridge.db import session_scope
from bridge.history import EventKind
from bridge.models import Order, OrderEvent, Store
from bridge.states import OrderState
from bridge.stores.pause import pause_store
from bridge.stores.registry import StoreRegistry
from tests.e2e.conftest import API_KEY, STORE_ID
from tests.e2e.harness import wait_until

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
BATCH = "/batch-inventory-items"


def typical() -> dict:
    order = json.loads((FIXTURES / "order-typical.json").read_text())
    order.pop("id", None)
    return order


def state_of(od_id: str) -> str | None:
    with session_scope() as session:
        return session.scalar(select(Order.state).where(Order.orderdesk_order_id == od_id))


def events_of(od_id: str) -> list[str]:
    with session_scope() as session:
        return list(
            session.scalars(
                select(OrderEvent.kind)
                .join(Order)
                .where(Order.orderdesk_order_id == od_id)
                .order_by(OrderEvent.id)
            )
        )


@pytest.mark.slow
@pytest.mark.parametrize("warehouse", ["shipstation"], indirect=True)
def test_an_edit_after_submission_replaces_the_shipstation_order(
    bridge, orderdesk, warehouse
) -> None:
    bridge.start_web()
    bridge.start_worker()
    orderdesk.configure_rule(STORE_ID, f"{bridge.web_url}/webhooks/orderdesk", retry_delays=[0.5])
    created = orderdesk.create_order(STORE_ID, typical())
    od_id, key = str(created["id"]), f"od-{STORE_ID}-{created['id']}"
    try:
        wait_until(lambda: state_of(od_id) == OrderState.IN_PROCESS.value, 60, "in process")
        time.sleep(1.1)  # Order Desk's update time has whole seconds: the edit must be newer
        edited = copy.deepcopy(orderdesk.order(STORE_ID, od_id))
        edited["order_items"][0]["quantity"] = 5
        answer = requests.put(
            f"{orderdesk.url}/orders/{od_id}",
            json=edited,
            headers={"ORDERDESK-STORE-ID": STORE_ID, "ORDERDESK-API-KEY": API_KEY},
            timeout=10,
        )
        assert answer.ok, answer.text
        orderdesk.post_order(STORE_ID, od_id)  # the merchant's rule posts the edited order
        wait_until(lambda: EventKind.EDIT_PUSHED in events_of(od_id), 60, "the edit pushed")
    except AssertionError:
        print(bridge.dump_logs())
        raise
    stored = warehouse.order_by_key(key)
    assert stored is not None
    assert {item["sku"]: item["quantity"] for item in stored["items"]} == {
        "MUG-TRL-SLT": 5,
        "TOTE-CNV-NAT": 1,
    }
    assert len(warehouse.orders()) == 1
    assert warehouse.create_calls == 2  # the submission and the one update
    assert events_of(od_id).count(EventKind.EDIT_PUSHED) == 1


@pytest.mark.slow
def test_beat_syncs_sellable_stock_and_only_what_changed(bridge, orderdesk, warehouse) -> None:
    skus = {"MUG-TRL-SLT": 30, "TOTE-CNV-NAT": 12, "CAP-BLK": 4}
    for sku, available in skus.items():
        orderdesk.add_inventory_item(STORE_ID, {"name": sku, "code": sku, "stock": 0})
        warehouse.set_inventory(sku, available)
    with session_scope() as session:
        StoreRegistry(session).update(STORE_ID, inventory_sync=True)
        # Faster than operators may set it (60 s), to see several syncs in a short test.
        session.execute(update(Store).values(inventory_interval_seconds=1))
        # One order the bridge holds reserves its units: the store is paused, so it stays
        # received (2 mugs, 1 tote).
        pause_store(session, STORE_ID, "e2e")

    def stock() -> dict[str, int]:
        return {item["code"]: int(item["stock"]) for item in orderdesk.inventory(STORE_ID)}

    bridge.start_web()
    orderdesk.configure_rule(STORE_ID, f"{bridge.web_url}/webhooks/orderdesk", retry_delays=[0.5])
    orderdesk.create_order(STORE_ID, typical())
    wait_until(lambda: orderdesk.wait_for_webhooks(1), 30, "the webhook")
    worker = bridge.start_worker()
    bridge.start_beat()
    expected = {"MUG-TRL-SLT": 28, "TOTE-CNV-NAT": 11, "CAP-BLK": 4}
    try:
        wait_until(lambda: stock() == expected, 60, "sellable stock in Order Desk")
        first_calls = orderdesk.calls("PUT", BATCH)
        synced = worker.text().count("inventory_synced")
        wait_until(
            lambda: worker.text().count("inventory_synced") >= synced + 3,
            60,
            "three more syncs",
        )
        assert orderdesk.calls("PUT", BATCH) == first_calls  # nothing changed, nothing sent
        warehouse.set_inventory("CAP-BLK", 9)
        wait_until(lambda: stock()["CAP-BLK"] == 9, 60, "the changed level")
    except AssertionError:
        print(bridge.dump_logs())
        raise
    assert orderdesk.calls("PUT", BATCH) == first_calls + 1
