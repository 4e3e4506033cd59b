"""The "simulated" kind over real HTTP: reject-duplicates creates, events cursor, cancel, stock."""

from __future__ import annotations

import re

import requests

from bridge.sim.warehouse import WarehouseSimulator

from .support import KEY, Api, native_order


def test_wrong_or_missing_token_is_refused(native_sim: WarehouseSimulator) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {KEY}"}):
        reply = requests.get(native_sim.url + "/v1/orders", headers=headers, timeout=5)
        assert reply.status_code == 401
        assert reply.json() == {"error": "unauthorized"}
    assert native_sim.calls(path="/v1/orders") == 3


def test_health_answers_with_a_valid_token(native: Api) -> None:
    assert native.get("/v1/health").json() == {"ok": True}


def test_create_then_duplicate_is_409_with_the_existing_order(
    native: Api, native_sim: WarehouseSimulator
) -> None:
    created = native.post("/v1/orders", json=native_order("od-1-100"))
    assert created.status_code == 201
    order = created.json()["order"]
    assert re.fullmatch(r"wo_\d{6}", order["id"])
    assert (order["external_key"], order["status"]) == ("od-1-100", "received")
    assert order["created_at"].endswith("Z") and order["shipments"] == []
    assert [line["line_key"] for line in order["lines"]] == ["L1", "L2"]
    duplicate = native.post("/v1/orders", json=native_order("od-1-100", notes="again"))
    assert duplicate.status_code == 409
    assert duplicate.json()["error"] == "duplicate"
    assert duplicate.json()["order"]["id"] == order["id"]
    assert duplicate.json()["order"]["notes"] is None
    assert native_sim.create_calls == 1 and len(native_sim.orders()) == 1


def test_lookup_by_key_and_by_id(native: Api) -> None:
    order = native.post("/v1/orders", json=native_order("od-1-101")).json()["order"]
    native.post("/v1/orders", json=native_order("od-1-102"))
    found = native.get("/v1/orders", params={"external_key": "od-1-101"}).json()["orders"]
    assert [o["id"] for o in found] == [order["id"]]
    assert native.get("/v1/orders", params={"external_key": "none"}).json() == {"orders": []}
    assert native.get(f"/v1/orders/{order['id']}").json()["order"]["external_key"] == "od-1-101"
    assert native.get("/v1/orders/wo_999999").status_code == 404


def test_refused_address_and_bad_fields_are_422(
    native: Api, native_sim: WarehouseSimulator
) -> None:
    native_sim.refuse_addresses_containing("INVALID")
    body = native_order("od-1-103")
    body["ship_to"]["address1"] = "INVALID street 1"
    refused = native.post("/v1/orders", json=body)
    assert refused.status_code == 422
    assert refused.json() == {
        "error": "validation",
        "fields": {"ship_to.address1": "address not deliverable"},
    }
    bad = native.post("/v1/orders", json={"external_key": "k", "lines": [{"quantity": 0}]})
    assert bad.status_code == 422
    fields = bad.json()["fields"]
    assert {"order_number", "ship_to", "lines[0].sku", "lines[0].quantity"} <= set(fields)
    assert native_sim.orders() == []


def test_events_are_strictly_increasing_and_page_by_after(
    native: Api, native_sim: WarehouseSimulator
) -> None:
    for n in range(3):
        native.post("/v1/orders", json=native_order(f"od-1-20{n}"))
    native_sim.ship("od-1-200")
    order_id = native_sim.order_by_key("od-1-201")["id"]
    native.post(f"/v1/orders/{order_id}/cancel")
    seen: list[dict] = []
    after, has_more = 0, True
    while has_more:
        page = native.get("/v1/events", params={"after": after, "limit": 2}).json()
        assert len(page["events"]) <= 2
        seen.extend(page["events"])
        after, has_more = page["last_seq"], page["has_more"]
    seqs = [event["seq"] for event in seen]
    assert seqs == sorted(set(seqs)) and len(seqs) == 5
    assert [e["type"] for e in seen] == [
        "order.created",
        "order.created",
        "order.created",
        "shipment.created",
        "order.cancelled",
    ]
    assert seen[3]["order"]["status"] == "shipped" and seen[3]["at"].endswith("Z")
    tail = native.get("/v1/events", params={"after": after}).json()
    assert tail == {"events": [], "last_seq": after, "has_more": False}
    assert native.get("/v1/events", params={"limit": 101}).status_code == 400
    assert native.get("/v1/events", params={"limit": 0}).status_code == 400


def test_multi_package_shipment_and_void_events(
    native: Api, native_sim: WarehouseSimulator
) -> None:
    native.post("/v1/orders", json=native_order("od-1-300"))
    (shipment_id,) = native_sim.ship(
        "od-1-300",
        packages=[
            {"lines": [{"sku": "MUG", "quantity": 2}]},
            {"lines": [{"line_key": "L2", "quantity": 1}]},
        ],
        carrier="usps",
    )
    order = native_sim.order_by_key("od-1-300")
    (shipment,) = order["shipments"]
    assert shipment["id"] == shipment_id and order["status"] == "shipped"
    assert len(shipment["packages"]) == 2
    for package in shipment["packages"]:
        assert re.fullmatch(r"\d{22}", package["tracking_number"])
        assert package["tracking_url"].endswith(package["tracking_number"])
    assert {(line["sku"], line["quantity"]) for line in shipment["lines"]} == {
        ("MUG", 2),
        ("TOTE", 1),
    }
    native_sim.void(shipment_id)
    last = native.get("/v1/events").json()["events"][-1]
    assert last["type"] == "shipment.voided"
    assert last["order"]["shipments"][0]["voided"] is True
    assert last["order"]["status"] == "received"


def test_partial_shipment_is_partially_shipped(native: Api, native_sim: WarehouseSimulator) -> None:
    native.post("/v1/orders", json=native_order("od-1-301"))
    native_sim.ship("od-1-301", partial=True)
    order = native_sim.order_by_key("od-1-301")
    assert order["status"] == "partially_shipped"
    assert sum(line["quantity"] for line in order["shipments"][0]["lines"]) == 1


def test_cancel_before_shipping_then_too_late_after(
    native: Api, native_sim: WarehouseSimulator
) -> None:
    early = native.post("/v1/orders", json=native_order("od-1-400")).json()["order"]
    late = native.post("/v1/orders", json=native_order("od-1-401")).json()["order"]
    cancelled = native.post(f"/v1/orders/{early['id']}/cancel")
    assert cancelled.status_code == 200
    assert cancelled.json()["order"]["status"] == "cancelled"
    assert native.post(f"/v1/orders/{early['id']}/cancel").status_code == 200
    native_sim.ship("od-1-401", partial=True)
    too_late = native.post(f"/v1/orders/{late['id']}/cancel")
    assert too_late.status_code == 409
    assert too_late.json()["error"] == "too_late"
    assert too_late.json()["order"]["status"] == "partially_shipped"
    assert native.post("/v1/orders/wo_424242/cancel").status_code == 404


def test_inventory_lists_stock_and_shipping_takes_from_it(
    native: Api, native_sim: WarehouseSimulator
) -> None:
    native_sim.set_inventory("MUG", 10)
    native_sim.set_inventory("TOTE", 0)
    assert native.get("/v1/inventory").json() == {
        "items": [{"sku": "MUG", "available": 10}, {"sku": "TOTE", "available": 0}]
    }
    native.post("/v1/orders", json=native_order("od-1-500"))
    native_sim.ship("od-1-500")
    stock = {i["sku"]: i["available"] for i in native.get("/v1/inventory").json()["items"]}
    assert stock == {"MUG": 8, "TOTE": 0}


def test_rate_limit_answers_429_with_retry_after() -> None:
    with WarehouseSimulator("simulated", KEY, rate_limit_per_minute=2) as sim:
        headers = {"Authorization": f"Bearer {KEY}"}
        replies = [
            requests.get(sim.url + "/v1/health", headers=headers, timeout=5) for _ in range(3)
        ]
        assert [r.status_code for r in replies] == [200, 200, 429]
        assert 1 <= int(replies[2].headers["Retry-After"]) <= 60
        assert "Retry-After" not in replies[0].headers
        assert sim.count_429 == 1
