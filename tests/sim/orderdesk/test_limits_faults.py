"""The leaky bucket and injected faults, observed through real HTTP calls."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from bridge.sim.orderdesk import OrderDeskSimulator
from bridge.sim.orderdesk.limits import LeakyBucket

from .conftest import API_KEY, STORE_ID, Api


def test_burst_overflows_the_bucket_with_order_desk_headers(
    api: Api, sim: OrderDeskSimulator
) -> None:
    responses = [api.get("/test") for _ in range(30)]

    ok = [r for r in responses if r.status_code == 200]
    limited = [r for r in responses if r.status_code == 429]
    assert len(ok) >= 20  # the full bucket, plus whatever leaked back in meanwhile
    assert limited, "a burst of 30 must overflow a 20-token bucket"
    remaining = [int(r.headers["X-Tokens-Remaining"]) for r in ok[:15]]
    assert remaining == sorted(remaining, reverse=True) and remaining[0] > remaining[-1]
    for response in limited:
        assert int(response.headers["X-Retry-After"]) >= 1
        assert response.json()["status"] == "error"
        assert response.headers["X-Tokens-Remaining"] == "0"
    assert sim.count_429 == len(limited)
    assert sim.calls("GET", "/test") == 30


def test_bucket_refills_at_the_configured_rate() -> None:
    now = [0.0]
    bucket = LeakyBucket(2, 4.0, clock=lambda: now[0])

    assert [bucket.take().allowed for _ in range(3)] == [True, True, False]
    assert bucket.take().retry_after == 1
    now[0] += 0.25
    assert bucket.take().allowed
    now[0] += 10
    assert bucket.tokens_remaining == 2


def test_buckets_are_per_store(api: Api, sim: OrderDeskSimulator) -> None:
    sim.add_store("777", "other-key")
    for _ in range(25):
        api.get("/test")

    other = api.get(
        "/test", headers={"ORDERDESK-STORE-ID": "777", "ORDERDESK-API-KEY": "other-key"}
    )

    assert other.status_code == 200


def test_without_rate_limit_nothing_is_refused() -> None:
    with OrderDeskSimulator(rate_limit=False) as sim:
        sim.add_store(STORE_ID, API_KEY)
        headers = {"ORDERDESK-STORE-ID": STORE_ID, "ORDERDESK-API-KEY": API_KEY}
        with requests.Session() as session:
            statuses = {
                session.get(f"{sim.url}/test", headers=headers).status_code for _ in range(30)
            }
        assert statuses == {200}
        assert sim.count_429 == 0


def test_429_storm_then_recovery(api: Api, sim: OrderDeskSimulator) -> None:
    sim.set_faults(storm_429_seconds=2)

    stormy = api.get("/orders")
    sim.clear_faults()
    calm = api.get("/orders")

    assert stormy.status_code == 429
    assert int(stormy.headers["X-Retry-After"]) in (1, 2)
    assert calm.status_code == 200
    assert sim.count_429 == 1


def test_error_rate_limited_to_paths_refuses_before_applying(
    api: Api, sim: OrderDeskSimulator, typical_order: dict[str, Any]
) -> None:
    order_id = sim.create_order(STORE_ID, typical_order, fire_rule=False)["id"]
    sim.set_faults(error_rate=1.0, error_status=503, paths=["/move-orders"])

    moved = api.post(
        "/move-orders", json={"order_id_list": [order_id], "destination_folder_name": "In Process"}
    )
    test = api.get("/test")

    assert moved.status_code == 503
    assert moved.json()["status"] == "error"
    assert sim.folder_name_of(STORE_ID, order_id) == "Prepared"
    assert test.status_code == 200


def test_seeded_error_rate_fails_a_fraction() -> None:
    with OrderDeskSimulator(rate_limit=False) as sim:
        sim.add_store(STORE_ID, API_KEY)
        sim.set_faults(error_rate=0.5, seed=7)
        headers = {"ORDERDESK-STORE-ID": STORE_ID, "ORDERDESK-API-KEY": API_KEY}
        with requests.Session() as session:
            statuses = [
                session.get(f"{sim.url}/test", headers=headers).status_code for _ in range(40)
            ]
    assert 5 <= statuses.count(500) <= 35
    assert statuses.count(200) == 40 - statuses.count(500)


def test_latency_delays_answers(api: Api, sim: OrderDeskSimulator) -> None:
    sim.set_faults(latency=0.3)

    started = time.perf_counter()
    response = api.get("/test")

    assert response.status_code == 200
    assert time.perf_counter() - started >= 0.3


def test_timeout_after_write_applies_the_write_but_the_client_times_out(
    api: Api, sim: OrderDeskSimulator, typical_order: dict[str, Any]
) -> None:
    order_id = sim.create_order(STORE_ID, typical_order, fire_rule=False)["id"]
    sim.set_faults(timeout_after_write=1, hang_seconds=3.0)
    shipment = {"tracking_number": "1ZAMBIGUOUS", "carrier_code": "UPS"}

    with pytest.raises(requests.Timeout):
        api.post(f"/orders/{order_id}/shipments", json=shipment, timeout=0.4)

    assert [s["tracking_number"] for s in sim.shipments(STORE_ID, order_id)] == ["1ZAMBIGUOUS"]
    # Reads are not held back, and the fault was spent on that one write.
    assert api.get(f"/orders/{order_id}/shipments", timeout=1.0).json()["total_records"] == 1
    retry = api.post(f"/orders/{order_id}/shipments", json=shipment, timeout=1.0)
    assert retry.json()["message"] == "Shipment Not Added"


def test_request_log_records_relative_paths(api: Api, sim: OrderDeskSimulator) -> None:
    api.get("/test")
    api.get("/orders/42")
    api.get("/orders/42/shipments")
    api.get("/test", headers={"ORDERDESK-API-KEY": "wrong"})

    log = sim.request_log
    assert [(r.method, r.path, r.status) for r in log] == [
        ("GET", "/test", 200),
        ("GET", "/orders/42", 404),
        ("GET", "/orders/42/shipments", 404),
        ("GET", "/test", 401),
    ]
    assert log[0].store_id == STORE_ID and log[0].tokens_remaining == 19
    assert sim.calls(path="/orders/") == 2
    assert sim.calls("GET", "/orders/42") == 1
    assert sim.calls("POST") == 0
    sim.reset_log()
    assert sim.request_log == []
