"""The admin pages' part of the order lifecycle: a change after submission the warehouse cannot
take shows on the order page and a person acknowledges it there (the change arrives as Order
Desk's signed webhook); the stores page shows whether inventory sync is on."""

from __future__ import annotations

import json

from flask.testing import FlaskClient

from bridge.db import session_scope
from bridge.history import EventKind
from bridge.orderdesk.webhook import sign_order
from bridge.states import OrderState
from bridge.stores.registry import StoreRegistry
from tests.ops.conftest import (
    ADMIN_USER,
    API_KEY,
    ORIGIN,
    STORE_ID,
    SeedOrder,
    fixture_order,
    form_token,
    order_row,
)

FLAG = "data-edit-needs-attention"


def test_an_edit_the_warehouse_cannot_take_is_flagged_and_acknowledged(
    admin_client: FlaskClient, seed_order: SeedOrder, broker: str
) -> None:
    order_id = seed_order(OrderState.IN_PROCESS, orderdesk_order_id="4501")
    page = f"/admin/orders/{order_id}"
    assert FLAG not in admin_client.get(page).get_data(as_text=True)

    edited = fixture_order() | {"id": "4501", "date_updated": "2026-11-22 08:00:00"}
    text = json.dumps(edited)
    answer = admin_client.post(
        "/webhooks/orderdesk",
        data={"order": text},
        headers={"X-Order-Desk-Store-Id": STORE_ID, "X-Order-Desk-Hash": sign_order(text, API_KEY)},
    )
    assert answer.get_json() == {"result": "duplicate", "order_id": "4501"}

    shown = admin_client.get(page).get_data(as_text=True)
    assert FLAG in shown
    assert EventKind.EDIT_NEEDS_ATTENTION.value in shown  # in the timeline, with its reason
    assert "cannot update an order it already holds" in shown

    response = admin_client.post(
        f"{page}/acknowledge-edit",
        data={"csrf_token": form_token(admin_client, page)},
        headers=ORIGIN,
    )
    assert response.status_code == 303
    row = order_row(order_id)
    assert row.edit_needs_attention is False
    assert row.events[-1].kind == EventKind.EDIT_ACKNOWLEDGED
    assert ADMIN_USER in row.events[-1].message
    after = admin_client.get(response.headers["Location"]).get_data(as_text=True)
    assert FLAG not in after
    assert "marked as dealt with" in after

    again = admin_client.post(
        f"{page}/acknowledge-edit",
        data={"csrf_token": form_token(admin_client, page)},
        headers=ORIGIN,
    )
    assert again.status_code == 409
    assert "no change waiting for a person" in again.get_data(as_text=True)


def test_the_stores_page_shows_inventory_sync(admin_client: FlaskClient, store: int) -> None:
    cell = f'data-store-inventory="{STORE_ID}">'
    assert f"{cell}off<" in admin_client.get("/admin/stores").get_data(as_text=True)
    with session_scope() as session:
        StoreRegistry(session).update(STORE_ID, inventory_sync=True)
    assert f"{cell}on, every 900 s<" in admin_client.get("/admin/stores").get_data(as_text=True)
