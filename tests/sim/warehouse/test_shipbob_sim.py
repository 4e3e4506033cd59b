"""The "shipbob" simulator kind over raw HTTP: what a ShipBob client meets on the wire."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from bridge.sim.warehouse import WarehouseSimulator
from bridge.sim.warehouse.shipbob import CHANNEL_ID

from .support import KEY, SECRET, Api, wait_for

V = "/2026-01"
ROOT = Path(__file__).resolve().parents[3]


def sb_order(key: str, **overrides: Any) -> dict[str, Any]:
    """A create body as the ShipBob backend sends it."""
    body: dict[str, Any] = {
        "reference_id": key,
        "order_number": key.rsplit("-", 1)[-1],
        "type": "DTC",
        "shipping_method": "Standard",
        "recipient": {
            "name": "Dana Reyes",
            "address": {
                "address1": "1450 Harbor Blvd",
                "city": "Costa Mesa",
                "state": "CA",
                "zip_code": "92626",
                "country": "US",
            },
        },
        "products": [
            {"reference_id": "MUG", "name": "Trail Mug", "quantity": 2, "external_line_id": "L1"},
            {"reference_id": "TOTE", "name": "Tote", "quantity": 1, "external_line_id": "L2"},
        ],
    }
    body.update(overrides)
    return body


@pytest.fixture
def sb_sim() -> Iterator[WarehouseSimulator]:
    with WarehouseSimulator("shipbob", KEY, SECRET, seed=3) as sim:
        yield sim


@pytest.fixture
def sb(sb_sim: WarehouseSimulator) -> Iterator[Api]:
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {KEY}"
        session.headers["shipbob_channel_id"] = str(CHANNEL_ID)
        yield Api(sb_sim.url + V, session)


def test_bearer_token_and_channel_header_are_required(sb_sim, sb) -> None:
    anonymous = requests.get(f"{sb_sim.url}{V}/channel", timeout=5)
    assert anonymous.status_code == 401
    wrong = requests.get(
        f"{sb_sim.url}{V}/channel", headers={"Authorization": "Bearer nope"}, timeout=5
    )
    assert wrong.status_code == 401
    [channel] = sb.get("/channel").json()
    assert channel["id"] == CHANNEL_ID and "orders_write" in channel["scopes"]

    headers = {"Authorization": f"Bearer {KEY}"}
    missing = requests.post(f"{sb.root}/order", json=sb_order("k-1"), headers=headers, timeout=5)
    assert missing.status_code == 400 and "shipbob_channel_id" in missing.json()["message"]
    other = requests.post(
        f"{sb.root}/order",
        json=sb_order("k-1"),
        headers={**headers, "shipbob_channel_id": "7"},
        timeout=5,
    )
    assert other.status_code == 403
    assert sb_sim.orders() == []


def test_reference_id_is_unique_and_fields_are_checked(sb_sim, sb) -> None:
    created = sb.post("/order", json=sb_order("od-1-1"))
    assert created.status_code == 201
    order = created.json()
    assert order["reference_id"] == "od-1-1" and order["status"] == "Processing"
    [open_shipment] = order["shipments"]
    assert open_shipment["status"] == "Processing" and open_shipment["tracking"] is None

    again = sb.post("/order", json=sb_order("od-1-1"))
    assert again.status_code == 422 and "Duplicate" in again.json()["message"]
    assert sb_sim.create_calls == 1

    bad = sb.post(
        "/order",
        json=sb_order(
            "od-1-2",
            shipping_method="",
            recipient={"name": "X", "address": {"address1": "1 Rd", "country": "USA"}},
            products=[{"reference_id": "MUG", "quantity": 0}],
        ),
    )
    assert bad.status_code == 400
    assert set(bad.json()) == {
        "shipping_method",
        "recipient.address.city",
        "recipient.address.country",
        "products[0].quantity",
    }


def test_list_filters_paging_and_the_tracking_uploaded_flag(sb_sim, sb) -> None:
    for n in range(3):
        sb.post("/order", json=sb_order(f"od-1-{n}"))
    [shipment_id] = sb_sim.ship("od-1-1")
    unacked = {"HasTracking": "true", "IsTrackingUploaded": "false"}
    listed = sb.get("/order", params=unacked)
    assert [o["reference_id"] for o in listed.json()] == ["od-1-1"]
    tracked = [s for s in listed.json()[0]["shipments"] if s["tracking"]]
    assert [s["id"] for s in tracked] == [int(shipment_id)]
    assert tracked[0]["status"] == "Completed" and not tracked[0]["is_tracking_uploaded"]

    page = sb.get("/order", params={"Limit": 2, "Page": 1, "SortOrder": "Oldest"})
    assert [o["reference_id"] for o in page.json()] == ["od-1-0", "od-1-1"]
    assert page.headers["total-pages"] == "2" and page.headers["total-count"] == "3"
    assert "Page=2" in page.headers["next-page"]
    assert sb.get("/order", params={"Limit": 251}).status_code == 400
    by_ref = sb.get("/order", params={"ReferenceIds": "od-1-2,od-1-0"}).json()
    assert sorted(o["reference_id"] for o in by_ref) == ["od-1-0", "od-1-2"]

    unknown = sb.post(
        "/shipment:batchUpdateTrackingUpload",
        json={"shipment_ids": [987654], "is_tracking_uploaded": True},
    )
    assert unknown.status_code == 400
    marked = sb.post(
        "/shipment:batchUpdateTrackingUpload",
        json={"shipment_ids": [int(shipment_id)], "is_tracking_uploaded": True},
    )
    assert marked.status_code == 200
    assert sb.get("/order", params=unacked).json() == []
    assert len(sb.get("/order", params={"HasTracking": "true"}).json()) == 1


def test_list_filters_by_creation_date_and_many_references(sb_sim, sb) -> None:
    for n in range(3):
        sb.post("/order", json=sb_order(f"od-1-{n}"))

    def keys(**params: str) -> list[str]:
        response = sb.get("/order", params={"SortOrder": "Oldest", **params})
        assert response.status_code == 200, response.text
        return [order["reference_id"] for order in response.json()]

    assert keys(ReferenceIds="od-1-2, od-1-0,od-1-nope") == ["od-1-0", "od-1-2"]
    assert keys(StartDate="2020-01-01T00:00:00Z") == ["od-1-0", "od-1-1", "od-1-2"]
    assert keys(EndDate="2020-01-01T00:00:00Z") == []
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert keys(StartDate="2020-01-01", EndDate=tomorrow) == ["od-1-0", "od-1-1", "od-1-2"]
    assert keys(StartDate=tomorrow) == []
    assert keys(StartDate="2020-01-01", ReferenceIds="od-1-1") == ["od-1-1"]
    refused = sb.get("/order", params={"StartDate": "last week"})
    assert refused.status_code == 400 and "StartDate" in refused.json()["message"]


def test_holds_cancel_per_shipment_and_inventory(sb_sim, sb) -> None:
    sb_sim.set_inventory("MUG", 7)
    for key in ("od-1-h", "od-1-s"):
        sb.post("/order", json=sb_order(key))
    sb_sim.set_status("od-1-h", "On Hold")
    held = sb.get("/order", params={"ReferenceIds": "od-1-h"}).json()[0]
    assert [s["status"] for s in held["shipments"]] == ["On Hold"]

    sb_sim.ship("od-1-s", packages=[{"lines": [{"sku": "MUG", "quantity": 1}]}])
    order_id = sb_sim.order_by_key("od-1-s")["id"]
    answer = sb.post(f"/order/{order_id}:cancel", json={}).json()
    outcomes = sorted(r["is_success"] for r in answer["canceled_shipment_results"])
    assert outcomes == [False, True]
    assert sb_sim.order_by_key("od-1-s")["status"] == "Cancelled"
    assert sb.post("/order/999999:cancel", json={}).status_code == 404

    [level] = sb.get("/inventory-level").json()["items"]
    assert level["sku"] == "MUG" and level["total_fulfillable_quantity"] == 6  # one shipped


def test_rate_limit_answers_429_with_x_retry_after() -> None:
    with (
        WarehouseSimulator("shipbob", KEY, rate_limit_per_minute=2, rate_limit_window=2.0) as sim,
        requests.Session() as session,
    ):
        session.headers["Authorization"] = f"Bearer {KEY}"
        answers = [session.get(f"{sim.url}{V}/channel", timeout=5) for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 429]
        assert [a.headers["x-remaining-calls"] for a in answers] == ["1", "0", "0"]
        assert 1 <= int(answers[2].headers["x-retry-after"]) <= 2
        assert answers[2].json()["statusCode"] == 429
        wait_for(lambda: session.get(f"{sim.url}{V}/channel", timeout=5).ok, timeout=4)


def test_the_command_serves_the_shipbob_kind() -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from bridge.cli.sim_warehouse import command; command()",
            "--kind",
            "shipbob",
            "--port",
            "0",
            "--api-key",
            "cli-token",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", process.stdout.readline())
        assert match
        url = match.group(1)
        assert requests.get(f"{url}{V}/channel", timeout=5).status_code == 401
        reply = requests.get(
            f"{url}{V}/channel", headers={"Authorization": "Bearer cli-token"}, timeout=5
        )
        assert reply.json()[0]["id"] == CHANNEL_ID
        process.terminate()
        process.communicate(timeout=10)
        assert process.returncode == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=5)
