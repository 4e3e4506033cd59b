"""Fault injection over real HTTP: latency, 5xx, and a create stored whose reply never comes."""

from __future__ import annotations

import time

import pytest
import requests

from bridge.sim.warehouse import WarehouseSimulator

from .support import Api, native_order, ss_order


def test_latency_delays_every_api_reply(native: Api, native_sim: WarehouseSimulator) -> None:
    native_sim.set_faults(latency=0.3)
    started = time.monotonic()
    assert native.get("/v1/health").status_code == 200
    assert time.monotonic() - started >= 0.3
    native_sim.clear_faults()
    started = time.monotonic()
    native.get("/v1/health")
    assert time.monotonic() - started < 0.3


def test_error_rate_one_fails_every_call_without_storing(
    ss: Api, ss_sim: WarehouseSimulator
) -> None:
    ss_sim.set_faults(error_rate=1.0)
    reply = ss.post("/orders/createorder", json=ss_order("1"))
    assert reply.status_code == 500
    assert reply.json() == {"Message": "An error has occurred."}
    assert ss_sim.orders() == []
    ss_sim.set_faults(error_rate=1.0, error_status=503, paths=["/shipments"])
    assert ss.get("/shipments").status_code == 503
    assert ss.get("/orders").status_code == 200
    assert ss_sim.calls(path="/shipments") == 1


def test_error_rate_is_repeatable_with_a_seed(native: Api, native_sim: WarehouseSimulator) -> None:
    def run() -> list[int]:
        native_sim.set_faults(error_rate=0.5, seed=7)
        return [native.get("/v1/health").status_code for _ in range(12)]

    first = run()
    assert first == run()
    assert {200, 500} == set(first)


@pytest.mark.parametrize("kind", ["shipstation", "simulated"])
def test_timeout_after_store_keeps_the_order_but_loses_the_reply(kind: str) -> None:
    with WarehouseSimulator(kind, "k", "s") as sim:
        sim.set_faults(timeout_after_store=1, hang_seconds=3.0)
        if kind == "shipstation":
            url, body, opts = sim.url + "/orders/createorder", ss_order("77"), {"auth": ("k", "s")}
            key = "od-1-77"
        else:
            url, body = sim.url + "/v1/orders", native_order("od-1-77")
            opts, key = {"headers": {"Authorization": "Bearer k"}}, "od-1-77"
        with pytest.raises(requests.exceptions.ReadTimeout):
            requests.post(url, json=body, timeout=0.4, **opts)
        assert sim.order_by_key(key) is not None
        assert sim.create_calls == 1
        retry = requests.post(url, json=body, timeout=5, **opts)
        # ShipStation upserts the retry; the native API reports the duplicate.
        assert retry.status_code == (200 if kind == "shipstation" else 409)
        assert len(sim.orders()) == 1


def test_faults_are_validated(native_sim: WarehouseSimulator) -> None:
    with pytest.raises(ValueError):
        native_sim.set_faults(error_rate=1.5)
    with pytest.raises(ValueError):
        native_sim.set_faults(error_status=404)


def test_throttle_answers_429_with_the_wait_then_ends(
    ss: Api, ss_sim: WarehouseSimulator, native: Api, native_sim: WarehouseSimulator
) -> None:
    ss_sim.throttle(1.5)
    reply = ss.post("/orders/createorder", json=ss_order("1"))
    assert reply.status_code == 429
    assert reply.headers["X-Rate-Limit-Remaining"] == "0"
    assert 1 <= int(reply.headers["X-Rate-Limit-Reset"]) <= 2
    assert ss_sim.orders() == []
    assert ss_sim.count_429 == 1
    native_sim.throttle(5)
    reply = native.get("/v1/health")
    assert reply.status_code == 429
    assert 4 <= int(reply.headers["Retry-After"]) <= 5
    native_sim.clear_faults()
    assert native.get("/v1/health").status_code == 200
    time.sleep(1.6)
    assert ss.post("/orders/createorder", json=ss_order("1")).status_code == 200


def test_keys_by_order_number_and_void_by_tracking_number(
    native: Api, native_sim: WarehouseSimulator
) -> None:
    native.post("/v1/orders", json=native_order("k-1", order_number="N-1"))
    native.post("/v1/orders", json=native_order("k-2", order_number="N-1"))
    assert native_sim.keys_for_number("N-1") == ["k-1", "k-2"]
    assert native_sim.keys_for_number("N-2") == []
    native_sim.ship("k-1", packages=[{"lines": [{"sku": "MUG"}], "tracking_number": "TRK-A"}])
    native_sim.void_package("TRK-A")
    shipment = native_sim.order_by_key("k-1")["shipments"][0]
    assert shipment["voided"] and shipment["packages"][0]["tracking_number"] == "TRK-A"
    with pytest.raises(KeyError):
        native_sim.void_package("TRK-NONE")
