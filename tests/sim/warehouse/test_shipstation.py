"""The "shipstation" kind over real HTTP: ShipStation v1's create, upsert, lists and limits."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import requests

from bridge.sim.warehouse import WarehouseSimulator
from bridge.sim.warehouse.pacific import PACIFIC, format_pacific

from .support import KEY, SECRET, Api, ss_order, wait_for

SS_STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{7}$")


def test_wrong_or_missing_credentials_are_refused(ss_sim: WarehouseSimulator) -> None:
    assert requests.get(ss_sim.url + "/orders", timeout=5).status_code == 401
    wrong = requests.get(ss_sim.url + "/orders", auth=(KEY, "nope"), timeout=5)
    assert wrong.status_code == 401
    assert wrong.headers["WWW-Authenticate"].startswith("Basic")
    bearer = requests.get(
        ss_sim.url + "/orders", headers={"Authorization": f"Bearer {KEY}"}, timeout=5
    )
    assert bearer.status_code == 401
    assert SECRET not in wrong.text


def test_create_returns_the_order_with_an_integer_id(ss: Api, ss_sim: WarehouseSimulator) -> None:
    reply = ss.post("/orders/createorder", json=ss_order("1001"))
    assert reply.status_code == 200
    order = reply.json()
    assert isinstance(order["orderId"], int)
    assert (order["orderNumber"], order["orderKey"]) == ("1001", "od-1-1001")
    assert order["orderStatus"] == "awaiting_shipment"
    assert order["orderDate"] == "2026-11-20T09:04:12.0000000"
    assert SS_STAMP.match(order["modifyDate"])
    assert [i["lineItemKey"] for i in order["items"]] == ["99120001", "99120002"]
    assert order["advancedOptions"] == {"customField1": "od:48211937"}
    fetched = ss.get(f"/orders/{order['orderId']}").json()
    assert fetched["orderKey"] == "od-1-1001"
    assert ss.get("/orders/999999").status_code == 404
    assert ss_sim.create_calls == 1


def test_same_order_key_updates_the_same_order(ss: Api, ss_sim: WarehouseSimulator) -> None:
    first = ss.post("/orders/createorder", json=ss_order("1001")).json()
    again = ss.post(
        "/orders/createorder", json=ss_order("1001", customerNotes="leave at door")
    ).json()
    assert again["orderId"] == first["orderId"]
    assert again["customerNotes"] == "leave at door"
    listing = ss.get("/orders").json()
    assert listing["total"] == 1
    assert ss_sim.create_calls == 2


def test_missing_order_key_creates_a_new_order_each_time(ss: Api) -> None:
    body = ss_order("1001")
    del body["orderKey"]
    first = ss.post("/orders/createorder", json=body).json()
    second = ss.post("/orders/createorder", json=body).json()
    assert first["orderId"] != second["orderId"]
    assert first["orderKey"] != second["orderKey"]


def test_update_is_refused_once_shipped(ss: Api, ss_sim: WarehouseSimulator) -> None:
    ss.post("/orders/createorder", json=ss_order("1001"))
    ss_sim.ship("od-1-1001")
    reply = ss.post("/orders/createorder", json=ss_order("1001", customerNotes="changed"))
    assert reply.status_code == 400
    assert "shipped" in reply.json()["Message"]
    assert ss_sim.order_by_key("od-1-1001")["customerNotes"] is None


def test_cancel_by_order_status_then_no_more_updates(ss: Api, ss_sim: WarehouseSimulator) -> None:
    ss.post("/orders/createorder", json=ss_order("1001"))
    cancelled = ss.post("/orders/createorder", json=ss_order("1001", orderStatus="cancelled"))
    assert cancelled.status_code == 200
    assert cancelled.json()["orderStatus"] == "cancelled"
    assert ss.get("/orders", params={"orderStatus": "cancelled"}).json()["total"] == 1
    refused = ss.post("/orders/createorder", json=ss_order("1001"))
    assert refused.status_code == 400
    assert "cancelled" in refused.json()["Message"]


def test_invalid_body_and_refused_address_are_400_with_model_state(
    ss: Api, ss_sim: WarehouseSimulator
) -> None:
    missing = ss.post("/orders/createorder", json={"orderKey": "x"})
    assert missing.status_code == 400
    state = missing.json()["ModelState"]
    assert {"apiOrder.orderNumber", "apiOrder.orderDate", "apiOrder.shipTo"} <= set(state)
    too_long = ss.post("/orders/createorder", json=ss_order("9" * 51))
    assert too_long.status_code == 400
    ss_sim.refuse_addresses_containing("INVALID")
    body = ss_order("1002")
    body["shipTo"]["street1"] = "1 Invalid Road"
    refused = ss.post("/orders/createorder", json=body)
    assert refused.status_code == 400
    assert refused.json()["Message"] == "The request is invalid."
    assert "apiOrder.shipTo.street1" in refused.json()["ModelState"]
    assert ss_sim.orders() == []


def test_bulk_create_reports_each_order(ss: Api, ss_sim: WarehouseSimulator) -> None:
    ss_sim.refuse_addresses_containing("INVALID")
    bad = ss_order("2002")
    bad["shipTo"]["street1"] = "INVALID"
    reply = ss.post("/orders/createorders", json=[ss_order("2001"), bad, ss_order("2003")]).json()
    assert reply["hasErrors"] is True
    results = reply["results"]
    assert [r["orderNumber"] for r in results] == ["2001", "2002", "2003"]
    assert [r["success"] for r in results] == [True, False, True]
    assert results[1]["errorMessage"] and results[0]["errorMessage"] is None
    assert results[0]["orderId"] == ss_sim.order_by_key("od-1-2001")["orderId"]
    assert sorted(o["orderNumber"] for o in ss_sim.orders()) == ["2001", "2003"]
    ok = ss.post("/orders/createorders", json=[ss_order("2004")]).json()
    assert ok["hasErrors"] is False


def test_bulk_create_refuses_more_than_100(ss: Api, ss_sim: WarehouseSimulator) -> None:
    reply = ss.post("/orders/createorders", json=[ss_order(str(n)) for n in range(101)])
    assert reply.status_code == 400
    assert ss_sim.orders() == []
    assert ss.post("/orders/createorders", json={"not": "a list"}).status_code == 400


def test_orders_paging_at_the_boundaries(ss: Api) -> None:
    for n in range(5):
        ss.post("/orders/createorder", json=ss_order(f"30{n}"))
    pages = [ss.get("/orders", params={"page": p, "pageSize": 2}).json() for p in (1, 2, 3, 4)]
    assert [len(p["orders"]) for p in pages] == [2, 2, 1, 0]
    assert {(p["total"], p["pages"]) for p in pages} == {(5, 3)}
    numbers = [o["orderNumber"] for p in pages for o in p["orders"]]
    assert numbers == ["300", "301", "302", "303", "304"]
    exact = ss.get("/orders", params={"pageSize": 5}).json()
    assert (len(exact["orders"]), exact["pages"]) == (5, 1)
    assert ss.get("/orders", params={"page": 0}).status_code == 400
    assert ss.get("/orders", params={"pageSize": "many"}).status_code == 400


def test_order_number_filter_is_starts_with(ss: Api) -> None:
    for number in ("100", "1001", "2100"):
        ss.post("/orders/createorder", json=ss_order(number))
    found = ss.get("/orders", params={"orderNumber": "100"}).json()["orders"]
    assert sorted(o["orderNumber"] for o in found) == ["100", "1001"]


def test_page_size_above_the_maximum_is_clamped() -> None:
    with WarehouseSimulator("shipstation", KEY, SECRET, max_page_size=3) as sim:
        auth = (KEY, SECRET)
        for n in range(4):
            requests.post(
                sim.url + "/orders/createorder", json=ss_order(f"40{n}"), auth=auth, timeout=5
            )
        reply = requests.get(sim.url + "/orders?pageSize=500", auth=auth, timeout=5).json()
        assert (len(reply["orders"]), reply["pages"], reply["total"]) == (3, 2, 4)


def test_shipments_paging_at_the_boundaries(ss: Api, ss_sim: WarehouseSimulator) -> None:
    for n in range(3):
        ss.post("/orders/createorder", json=ss_order(f"50{n}"))
        ss_sim.ship(f"od-1-50{n}")
    first = ss.get("/shipments", params={"page": 1, "pageSize": 2}).json()
    last = ss.get("/shipments", params={"page": 2, "pageSize": 2}).json()
    past = ss.get("/shipments", params={"page": 3, "pageSize": 2}).json()
    assert (len(first["shipments"]), len(last["shipments"]), len(past["shipments"])) == (2, 1, 0)
    assert (first["total"], first["pages"]) == (3, 2)
    ids = [s["shipmentId"] for s in first["shipments"] + last["shipments"]]
    assert len(set(ids)) == 3
    newest = ss.get("/shipments", params={"sortBy": "ShipDate", "sortDir": "DESC"}).json()
    assert newest["shipments"][0]["orderNumber"] == "502"


def test_dates_are_pacific_and_filters_read_pacific(ss: Api, ss_sim: WarehouseSimulator) -> None:
    ss.post("/orders/createorder", json=ss_order("6001"))
    summer = datetime(2026, 7, 4, 19, 30, tzinfo=UTC)  # 12:30 PDT (UTC-7)
    ss_sim.ship("od-1-6001", at=summer)
    ss.post("/orders/createorder", json=ss_order("6002"))
    winter = datetime(2026, 11, 20, 17, 4, 12, tzinfo=UTC)  # 09:04:12 PST (UTC-8)
    ss_sim.ship("od-1-6002", at=winter)

    rows = {s["orderNumber"]: s for s in ss.get("/shipments").json()["shipments"]}
    assert rows["6001"]["shipDate"] == "2026-07-04T12:30:00.0000000"
    assert rows["6002"]["createDate"] == "2026-11-20T09:04:12.0000000"

    def shipped(start: str, end: str) -> list[str]:
        params = {"shipDateStart": start, "shipDateEnd": end}
        return [s["orderNumber"] for s in ss.get("/shipments", params=params).json()["shipments"]]

    assert shipped("2026-07-04 12:00:00", "2026-07-04 12:45:00") == ["6001"]
    # The same window read as UTC would contain it; read as Pacific it does not.
    assert shipped("2026-07-04T19:00:00", "2026-07-04T20:00:00") == []
    assert shipped("2026-11-20T09:04:12.0000000", "2026-11-20T09:04:12.0000000") == ["6002"]
    assert shipped("2026-11-20", "2026-11-20T09:04:11") == []
    assert ss.get("/shipments", params={"shipDateStart": "yesterday"}).status_code == 400


def test_orders_filter_by_modify_date_in_pacific(ss: Api) -> None:
    ss.post("/orders/createorder", json=ss_order("6101"))
    now_pacific = datetime.now(UTC).astimezone(PACIFIC).replace(tzinfo=None)
    before = (now_pacific - timedelta(minutes=5)).isoformat(sep=" ", timespec="seconds")
    after = (now_pacific + timedelta(minutes=5)).isoformat(sep=" ", timespec="seconds")
    assert ss.get("/orders", params={"modifyDateStart": before}).json()["total"] == 1
    assert ss.get("/orders", params={"modifyDateStart": after}).json()["total"] == 0
    # UTC wall time five minutes ago, read as Pacific, lies hours in the future.
    utc_wall = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=5)
    assert ss.get("/orders", params={"modifyDateStart": utc_wall.isoformat()}).json()["total"] == 0


def test_multi_package_is_one_shipment_row_per_label(ss: Api, ss_sim: WarehouseSimulator) -> None:
    ss.post("/orders/createorder", json=ss_order("7001"))
    ids = ss_sim.ship(
        "od-1-7001",
        packages=[
            {"lines": [{"sku": "MUG", "quantity": 2}], "weight_oz": 30},
            {"lines": [{"sku": "TOTE", "quantity": 1}], "tracking_number": "1Z999AA10123456784"},
        ],
    )
    assert len(ids) == 2
    reply = ss.get(
        "/shipments", params={"orderNumber": "7001", "includeShipmentItems": "true"}
    ).json()
    rows = reply["shipments"]
    assert [str(r["shipmentId"]) for r in rows] == ids
    assert rows[0]["shipmentItems"] == [
        {
            "orderItemId": rows[0]["shipmentItems"][0]["orderItemId"],
            "lineItemKey": "99120001",
            "sku": "MUG",
            "name": "Trail Mug",
            "quantity": 2,
            "unitPrice": 24.0,
        }
    ]
    assert rows[0]["weight"] == {"value": 30.0, "units": "ounces", "WeightUnits": 1}
    assert rows[1]["trackingNumber"] == "1Z999AA10123456784"
    assert rows[0]["trackingNumber"] != rows[1]["trackingNumber"]
    assert ss_sim.order_by_key("od-1-7001")["orderStatus"] == "shipped"
    plain = ss.get("/shipments", params={"orderNumber": "7001"}).json()["shipments"]
    assert plain[0]["shipmentItems"] is None
    by_tracking = ss.get("/shipments", params={"trackingNumber": "1Z999AA10123456784"}).json()
    assert [s["orderNumber"] for s in by_tracking["shipments"]] == ["7001"]


def test_partial_shipment_keeps_the_order_awaiting_shipment(
    ss: Api, ss_sim: WarehouseSimulator
) -> None:
    ss.post("/orders/createorder", json=ss_order("7101"))
    ss_sim.ship("od-1-7101", packages=[{"lines": [{"sku": "MUG", "quantity": 1}]}])
    assert (
        ss.get("/orders", params={"orderNumber": "7101"}).json()["orders"][0]["orderStatus"]
        == "awaiting_shipment"
    )
    ss_sim.ship("od-1-7101")  # the rest
    order = ss.get("/orders", params={"orderNumber": "7101"}).json()["orders"][0]
    assert order["orderStatus"] == "shipped"
    items = ss.get(
        "/shipments", params={"orderNumber": "7101", "includeShipmentItems": "true"}
    ).json()["shipments"][1]["shipmentItems"]
    assert {(i["sku"], i["quantity"]) for i in items} == {("MUG", 1), ("TOTE", 1)}


def test_void_marks_the_label_and_is_found_by_void_date(
    ss: Api, ss_sim: WarehouseSimulator
) -> None:
    ss.post("/orders/createorder", json=ss_order("8001"))
    (shipment_id,) = ss_sim.ship("od-1-8001")
    since = format_pacific(datetime.now(UTC) - timedelta(minutes=1))
    assert ss.get("/shipments", params={"voidDateStart": since}).json()["total"] == 0
    ss_sim.void(shipment_id)
    voided = ss.get("/shipments", params={"voidDateStart": since}).json()["shipments"]
    assert [str(s["shipmentId"]) for s in voided] == [shipment_id]
    assert voided[0]["voided"] is True and SS_STAMP.match(voided[0]["voidDate"])
    later = format_pacific(datetime.now(UTC) + timedelta(minutes=1))
    assert ss.get("/shipments", params={"voidDateStart": later}).json()["total"] == 0
    assert ss_sim.order_by_key("od-1-8001")["orderStatus"] == "awaiting_shipment"


def test_external_shipments_only_under_fulfillments(ss: Api, ss_sim: WarehouseSimulator) -> None:
    ss.post("/orders/createorder", json=ss_order("9001"))
    ss.post("/orders/createorder", json=ss_order("9002"))
    (fulfillment_id,) = ss_sim.ship("od-1-9001", external=True, carrier="fedex")
    ss_sim.ship("od-1-9002")
    shipments = ss.get("/shipments").json()["shipments"]
    fulfillments = ss.get("/fulfillments").json()
    assert [s["orderNumber"] for s in shipments] == ["9002"]
    assert [f["orderNumber"] for f in fulfillments["fulfillments"]] == ["9001"]
    row = fulfillments["fulfillments"][0]
    assert str(row["fulfillmentId"]) == fulfillment_id
    assert row["carrierCode"] == "fedex" and re.fullmatch(r"\d{12}", row["trackingNumber"])
    assert row["voided"] is False and fulfillments["pages"] == 1
    order = ss_sim.order_by_key("od-1-9001")
    assert order["orderStatus"] == "shipped" and order["externallyFulfilled"] is True
    assert ss.get("/fulfillments", params={"orderNumber": "9002"}).json()["total"] == 0


def test_rate_limit_answers_429_with_headers_after_the_limit() -> None:
    with WarehouseSimulator("shipstation", KEY, SECRET, rate_limit_per_minute=5) as sim:
        replies = [
            requests.get(sim.url + "/orders", auth=(KEY, SECRET), timeout=5) for _ in range(6)
        ]
        assert [r.status_code for r in replies] == [200] * 5 + [429]
        assert [r.headers["X-Rate-Limit-Remaining"] for r in replies[:5]] == list("43210")
        over = replies[5]
        assert over.json() == {"message": "Too Many Requests"}
        assert over.headers["X-Rate-Limit-Limit"] == "5"
        assert over.headers["X-Rate-Limit-Remaining"] == "0"
        assert 0 < int(over.headers["X-Rate-Limit-Reset"]) <= 60
        assert sim.count_429 == 1
        assert sim.calls("GET", "/orders") == 6


def test_rate_limit_window_resets() -> None:
    with WarehouseSimulator(
        "shipstation", KEY, SECRET, rate_limit_per_minute=2, rate_limit_window=0.5
    ) as sim:
        statuses = [
            requests.get(sim.url + "/carriers", auth=(KEY, SECRET), timeout=5).status_code
            for _ in range(3)
        ]
        assert statuses == [200, 200, 429]
        wait_for(
            lambda: requests.get(sim.url + "/carriers", auth=(KEY, SECRET), timeout=5).ok,
            timeout=3,
        )


def test_tracking_numbers_have_each_carriers_shape(ss: Api, ss_sim: WarehouseSimulator) -> None:
    shapes = {
        "ups": (r"1Z[0-9A-Z]{16}", "https://www.ups.com/track?tracknum="),
        "usps": (r"\d{22}", "https://tools.usps.com/"),
        "fedex": (r"\d{12}", "https://www.fedex.com/"),
    }
    for index, carrier in enumerate(shapes):
        ss.post("/orders/createorder", json=ss_order(f"95{index}"))
        ss_sim.ship(f"od-1-95{index}", carrier=carrier)
    rows = ss.get("/shipments").json()["shipments"]
    for row, (carrier, (pattern, _)) in zip(rows, shapes.items(), strict=True):
        assert row["carrierCode"] == carrier
        assert re.fullmatch(pattern, row["trackingNumber"]), row["trackingNumber"]
