"""``bridge audit`` against both simulators over HTTP: what it finds, and silence when all agree."""

from __future__ import annotations

import copy
import hashlib
import json
import math
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import Result

from bridge.backends.fulfillment import to_fulfillment_order
from bridge.backends.shipbob import ShipBobBackend, ShipBobConfig
from bridge.db import session_scope
from bridge.models import Order, utcnow
from bridge.ops import audit
from bridge.ops.operations import OperationError
from bridge.orderdesk.payload import Order as OrderDeskOrder
from bridge.orderdesk.records import ShipmentIn
from bridge.pipeline.submit import submit_order
from bridge.remote.ratelimit import LocalLeakyBucket
from bridge.sim.orderdesk import OrderDeskSimulator
from bridge.sim.warehouse import WarehouseSimulator
from bridge.states import OrderState
from bridge.stores.context import StoreContext
from bridge.stores.registry import StoreRegistry
from tests.ops.conftest import (
    API_KEY,
    STORE_ID,
    WAREHOUSE_KEY,
    SeedOrder,
    _seeder,
    fixture_order,
    od_time,
    order_row,
)
from tests.support.simulators import Simulators

Cli = Callable[..., Result]
SCALE = max(int(os.environ.get("BRIDGE_TEST_SCALE", "1")), 1)


def _in_orderdesk(sim: OrderDeskSimulator, *, age: timedelta = timedelta(hours=1)) -> str:
    body = fixture_order()
    body.pop("id")
    created = sim.create_order(STORE_ID, body, fire_rule=False, date_added=od_time(utcnow() - age))
    return str(created["id"])


def _received(sim: OrderDeskSimulator, audited_store: int) -> int:
    """An order that reached the bridge the way intake records it."""
    od_id = _in_orderdesk(sim, age=timedelta(minutes=30))
    payload = sim.order(STORE_ID, od_id)
    with session_scope() as session:
        order = Order(
            store_id=audited_store,
            orderdesk_order_id=od_id,
            order_number=str(payload.get("source_id") or od_id),
            payload=copy.deepcopy(payload),
            payload_sha256=hashlib.sha256(json.dumps(payload).encode()).hexdigest(),
            orderdesk_updated_at=payload["date_updated"],
            idempotency_key=f"od-{STORE_ID}-{od_id}",
            created_at=utcnow() - timedelta(minutes=30),
        )
        session.add(order)
        session.flush()
        return order.id


def test_consistent_store_reports_clean_and_exits_zero(
    cli: Cli, orderdesk: OrderDeskSimulator, warehouse: WarehouseSimulator, audited_store: int
) -> None:
    order_id = _received(orderdesk, audited_store)
    assert submit_order(order_id) == 1
    assert order_row(order_id).state == OrderState.SUBMITTED.value

    result = cli("audit", "--store", STORE_ID, "--since", "1d")
    data = json.loads(cli("audit", "--store", STORE_ID, "--json").output)

    assert result.exit_code == 0, result.output
    assert "consistent: nothing to do" in result.output
    assert data["consistent"] is True and data["findings"] == []
    assert (data["orderdesk_orders"], data["bridge_orders"], data["warehouse_checked"]) == (1, 1, 1)
    assert data["warehouse_orders"] == 1
    assert warehouse.calls("GET", "/v1/orders") == 2  # one listing page per run
    assert API_KEY not in result.output and WAREHOUSE_KEY not in result.output


def test_finds_missed_stuck_unknown_and_unposted(
    cli: Cli,
    orderdesk: OrderDeskSimulator,
    warehouse: WarehouseSimulator,
    seed_audited: SeedOrder,
) -> None:
    missed = _in_orderdesk(orderdesk)
    _in_orderdesk(orderdesk, age=timedelta(days=30))  # outside the window: not our business
    two_hours = timedelta(hours=2)
    stuck = seed_audited(OrderState.SUBMITTING, age=two_hours, attempts=3)
    failed = seed_audited(OrderState.FAILED, age=two_hours, last_error="warehouse said 500")
    ghost = seed_audited(OrderState.SUBMITTED, age=two_hours, warehouse_ref="W-404")
    seed_audited(OrderState.SUBMITTING, age=timedelta(minutes=5))  # busy, not stuck
    shipment = {"package_id": "P-1", "remote_shipment_id": "S-1", "tracking_number": "1Z42"}
    unposted = seed_audited(
        OrderState.SHIPPED,
        age=two_hours,
        shipments=[shipment],
        warehouse_ref="W-1",
    )

    result = cli("audit", "--store", STORE_ID, "--since", "1d", "--max-lookups", "1")
    report = audit.run_audit(STORE_ID, utcnow() - timedelta(days=1), utcnow())

    assert result.exit_code == 1, result.output
    found = {(f.kind, f.order_id or f.orderdesk_order_id) for f in report.findings}
    assert found == {
        (audit.MISSED_WEBHOOK, missed),
        (audit.STUCK, stuck),
        (audit.STUCK, failed),
        (audit.NOT_IN_WAREHOUSE, ghost),
        (audit.NOT_IN_WAREHOUSE, unposted),
        (audit.UNPOSTED_SHIPMENT, unposted),
    }
    assert report.warehouse_checked == 2 and report.orderdesk_orders == 1
    lines = result.output.splitlines()
    assert any(line.startswith("missed_webhook") and missed in line for line in lines)
    assert any("failed: warehouse said 500" in line for line in lines)
    assert warehouse.calls("GET", "/v1/orders") == 2  # one listing page per run, no lookups


def test_a_dead_warehouse_makes_the_audit_incomplete(
    orderdesk: OrderDeskSimulator, warehouse: WarehouseSimulator, seed_audited: SeedOrder
) -> None:
    seed_audited(OrderState.IN_PROCESS, age=timedelta(hours=2))
    seed_audited(OrderState.IN_PROCESS, age=timedelta(hours=2))
    warehouse.stop()

    report = audit.run_audit(STORE_ID, utcnow() - timedelta(days=1), utcnow())

    assert [f.kind for f in report.findings] == [audit.CHECK_INCOMPLETE]
    assert (report.warehouse_checked, report.warehouse_unchecked) == (0, 2)
    assert not report.consistent


def test_order_desk_is_asked_for_the_window_only(
    orderdesk: OrderDeskSimulator, audited_store: int
) -> None:
    for added in ("2026-01-03 10:00:00", "2026-01-07 23:59:00", "2026-02-01 10:00:00"):
        body = fixture_order()
        body.pop("id")
        orderdesk.create_order(STORE_ID, body, fire_rule=False, date_added=added)

    report = audit.run_audit(
        STORE_ID, datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 8, tzinfo=UTC)
    )

    assert report.orderdesk_orders == 2
    assert [f.kind for f in report.findings] == [audit.MISSED_WEBHOOK] * 2
    assert orderdesk.calls("GET", "/orders") == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7d", datetime(2026, 3, 3, 12, tzinfo=UTC)),
        ("36h", datetime(2026, 3, 9, 0, tzinfo=UTC)),
        ("2026-02-01", datetime(2026, 2, 1, tzinfo=UTC)),
        ("2026-02-01 08:30", datetime(2026, 2, 1, 8, 30, tzinfo=UTC)),
    ],
)
def test_parse_when(text: str, expected: datetime) -> None:
    assert audit.parse_when(text, now=datetime(2026, 3, 10, 12, tzinfo=UTC)) == expected


def test_bad_arguments_are_one_sentence(cli: Cli, audited_store: int) -> None:
    bad_time = cli("audit", "--store", STORE_ID, "--since", "last week")
    unknown = cli("audit", "--store", "1")
    backwards = cli("audit", "--store", STORE_ID, "--since", "1d", "--until", "2d")
    assert bad_time.exit_code == unknown.exit_code == backwards.exit_code == 1
    assert bad_time.output.startswith("Error: 'last week' is not a time")
    assert unknown.output == "Error: no store with Order Desk store id 1\n"
    assert "--since must be before --until" in backwards.output
    with pytest.raises(OperationError):
        audit.parse_when("soon")


def _shipped_and_posted(
    orderdesk: OrderDeskSimulator, warehouse: WarehouseSimulator, audited_store: int
) -> tuple[str, list[str]]:
    """An order submitted, shipped an hour ago in two packages, both posted to Order Desk once."""
    order_id = _received(orderdesk, audited_store)
    assert submit_order(order_id) == 1
    od_id = order_row(order_id).orderdesk_order_id
    key = f"od-{STORE_ID}-{od_id}"
    shipped_at = utcnow() - timedelta(hours=1)
    warehouse.ship(key, partial=True, at=shipped_at)
    warehouse.ship(key, at=shipped_at)
    tracking = warehouse.tracking_numbers(key)
    with StoreContext.load(audited_store).orderdesk() as client:
        for number in tracking:
            client.add_shipment(od_id, ShipmentIn(order_id=od_id, tracking_number=number))
    return od_id, tracking


def test_a_deleted_and_a_doubled_shipment_in_order_desk_are_named(
    cli: Cli, orderdesk: OrderDeskSimulator, warehouse: WarehouseSimulator, audited_store: int
) -> None:
    _deleted_and_doubled_are_named(cli, orderdesk, warehouse, audited_store)


def _deleted_and_doubled_are_named(
    cli: Cli, orderdesk: OrderDeskSimulator, warehouse: WarehouseSimulator, audited_store: int
) -> None:
    """Two packages posted once each audit clean; one deleted from Order Desk and the other
    posted there again are each named with the order."""
    od_id, (first, second) = _shipped_and_posted(orderdesk, warehouse, audited_store)
    clean = cli("audit", "--store", STORE_ID, "--since", "1d")
    assert clean.exit_code == 0, clean.output

    with StoreContext.load(audited_store).orderdesk() as client:
        posted = {s.tracking_number: s.id for s in client.list_shipments(od_id)}
        client.delete_shipment(od_id, posted[first])
        # Posted again by hand under another carrier: Order Desk takes it as a new shipment.
        again = ShipmentIn(order_id=od_id, tracking_number=second, carrier_code="fedex")
        assert client.add_shipment(od_id, again).ok
    result = cli("audit", "--store", STORE_ID, "--since", "1d")
    data = json.loads(cli("audit", "--store", STORE_ID, "--since", "1d", "--json").output)

    assert result.exit_code == 1, result.output
    found = {(f["kind"], f["orderdesk_order_id"]) for f in data["findings"]}
    assert found == {(audit.SHIPMENT_NOT_IN_ORDERDESK, od_id), (audit.SHIPMENT_DUPLICATED, od_id)}
    details = " ".join(f["detail"] for f in data["findings"])
    assert first in details and f"{second}) is in Order Desk's shipments 2 times" in details


def test_an_order_entered_twice_at_the_warehouse_is_named(
    cli: Cli, orderdesk: OrderDeskSimulator, warehouse: WarehouseSimulator, audited_store: int
) -> None:
    order_id = _received(orderdesk, audited_store)
    assert submit_order(order_id) == 1
    order = order_row(order_id)
    assert cli("audit", "--store", STORE_ID, "--since", "1d").exit_code == 0
    # Someone enters the same order again at the warehouse (a CSV import): another key, the
    # same order number. The warehouse would ship it twice.
    body = to_fulfillment_order(OrderDeskOrder.model_validate(order.payload))
    with StoreContext.load(audited_store).backend() as backend:
        backend.submit(body, "csv-import-0001")

    report = audit.run_audit(STORE_ID, utcnow() - timedelta(days=1), utcnow())

    assert [(f.kind, f.order_id) for f in report.findings] == [
        (audit.DUPLICATE_IN_WAREHOUSE, order_id)
    ]
    assert "csv-import-0001" in report.findings[0].detail


@pytest.fixture
def shipstation(
    orderdesk: OrderDeskSimulator, simulators: Simulators, broker: str
) -> tuple[WarehouseSimulator, int]:
    """A store at a ShipStation whose pages hold 50 orders, so a few dozen orders span pages."""
    sim = simulators.warehouse("shipstation", max_page_size=PAGE)
    config = {"base_url": sim.url, "api_key": "sim-key", "api_secret": "sim-secret"}
    with session_scope() as session:
        row = StoreRegistry(session).add(
            orderdesk_store_id=STORE_ID,
            name="Ops ShipStation Store",
            api_key=API_KEY,
            backend="shipstation",
            backend_config=config,
        )
        return sim, row.id


PAGE = 50


def test_warehouse_calls_grow_with_pages_not_orders(
    cli: Cli, shipstation: tuple[WarehouseSimulator, int]
) -> None:
    sim, store_id = shipstation
    seed = _seeder(lambda: store_id)
    count = (3 * PAGE - 10) * SCALE
    rows = [order_row(seed(OrderState.SUBMITTED, age=timedelta(hours=2))) for _ in range(count)]
    items = [
        (to_fulfillment_order(OrderDeskOrder.model_validate(row.payload)), row.idempotency_key)
        for row in rows
    ]
    with StoreContext.load(store_id).backend() as backend:
        assert all(outcome.ref for outcome in backend.submit_many(items))
    sim.ship(rows[0].idempotency_key, at=utcnow() - timedelta(hours=1))
    before = sim.calls()

    result = cli("audit", "--store", STORE_ID, "--since", "1d", "--json")

    calls = sim.calls() - before
    data = json.loads(result.output)
    assert result.exit_code == 0, result.output
    assert data["warehouse_orders"] == data["warehouse_checked"] == count
    # Orders, then labels and fulfillments since the window began: a page each here.
    assert calls <= math.ceil(count / PAGE) + 2
    assert sim.calls("GET", "/orders") == math.ceil(count / PAGE)


@pytest.fixture
def shipbob(
    orderdesk: OrderDeskSimulator,
    simulators: Simulators,
    broker: str,
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[WarehouseSimulator, int]:
    """A store at a ShipBob whose listing pages hold 50 orders, as the ShipStation one above."""
    sim = simulators.warehouse("shipbob", api_key=WAREHOUSE_KEY, max_page_size=PAGE)
    monkeypatch.setattr(ShipBobBackend, "page_size", PAGE)
    with session_scope() as session:
        row = StoreRegistry(session).add(
            orderdesk_store_id=STORE_ID,
            name="Ops ShipBob Store",
            api_key=API_KEY,
            backend="shipbob",
            backend_config={"base_url": sim.url, "token": WAREHOUSE_KEY},
        )
        return sim, row.id


def test_shipbob_audit_reads_pages_not_orders(
    cli: Cli, shipbob: tuple[WarehouseSimulator, int]
) -> None:
    sim, store_id = shipbob
    seed = _seeder(lambda: store_id)
    count = (3 * PAGE - 10) * SCALE
    rows = [
        order_row(
            seed(
                OrderState.SUBMITTED,
                age=timedelta(hours=2),
                payload=fixture_order() | {"source_id": f"SB-{n}"},
            )
        )
        for n in range(count)
    ]
    # ShipBob creates one order a call: the seeding gets a budget of its own, so the audit
    # below meets the store's shared bucket as a worker would.
    config = ShipBobConfig(base_url=sim.url, token=WAREHOUSE_KEY)
    with ShipBobBackend(config, limiter=LocalLeakyBucket(10 * count, 1000.0)) as backend:
        bodies = [to_fulfillment_order(OrderDeskOrder.model_validate(r.payload)) for r in rows]
        for body, row in zip(bodies, rows, strict=True):
            assert backend.submit(body, row.idempotency_key).created
        # One order entered again by hand: only a listing by date can see it.
        backend.submit(bodies[1], "csv-import-0001")
    sim.ship(rows[0].idempotency_key, at=utcnow() - timedelta(hours=1))
    before = sim.calls()

    result = cli("audit", "--store", STORE_ID, "--since", "1d", "--json")

    calls = sim.calls() - before
    data = json.loads(result.output)
    assert result.exit_code == 1, result.output
    assert [(f["kind"], f["order_id"]) for f in data["findings"]] == [
        (audit.DUPLICATE_IN_WAREHOUSE, rows[1].id)
    ]
    held = count + 1
    assert data["warehouse_orders"] == held and data["warehouse_checked"] == count
    # The channel once, then the orders with their shipments by pages: no call per order.
    assert calls <= math.ceil(held / PAGE) + 2
    assert math.ceil(held / PAGE) <= sim.calls("GET", "/2026-01/order") <= held // PAGE + 1


def test_shipbob_a_deleted_and_a_doubled_shipment_in_order_desk_are_named(
    cli: Cli, orderdesk: OrderDeskSimulator, shipbob: tuple[WarehouseSimulator, int]
) -> None:
    sim, store_id = shipbob
    _deleted_and_doubled_are_named(cli, orderdesk, sim, store_id)
    assert sim.calls("GET", "/2026-01/order/") == 0  # read by listing, never order by order
