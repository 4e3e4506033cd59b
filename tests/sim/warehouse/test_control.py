"""The ``/_sim/`` control routes that ``bridge dev`` uses when the simulator runs elsewhere."""

from __future__ import annotations

import requests

from bridge.sim.warehouse import WarehouseSimulator

from .support import Api, native_order, ss_order, wait_for


def test_control_routes_need_no_auth_and_are_not_logged(
    native: Api, native_sim: WarehouseSimulator
) -> None:
    native.post("/v1/orders", json=native_order("od-1-1"))
    root = native_sim.url + "/_sim"
    orders = requests.get(root + "/orders", timeout=5).json()["orders"]
    assert [o["external_key"] for o in orders] == ["od-1-1"]
    shipped = requests.post(root + "/orders/od-1-1/ship", json={"partial": True}, timeout=5)
    assert shipped.status_code == 200
    (shipment_id,) = shipped.json()["shipment_ids"]
    assert native_sim.order_by_key("od-1-1")["status"] == "partially_shipped"
    assert requests.post(root + f"/shipments/{shipment_id}/void", timeout=5).ok
    assert native_sim.order_by_key("od-1-1")["shipments"][0]["voided"] is True
    log = requests.get(root + "/requests", timeout=5).json()
    assert [(r["method"], r["path"], r["status"]) for r in log["requests"]] == [
        ("POST", "/v1/orders", 201)
    ]
    assert log["count_429"] == 0


def test_control_errors_are_plain(native_sim: WarehouseSimulator) -> None:
    root = native_sim.url + "/_sim"
    missing = requests.post(root + "/orders/nope/ship", json={}, timeout=5)
    assert missing.status_code == 404 and "nope" in missing.json()["error"]
    assert requests.post(root + "/faults", json={"colour": 1}, timeout=5).status_code == 400
    assert (
        requests.post(root + "/auto-ship", json={"mode": "x", "delay": 1}, timeout=5).status_code
        == 400
    )
    assert requests.post(root + "/inventory", json={"sku": "A"}, timeout=5).status_code == 400


def test_faults_and_auto_ship_over_http(ss: Api, ss_sim: WarehouseSimulator) -> None:
    root = ss_sim.url + "/_sim"
    assert requests.post(root + "/faults", json={"error_rate": 1.0}, timeout=5).ok
    assert ss.get("/orders").status_code == 500
    assert requests.post(root + "/faults", json={}, timeout=5).ok
    assert ss.get("/orders").status_code == 200
    assert requests.post(root + "/auto-ship", json={"delay": 0.1, "mode": "single"}, timeout=5).ok
    ss.post("/orders/createorder", json=ss_order("5001"))
    wait_for(lambda: ss_sim.order_by_key("od-1-5001")["orderStatus"] == "shipped")
    assert requests.post(root + "/inventory", json={"sku": "MUG", "available": 3}, timeout=5).ok


def test_throttle_over_http(native: Api, native_sim: WarehouseSimulator) -> None:
    root = native_sim.url + "/_sim"
    assert requests.post(root + "/throttle", json={"seconds": 30}, timeout=5).ok
    refused = native.get("/v1/health")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 29
    assert requests.post(root + "/throttle", json={"seconds": 0}, timeout=5).ok
    assert native.get("/v1/health").status_code == 200
    assert requests.post(root + "/throttle", json={"seconds": -1}, timeout=5).status_code == 400
