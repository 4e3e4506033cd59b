"""``bridge audit`` against both simulators over HTTP: what it finds, and silence when all agree."""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import Result

from bridge.db import session_scope
from bridge.models import Order, utcnow
from bridge.ops import audit
from bridge.ops.operations import OperationError
from bridge.pipeline.submit import submit_order
from bridge.sim.orderdesk import OrderDeskSimulator
from bridge.sim.warehouse import WarehouseSimulator
from bridge.states import OrderState
from tests.ops.conftest import (
    API_KEY,
    STORE_ID,
    WAREHOUSE_KEY,
    SeedOrder,
    fixture_order,
    od_time,
    order_row,
)

Cli = Callable[..., Result]


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
    assert warehouse.calls("GET", "/v1/orders") >= 2
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
    assert "1 not checked (raise --max-lookups)" in result.output


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
