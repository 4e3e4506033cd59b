"""The simulated REST API v2 as a client sees it over HTTP: auth, envelope, orders, moves."""

from __future__ import annotations

import re
from typing import Any

import pytest

from bridge.sim.orderdesk import OrderDeskSimulator

from .conftest import API_KEY, STORE_ID, Api

EXECUTION_TIME = re.compile(r"^\d+\.\d{4} seconds$")


def _envelope_ok(body: dict[str, Any]) -> None:
    assert body["status"] == "success", body
    assert isinstance(body["message"], str)
    assert EXECUTION_TIME.match(body["execution_time"])


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"ORDERDESK-STORE-ID": STORE_ID, "ORDERDESK-API-KEY": "wrong"},
        {"ORDERDESK-STORE-ID": "999999", "ORDERDESK-API-KEY": API_KEY},
        {"ORDERDESK-STORE-ID": STORE_ID},
    ],
    ids=["none", "wrong-key", "unknown-store", "no-key"],
)
def test_bad_credentials_are_refused_with_401(api: Api, headers: dict[str, str]) -> None:
    response = api.session.get(f"{api.base}/orders", headers=headers, timeout=5)

    assert response.status_code == 401
    body = response.json()
    assert body["status"] == "error"
    assert body["message"] == "Invalid API key or store id"
    assert EXECUTION_TIME.match(body["execution_time"])
    assert API_KEY not in response.text


def test_header_names_are_case_insensitive(api: Api) -> None:
    headers = {"orderdesk-store-id": STORE_ID, "Orderdesk-Api-Key": API_KEY}
    response = api.session.get(f"{api.base}/test", headers=headers, timeout=5)

    assert response.status_code == 200
    assert response.json()["message"] == "Connection Successful"


def test_test_and_store_answer_in_the_envelope(api: Api) -> None:
    test = api.get("/test")
    store = api.get("/store")

    _envelope_ok(test.json())
    assert re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$", test.json()["current_date_time"])
    assert test.headers["X-Tokens-Remaining"].isdigit()
    info = store.json()["store"]
    assert info["name"] == "Acme Goods"
    assert info["settings"]["timezone"] == "America/Los_Angeles"
    assert info["folders"]["21656"] == "In Process"
    assert all(isinstance(key, str) for key in info["folders"])
    assert API_KEY not in store.text


def test_orders_keep_order_desk_loose_types(
    api: Api, sim: OrderDeskSimulator, typical_order: dict[str, Any]
) -> None:
    typical_order["order_items"][0]["variation_list"] = {}
    typical_order["checkout_data"] = {}
    stored = sim.create_order(STORE_ID, typical_order, fire_rule=False)

    body = api.get(f"/orders/{stored['id']}").json()

    _envelope_ok(body)
    order = body["order"]
    assert isinstance(order["id"], str) and order["id"] != typical_order["id"]
    assert order["id"] == stored["id"]
    assert order["source_id"] == "5812345678901"
    assert order["folder_id"] == 21655
    assert order["order_items"][0]["variation_list"] == []
    assert order["checkout_data"] == []
    assert order["order_items"][1]["price"] == typical_order["order_items"][1]["price"]
    assert order["order_shipments"] == []
    assert re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$", order["date_added"])


def test_unknown_order_and_unknown_endpoint_are_envelope_errors(api: Api) -> None:
    missing = api.get("/orders/1")
    unknown = api.get("/no-such-thing")

    assert missing.status_code == 404
    assert missing.json()["message"] == "Order Not Found"
    assert unknown.status_code == 404
    assert unknown.json()["status"] == "error"


def _seed(sim: OrderDeskSimulator, days: list[str]) -> list[str]:
    ids = []
    for number, day in enumerate(days):
        order = {
            "source_id": f"S-{number}",
            "source_name": "Shopify",
            "shipping": {"first_name": "A", "last_name": f"Buyer{number}"},
            "order_items": [{"name": "Mug", "code": "MUG", "price": 10, "quantity": 1}],
        }
        stored = sim.create_order(
            STORE_ID, order, fire_rule=False, date_added=f"{day} 12:00:00", folder_name="New"
        )
        ids.append(stored["id"])
    return ids


def test_list_pages_through_orders_newest_first(api: Api, sim: OrderDeskSimulator) -> None:
    ids = _seed(sim, [f"2025-01-0{day}" for day in range(1, 8)])

    first = api.get("/orders", params={"limit": 3}).json()
    third = api.get("/orders", params={"limit": 3, "offset": 6}).json()
    ascending = api.get("/orders", params={"order": "ASC", "limit": 2}).json()

    assert first["total_records"] == 7
    assert first["records_returned"] == 3
    assert first["limit"] == 3 and first["offset"] == 0
    assert [o["id"] for o in first["orders"]] == ids[::-1][:3]
    assert [o["id"] for o in third["orders"]] == [ids[0]]
    assert [o["id"] for o in ascending["orders"]] == ids[:2]
    assert api.get("/orders", params={"limit": 9999}).json()["limit"] == 500
    assert api.get("/orders").json()["limit"] == 50


def test_list_filters_by_dates_folder_and_source(api: Api, sim: OrderDeskSimulator) -> None:
    ids = _seed(sim, ["2025-01-01", "2025-01-05", "2025-01-09"])
    move = api.post(
        "/move-orders", json={"order_id_list": [ids[0]], "destination_folder_id": 21656}
    )
    assert move.json()["status"] == "success"

    def listed(**params: str) -> list[str]:
        return [o["id"] for o in api.get("/orders", params=params).json()["orders"]]

    assert listed(search_start_date="2025-01-05") == [ids[2], ids[1]]
    assert listed(search_start_date="2025-01-02", search_end_date="2025-01-05") == [ids[1]]
    assert listed(search_end_date="2025-01-01 11:59:59") == []
    assert listed(modified_start_date="2025-02-01") == [ids[0]]
    assert listed(modified_end_date="2025-01-31") == [ids[2], ids[1]]
    assert listed(folder_name="In Process") == [ids[0]]
    assert listed(folder_id="21654,21656") == ids[::-1]
    assert listed(folder_id="21657") == []
    assert listed(source_id="S-1", source_name="Shopify") == [ids[1]]
    assert listed(shipping_last_name="buyer2") == [ids[2]]


def test_create_validates_and_defaults_like_order_desk(api: Api, sim: OrderDeskSimulator) -> None:
    no_items = api.post("/orders", json={"shipping": {"first_name": "A"}})
    no_name = api.post("/orders", json={"order_items": [{"name": "Mug"}]})
    created = api.post(
        "/orders",
        json={"customer": {"company": "Acme"}, "order_items": [{"name": "Mug", "price": "5"}]},
    )

    assert no_items.status_code == 400 and no_items.json()["status"] == "error"
    assert no_name.status_code == 400 and no_name.json()["status"] == "error"
    order = created.json()["order"]
    assert created.json()["status"] == "success"
    assert order["folder_id"] == 21654  # the first folder
    assert order["source_name"] == "Order Desk"
    assert order["payment_status"] == "Captured"
    assert order["shipping"] == {"company": "Acme"}  # copied from the customer
    assert sim.folder_name_of(STORE_ID, order["id"]) == "New"


def test_put_replaces_the_order_but_keeps_shipments(
    api: Api, sim: OrderDeskSimulator, typical_order: dict[str, Any]
) -> None:
    order_id = sim.create_order(STORE_ID, typical_order, fire_rule=False)["id"]
    api.post(f"/orders/{order_id}/shipments", json={"tracking_number": "T1", "carrier_code": "UPS"})
    replacement = {"shipping": {"first_name": "Lee"}, "order_items": [{"name": "Tote"}]}

    # Order Desk's own samples update with POST + X-HTTP-Method-Override.
    response = api.post(
        f"/orders/{order_id}", json=replacement, headers={"X-HTTP-Method-Override": "PUT"}
    )

    assert response.json()["message"] == "Order Updated"
    order = sim.order(STORE_ID, order_id)
    assert "email" not in order
    assert [item["name"] for item in order["order_items"]] == ["Tote"]
    assert [s["tracking_number"] for s in order["order_shipments"]] == ["T1"]
    assert order["folder_id"] == typical_order["folder_id"]


def test_move_orders_by_id_and_by_name(api: Api, sim: OrderDeskSimulator) -> None:
    ids = _seed(sim, ["2025-01-01", "2025-01-02"])

    by_id = api.post(
        "/move-orders", json={"order_id_list": [int(ids[0]), 4242], "destination_folder_id": 21656}
    ).json()
    by_name = api.post(
        "/move-orders", json={"order_id_list": [ids[1]], "destination_folder_name": "Prepared"}
    ).json()

    assert by_id["status"] == "success"
    assert by_id["message"] == "1 Orders Moved"
    assert by_id["results"][0] == {
        "order_id": int(ids[0]),
        "message": "Order Moved to In Process Folder",
        "original_folder_id": 21654,
    }
    assert by_id["results"][1]["order_id"] == 4242
    assert by_id["results"][1]["message"] == "Order Not Found"
    assert by_name["results"][0]["message"] == "Order Moved to Prepared Folder"
    assert sim.folder_name_of(STORE_ID, ids[0]) == "In Process"
    assert sim.folder_name_of(STORE_ID, ids[1]) == "Prepared"
    assert "In Process" in sim.history(STORE_ID, ids[0])[-1]["note"]
    assert sim.order(STORE_ID, ids[0])["date_updated"] > "2025-01-01 12:00:00"


@pytest.mark.parametrize(
    "destination",
    [{}, {"destination_folder_id": 21656, "destination_folder_name": "In Process"}],
    ids=["neither", "both"],
)
def test_move_orders_needs_exactly_one_destination(
    api: Api, sim: OrderDeskSimulator, destination: dict[str, Any]
) -> None:
    (order_id,) = _seed(sim, ["2025-01-01"])

    response = api.post("/move-orders", json={"order_id_list": [order_id], **destination})

    assert response.json()["status"] == "error"
    assert sim.folder_name_of(STORE_ID, order_id) == "New"
    assert sim.history(STORE_ID, order_id) == []


def test_history_note_is_appended_and_long_notes_refused(api: Api, sim: OrderDeskSimulator) -> None:
    (order_id,) = _seed(sim, ["2025-01-01"])

    added = api.post(f"/orders/{order_id}/order-history", json={"note": "Sent to warehouse"})
    too_long = api.post(f"/orders/{order_id}/order-history", json={"note": "x" * 1801})

    body = added.json()
    assert body["status"] == "success"
    assert body["order"]["order_history"][-1]["note"] == "Sent to warehouse"
    assert body["order"]["order_history"][-1]["source_name"] == "API"
    assert too_long.json()["status"] == "error"
    assert [h["note"] for h in sim.history(STORE_ID, order_id)] == ["Sent to warehouse"]
    assert sim.order(STORE_ID, order_id)["date_updated"] > "2025-01-01 12:00:00"
