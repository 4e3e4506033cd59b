"""Shipments (single, duplicate, batch) and inventory items over HTTP."""

from __future__ import annotations

from typing import Any

import pytest

from bridge.sim.orderdesk import OrderDeskSimulator

from .conftest import STORE_ID, Api

UPS = {
    "tracking_number": "1Z999AA10123456784",
    "carrier_code": "UPS",
    "shipment_method": "Ground",
    "weight": 2.4,
    "cost": 7.85,
}


@pytest.fixture
def order_id(sim: OrderDeskSimulator, typical_order: dict[str, Any]) -> str:
    return sim.create_order(STORE_ID, typical_order, fire_rule=False)["id"]


def test_shipment_is_added_once_then_refused_then_deleted(
    api: Api, sim: OrderDeskSimulator, order_id: str
) -> None:
    first = api.post(f"/orders/{order_id}/shipments", json=UPS)
    repeat = api.post(f"/orders/{order_id}/shipments", json=UPS)

    assert first.status_code == 200
    assert first.json()["status"] == "success"
    assert first.json()["message"] == "Shipment Added"
    assert "shipment" not in first.json()
    assert repeat.status_code == 200
    assert repeat.json()["status"] == "error"
    assert repeat.json()["message"] == "Shipment Not Added"

    listed = api.get(f"/orders/{order_id}/shipments").json()
    assert listed["total_records"] == 1
    shipment = listed["shipments"][0]
    assert shipment["weight"] == "2.4"
    assert shipment["print_status"] == "0"
    assert shipment["order_items"] == ""
    assert shipment["order_id"] == order_id
    assert shipment["tracking_url"].endswith("1Z999AA10123456784")
    assert len(shipment["date_shipped"]) == 10
    assert api.get(f"/orders/{order_id}/shipments/{shipment['id']}").json()["shipment"] == shipment

    deleted = api.delete(f"/orders/{order_id}/shipments/{shipment['id']}")
    assert deleted.json()["message"] == f"Shipment {shipment['id']} Deleted"
    assert sim.shipments(STORE_ID, order_id) == []
    assert api.post(f"/orders/{order_id}/shipments", json=UPS).json()["status"] == "success"


def test_same_tracking_with_another_carrier_is_a_new_shipment(
    api: Api, sim: OrderDeskSimulator, order_id: str
) -> None:
    api.post(f"/orders/{order_id}/shipments", json=UPS)
    other = api.post(f"/orders/{order_id}/shipments", json={**UPS, "carrier_code": "FedEx"})

    assert other.json()["status"] == "success"
    assert len(sim.shipments(STORE_ID, order_id)) == 2


def test_shipment_update_changes_fields(api: Api, sim: OrderDeskSimulator, order_id: str) -> None:
    api.post(f"/orders/{order_id}/shipments", json=UPS)
    (shipment,) = sim.shipments(STORE_ID, order_id)

    updated = api.put(
        f"/orders/{order_id}/shipments/{shipment['id']}",
        json={"tracking_number": "1ZNEW", "carrier_code": "UPS", "weight": 3},
    )

    assert updated.json()["status"] == "success"
    (after,) = sim.shipments(STORE_ID, order_id)
    assert after["tracking_number"] == "1ZNEW"
    assert after["weight"] == "3"


def test_batch_reports_each_item_inside_a_200(
    api: Api, sim: OrderDeskSimulator, order_id: str, typical_order: dict[str, Any]
) -> None:
    second = sim.create_order(STORE_ID, typical_order, fire_rule=False)["id"]
    api.post(f"/orders/{order_id}/shipments", json=UPS)
    batch = [
        {
            "order_id": int(second),
            "tracking_number": "9400110200881234567890",
            "carrier_code": "USPS",
        },
        {"order_id": 4242, "tracking_number": "X1", "carrier_code": "UPS"},
        {"order_id": order_id, **UPS},
    ]

    response = api.post("/batch-shipments", json=batch)

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "success"
    results = body["results"]
    assert [r["status"] for r in results] == ["success", "error", "error"]
    assert results[0]["message"] == "Shipment Added"
    assert results[0]["order_id"] == int(second)
    assert results[0]["shipment_id"] == sim.shipments(STORE_ID, second)[0]["id"]
    assert results[1]["message"] == "Order Not Found"
    assert results[2]["message"] == "Shipment Not Added"
    assert len(sim.shipments(STORE_ID, order_id)) == 1


def test_batch_over_one_hundred_is_refused_whole(
    api: Api, sim: OrderDeskSimulator, order_id: str
) -> None:
    batch = [{"order_id": order_id, "tracking_number": f"T{n}"} for n in range(101)]

    response = api.post("/batch-shipments", json=batch)

    assert response.json()["status"] == "error"
    assert sim.shipments(STORE_ID, order_id) == []


def test_inventory_crud_and_loose_types(api: Api, sim: OrderDeskSimulator) -> None:
    mug = api.post(
        "/inventory-items", json={"name": "Trail Mug", "code": "MUG-1", "stock": 5, "price": "24"}
    ).json()["inventory_item"]
    sim.add_inventory_item(STORE_ID, {"name": "Tote", "code": "TOTE-1", "stock": 2})

    listed = api.get("/inventory-items").json()
    by_code = api.get("/inventory-items", params={"code": "TOTE-1"}).json()
    replaced = api.put(f"/inventory-items/{mug['id']}", json={"name": "Mug", "code": "MUG-1"})
    deleted = api.delete(f"/inventory-items/{mug['id']}")

    assert isinstance(mug["id"], int)
    assert listed["total_records"] == "2"
    assert listed["records_returned"] == 2
    assert [item["code"] for item in by_code["inventory_items"]] == ["TOTE-1"]
    assert replaced.json()["inventory_item"]["price"] == ""  # omitted fields are blanked
    assert deleted.json()["message"] == f"Inventory Item {mug['id']} Deleted"
    assert [item["code"] for item in sim.inventory(STORE_ID)] == ["TOTE-1"]


def test_batch_inventory_updates_by_id_or_code(api: Api, sim: OrderDeskSimulator) -> None:
    mug = sim.add_inventory_item(STORE_ID, {"name": "Mug", "code": "MUG-1", "stock": 5})
    sim.add_inventory_item(STORE_ID, {"name": "Tote", "code": "TOTE-1", "stock": 2})

    response = api.put(
        "/batch-inventory-items",
        json=[{"id": mug["id"], "stock": 9}, {"code": "TOTE-1", "stock": 0}, {"code": "NOPE"}],
    )

    results = response.json()["results"]
    assert response.status_code == 200
    assert [r["status"] for r in results] == ["success", "success", "error"]
    stock = {item["code"]: item["stock"] for item in sim.inventory(STORE_ID)}
    assert stock == {"MUG-1": 9, "TOTE-1": 0}
    assert sim.inventory(STORE_ID)[0]["name"] == "Mug"
