"""Hole 10: the retention job bounds the tables and removes personal data, and only that.

Finished orders past ``BRIDGE_RETENTION_DAYS`` lose their payload, last error and history but
keep their row (the idempotency key); orders in flight keep everything; receipts past the
cutoff go unless their order is in flight. The job runs daily from Celery beat, in batches.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bridge.db import session_scope
from bridge.jobs import queues
from bridge.models import Order, OrderEvent, WebhookReceipt, utcnow
from bridge.ops import audit, retention
from bridge.settings import get_settings
from bridge.states import OrderState
from tests.conftest import reset_caches
from tests.ops.conftest import STORE_ID, SeedOrder, fixture_order, order_row

OLD = timedelta(days=91)
RECENT = timedelta(days=89)
POSTED = {
    "package_id": "PKG-1",
    "remote_shipment_id": "SHP-1",
    "tracking_number": "1Z999",
    "carrier": "UPS",
}


def _count(model: type, *where: object) -> int:
    with session_scope() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def _receipts_of(order_id: int) -> int:
    row = order_row(order_id)
    return _count(WebhookReceipt, WebhookReceipt.orderdesk_order_id == row.orderdesk_order_id)


def test_hole10_finished_orders_lose_payload_and_history_but_keep_their_key(
    seed_order: SeedOrder,
) -> None:
    shipped = seed_order(
        OrderState.SHIPPED,
        age=OLD,
        last_error="warehouse said: bad address 12 Main St",
        shipments=[POSTED | {"posted_at": utcnow() - OLD}],
    )
    cancelled = seed_order(OrderState.RECEIVED, age=OLD)
    with session_scope() as session:
        session.execute(
            Order.__table__.update()
            .where(Order.id == cancelled)
            .values(state=OrderState.CANCELLED.value, updated_at=utcnow() - OLD)
        )
    before = order_row(shipped)

    report = retention.prune()

    assert (report.orders_pruned, report.complete) == (2, True)
    assert report.receipts_deleted == 2
    for order_id in (shipped, cancelled):
        row = order_row(order_id)
        assert row.payload == {"id": row.orderdesk_order_id}
        assert row.pruned_at is not None
        assert row.events == []
        assert _receipts_of(order_id) == 0
    row = order_row(shipped)
    assert row.last_error is None
    assert (row.idempotency_key, row.orderdesk_updated_at, row.state, row.updated_at) == (
        before.idempotency_key,
        before.orderdesk_updated_at,
        before.state,
        before.updated_at,
    )
    assert "dana.reyes@example.com" not in json.dumps(row.payload)
    again = retention.prune()
    assert (again.orders_pruned, again.receipts_deleted, again.events_deleted) == (0, 0, 0)


@pytest.mark.parametrize(
    "state",
    [
        OrderState.RECEIVED,
        OrderState.SUBMITTED,
        OrderState.IN_PROCESS,
        OrderState.FAILED,
        OrderState.REJECTED,
    ],
)
def test_hole10_orders_in_flight_keep_payload_events_and_receipts(
    seed_order: SeedOrder, state: OrderState
) -> None:
    order_id = seed_order(state, age=OLD)
    events = len(order_row(order_id).events)
    # A received order has no events yet (arrival is recorded by its webhook receipt).
    assert events > 0 or state is OrderState.RECEIVED

    retention.prune()

    row = order_row(order_id)
    assert row.payload == fixture_order() | {"id": row.orderdesk_order_id}
    assert len(row.events) == events
    assert row.pruned_at is None
    assert _receipts_of(order_id) == 1


def test_hole10_recent_or_unposted_finished_orders_are_kept(seed_order: SeedOrder) -> None:
    recent = seed_order(OrderState.SHIPPED, age=RECENT)
    unposted = seed_order(OrderState.SHIPPED, age=OLD, shipments=[POSTED])

    assert retention.prune().orders_pruned == 0

    for order_id in (recent, unposted):
        row = order_row(order_id)
        assert row.payload["email"] == "dana.reyes@example.com"
        assert row.events
    assert _receipts_of(recent) == 1
    assert _receipts_of(unposted) == 0  # the order is finished; only the row is held back


def test_hole10_retention_days_is_a_setting(
    seed_order: SeedOrder, bridge_env: pytest.MonkeyPatch
) -> None:
    order_id = seed_order(OrderState.SHIPPED, age=timedelta(days=8))
    bridge_env.setenv("BRIDGE_RETENTION_DAYS", "7")
    reset_caches()
    assert get_settings().retention_days == 7

    assert retention.prune().orders_pruned == 1
    assert order_row(order_id).pruned_at is not None


def test_hole10_pruning_goes_in_batches_and_stops_at_its_time_budget(
    seed_order: SeedOrder,
) -> None:
    ids = [seed_order(OrderState.SHIPPED, age=OLD) for _ in range(7)]

    stopped = retention.prune(batch=3, time_budget=0)
    assert (stopped.complete, stopped.orders_pruned, stopped.receipts_deleted) == (False, 0, 0)

    report = retention.prune(batch=3)
    assert (report.orders_pruned, report.receipts_deleted, report.complete) == (7, 7, True)
    assert report.events_deleted == _events_seeded_per_shipped_order() * 7
    assert all(order_row(order_id).pruned_at for order_id in ids)
    assert _count(OrderEvent) == 0


def _events_seeded_per_shipped_order() -> int:
    return 4  # four transitions (tests/ops/conftest.py PATHS)


def test_hole10_cli_and_admin_page_show_a_pruned_order(
    seed_order: SeedOrder, cli, admin_client
) -> None:
    order_id = seed_order(OrderState.SHIPPED, age=OLD)
    retention.prune()

    shown = cli("orders", "show", str(order_id))
    as_json = json.loads(cli("orders", "show", str(order_id), "--json").output)
    page = admin_client.get(f"/admin/orders/{order_id}")

    assert shown.exit_code == 0 and "removed by retention" in shown.output
    assert as_json["order"]["pruned_at"]
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "removed by retention" in text
    assert "dana" not in text.lower()


def test_hole10_audit_reads_a_pruned_order_without_its_payload(seed_audited: SeedOrder) -> None:
    order_id = seed_audited(OrderState.SHIPPED, age=OLD)
    retention.prune()
    row = order_row(order_id)

    report = audit.run_audit(STORE_ID, utcnow() - 2 * OLD, utcnow())

    assert report.bridge_orders == 1
    # The warehouse simulator never had this seeded order; the audit says so from the kept row.
    assert [(f.kind, f.order_id) for f in report.findings] == [(audit.NOT_IN_WAREHOUSE, row.id)]


def test_hole10_beat_runs_the_retention_task_daily(seed_order: SeedOrder) -> None:
    from celery.schedules import crontab

    from bridge.jobs.celery_config import make_celery
    from workers import tasks

    entry = make_celery(get_settings()).conf.beat_schedule["retention"]
    assert entry["task"] == queues.RETENTION == "bridge.retention"
    assert isinstance(entry["schedule"], crontab)
    assert entry["schedule"].remaining_estimate(entry["schedule"].now()) <= timedelta(days=1)
    assert queues.ROUTES[queues.RETENTION] == queues.QUEUE_MAINTENANCE

    order_id = seed_order(OrderState.SHIPPED, age=OLD)
    result = tasks.retention_task.apply().get()

    assert result["orders_pruned"] == 1 and result["complete"] is True
    assert order_row(order_id).pruned_at is not None
