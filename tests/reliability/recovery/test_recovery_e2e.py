"""The outage the recovery exists for, with the bridge as production runs it (gunicorn, Celery
worker and beat): the web process is down while Order Desk's Post Order JSON rule runs out of
retries for every order; once the bridge is back, reconciliation finds them all and each one
reaches the warehouse exactly once."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import func, select

from bridge.db import session_scope
from bridge.models import ReconcileCursor, WebhookReceipt
from bridge.states import OrderState
from tests.e2e.conftest import STORE_ID, scaled
from tests.e2e.harness import wait_until
from tests.e2e.test_flow import in_state, state_counts
from tests.reliability.recovery.support import order_rows, orders_without_webhook, recovered_events

pytestmark = pytest.mark.slow

RECONCILE_SECONDS = 2


def last_reconcile() -> float:
    """When the store's last reconcile pass finished (0 before the first)."""
    with session_scope() as session:
        cursor = session.scalars(select(ReconcileCursor)).one_or_none()
        return (
            0.0 if cursor is None or cursor.last_run_at is None else cursor.last_run_at.timestamp()
        )


def test_hole_orders_whose_webhooks_all_failed_during_an_outage_reach_the_warehouse_once(
    bridge, orderdesk, warehouse
) -> None:
    count = scaled(20)
    bridge.start_web()
    intake_url = f"{bridge.web_url}/webhooks/orderdesk"
    bridge.procs["web"].stop()  # the outage: nothing answers where the rule posts
    # Five tries, as Order Desk's help centre says, minutes apart there and moments apart here.
    orderdesk.configure_rule(STORE_ID, intake_url, max_attempts=5, retry_delays=[0.1], timeout=2)
    for order_id in orders_without_webhook(orderdesk, count):
        orderdesk.post_order(STORE_ID, order_id)  # the rule fires, and fails, for each order
    assert orderdesk.wait_for_webhooks(timeout=60), "the rule's retries did not run out"
    attempts = orderdesk.webhook_log
    assert len(attempts) == 5 * count and not any(a.delivered for a in attempts)

    bridge.env["BRIDGE_RECONCILE_INTERVAL_SECONDS"] = str(RECONCILE_SECONDS)
    bridge.start_web()
    bridge.start_worker()
    bridge.start_beat()
    try:
        wait_until(lambda: in_state(OrderState.IN_PROCESS) == count, 120, "all orders in process")
        # More passes after the last order left the folder: nothing is taken in twice.
        for _ in range(2):
            settled = last_reconcile()
            wait_until(lambda s=settled: last_reconcile() > s, 30, "another reconcile pass")
    except AssertionError:
        print(state_counts(), bridge.dump_logs())
        raise

    rows = order_rows()
    keys = [f"od-{STORE_ID}-{order_id}" for order_id in rows]
    at_warehouse = Counter(order["external_key"] for order in warehouse.orders())
    assert len(rows) == count
    assert at_warehouse == dict.fromkeys(keys, 1)
    assert warehouse.create_calls == count
    assert recovered_events() == dict.fromkeys(rows, 1)
    assert {orderdesk.folder_name_of(STORE_ID, order_id) for order_id in rows} == {"In Process"}
    with session_scope() as session:
        assert session.scalar(select(func.count()).select_from(WebhookReceipt)) == 0
