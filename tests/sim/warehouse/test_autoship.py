"""Auto-ship on the background timer (polled with a deadline) and through ``tick()``."""

from __future__ import annotations

import threading

import pytest

from bridge.sim.warehouse import WarehouseSimulator

from .support import Api, native_order, ss_order, wait_for


def _units(order: dict) -> int:
    return sum(
        line["quantity"] for s in order["shipments"] if not s["voided"] for line in s["lines"]
    )


def test_single_mode_ships_one_package_after_the_delay(
    native: Api, native_sim: WarehouseSimulator
) -> None:
    native_sim.set_auto_ship(0.3, "single")
    native.post("/v1/orders", json=native_order("od-1-1"))
    assert native_sim.order_by_key("od-1-1")["status"] == "received"
    order = wait_for(lambda: (o := native_sim.order_by_key("od-1-1"))["shipments"] and o)
    assert order["status"] == "shipped"
    assert len(order["shipments"]) == 1 and len(order["shipments"][0]["packages"]) == 1


def test_multi_mode_ships_two_labels_on_shipstation(ss: Api, ss_sim: WarehouseSimulator) -> None:
    ss_sim.set_auto_ship(0.1, "multi")
    ss.post("/orders/createorder", json=ss_order("2001"))
    rows = wait_for(lambda: ss.get("/shipments").json()["shipments"])
    assert len(rows) == 2
    assert len({row["trackingNumber"] for row in rows}) == 2
    assert ss_sim.order_by_key("od-1-2001")["orderStatus"] == "shipped"


def test_partial_mode_ships_half_then_the_rest(native: Api, native_sim: WarehouseSimulator) -> None:
    native_sim.set_auto_ship(0.3, "partial")
    native.post("/v1/orders", json=native_order("od-1-3"))
    first = wait_for(lambda: (o := native_sim.order_by_key("od-1-3"))["shipments"] and o)
    assert first["status"] == "partially_shipped" and _units(first) == 1
    done = wait_for(lambda: (o := native_sim.order_by_key("od-1-3"))["status"] == "shipped" and o)
    assert len(done["shipments"]) == 2 and _units(done) == 3


def test_mixed_mode_is_a_deterministic_mix(native: Api, native_sim: WarehouseSimulator) -> None:
    native_sim.set_auto_ship(0.0, "mixed")
    keys = [f"od-1-{n}" for n in range(40)]
    for key in keys:
        native.post("/v1/orders", json=native_order(key))
    native_sim.tick()
    shapes = {"single": 0, "multi": 0, "partial": 0}
    for key in keys:
        # The timer may already have shipped a partial order's rest: judge the first shipment.
        first = native_sim.order_by_key(key)["shipments"][0]
        if sum(line["quantity"] for line in first["lines"]) < 3:
            shapes["partial"] += 1
        elif len(first["packages"]) == 2:
            shapes["multi"] += 1
        else:
            shapes["single"] += 1
    assert all(shapes.values()), shapes
    assert shapes["single"] > shapes["multi"] and shapes["single"] > shapes["partial"]


def test_unknown_mode_is_refused(native_sim: WarehouseSimulator) -> None:
    with pytest.raises(ValueError):
        native_sim.set_auto_ship(1.0, "sometimes")


def test_tick_ships_due_orders_and_skips_held_or_cancelled(
    ss: Api, ss_sim: WarehouseSimulator
) -> None:
    ss.post("/orders/createorder", json=ss_order("4001"))
    ss.post("/orders/createorder", json=ss_order("4002", orderStatus="on_hold"))
    ss.post("/orders/createorder", json=ss_order("4003", orderStatus="cancelled"))
    ss_sim.tick()
    assert ss_sim.order_by_key("od-1-4001")["orderStatus"] == "awaiting_shipment"
    ss_sim.set_auto_ship(0.0)
    ss_sim.tick()
    statuses = [ss_sim.order_by_key(f"od-1-400{n}")["orderStatus"] for n in (1, 2, 3)]
    assert statuses == ["shipped", "on_hold", "cancelled"]
    assert ss.get("/shipments").json()["total"] == 1


def test_auto_ship_timer_stops_with_the_simulator() -> None:
    def timers() -> list[threading.Thread]:
        return [t for t in threading.enumerate() if t.name == "sim-autoship" and t.is_alive()]

    sim = WarehouseSimulator("simulated").start()
    assert len(timers()) == 1
    sim.stop()
    assert timers() == []
