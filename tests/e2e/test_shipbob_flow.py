"""The batch flow against the ShipBob simulator through real gunicorn, Celery worker and beat
processes: every order reaches ShipBob once (reference_id = our key), ships in one parcel, two,
or part now and the rest later, every package lands in Order Desk exactly once, and every
shipment's tracking ends up acknowledged at ShipBob ("tracking uploaded"), after Order Desk had it.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bridge.db import session_scope
from bridge.models import Order, Shipment
from bridge.states import OrderState
from tests.e2e.conftest import STORE_ID, scaled
from tests.e2e.harness import wait_until
from tests.e2e.test_flow import in_state, sample_orders, state_counts

ACK = "/2026-01/shipment:batchUpdateTrackingUpload"


def tracked(warehouse, key: str) -> list[dict]:
    return [s for s in warehouse.order_by_key(key)["shipments"] if s["tracking"]]


def ship_everything(warehouse, keys: list[str]) -> list[str]:
    """One parcel for most, one parcel per product for every 4th, half now for every 5th;
    returns the keys shipped partially."""
    partial = []
    for n, key in enumerate(keys):
        if n % 5 == 2:
            warehouse.ship(key, partial=True, carrier="usps")
            partial.append(key)
        elif n % 4 == 1:
            products = warehouse.order_by_key(key)["products"]
            warehouse.ship(
                key,
                carrier="fedex",
                packages=[
                    {"lines": [{"sku": p["reference_id"], "quantity": p["quantity"]}]}
                    for p in products
                ],
            )
        else:
            warehouse.ship(key)
    return partial


def all_acknowledged(warehouse, keys: list[str]) -> bool:
    return all(s["is_tracking_uploaded"] for key in keys for s in tracked(warehouse, key))


@pytest.mark.slow
@pytest.mark.parametrize("warehouse", ["shipbob"], indirect=True)
def test_batch_flows_through_shipbob_and_back(bridge, orderdesk, warehouse) -> None:
    count = scaled(20)
    bridge.start_web()
    bridge.start_worker()
    bridge.start_beat()
    orderdesk.configure_rule(
        STORE_ID, f"{bridge.web_url}/webhooks/orderdesk", retry_delays=[0.5] * 9
    )
    created = [orderdesk.create_order(STORE_ID, order) for order in sample_orders(count)]
    keys = [f"od-{STORE_ID}-{order['id']}" for order in created]
    deadline = 60 + 2 * count
    try:
        wait_until(lambda: in_state(OrderState.IN_PROCESS) == count, deadline, "all in process")
        # Nothing has shipped, so nothing was acknowledged.
        assert warehouse.calls("POST", ACK) == 0
        partial = ship_everything(warehouse, keys)
        wait_until(
            lambda: (
                in_state(OrderState.PARTIALLY_SHIPPED) == len(partial)
                and in_state(OrderState.SHIPPED) == count - len(partial)
            ),
            deadline,
            "first packages in Order Desk",
        )
        wait_until(lambda: all_acknowledged(warehouse, keys), deadline, "first acknowledgements")
        for key in partial:
            warehouse.ship(key)
        wait_until(
            lambda: in_state(OrderState.SHIPPED) == count, deadline, f"{count} orders shipped"
        )
        wait_until(lambda: all_acknowledged(warehouse, keys), deadline, "all acknowledged")
    except AssertionError:
        print(state_counts(), bridge.dump_logs())
        raise

    # Every order reached ShipBob exactly once, under our key.
    assert len(warehouse.orders()) == count
    assert warehouse.create_calls == count
    assert sorted(o["reference_id"] for o in warehouse.orders()) == sorted(keys)
    duplicates = [r for r in warehouse.request_log if r.status == 422]
    assert duplicates == []

    # Every package posted to Order Desk exactly once, and each one acknowledged at ShipBob.
    with session_scope() as session:
        rows = session.scalars(select(Shipment)).all()
        by_order = {o.id: o.orderdesk_order_id for o in session.scalars(select(Order))}
    assert all(row.posted_at is not None for row in rows)
    multi = 0
    for order, key in zip(created, keys, strict=True):
        od_id = str(order["id"])
        in_od = orderdesk.shipments(STORE_ID, od_id)
        at_shipbob = tracked(warehouse, key)
        assert sorted(s["tracking_number"] for s in in_od) == sorted(
            s["tracking"]["tracking_number"] for s in at_shipbob
        )
        assert len({s["tracking_number"] for s in in_od}) == len(in_od)
        assert sorted(r.tracking_number for r in rows if by_order[r.order_id] == od_id) == sorted(
            s["tracking_number"] for s in in_od
        )
        assert all(s["is_tracking_uploaded"] for s in at_shipbob)
        multi += len(in_od) > 1
    assert multi > len(partial)  # some orders shipped in two parcels at once, not only splits
    packages = len(rows)
    acks = warehouse.calls("POST", ACK)
    print(f"\n{count} orders, {packages} packages: {acks} acknowledgement calls")
    # Batched: far fewer calls than packages (one per shipment step run, and a few repeats).
    assert 0 < acks < packages
