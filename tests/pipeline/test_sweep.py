"""The sweeper's scans and the poll scheduler: what is overdue is sent again, once."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bridge.db import session_scope
from bridge.history import transition
from bridge.jobs import queues
from bridge.models import Order, OrderEvent, utcnow
from bridge.pipeline.sweep import schedule_polls, sweep
from bridge.states import OrderState
from tests.conftest import reset_caches
from tests.pipeline.conftest import order_row
from tests.pipeline.test_submit import queued_tasks


def test_sweeper_resends_overdue_work_and_parks_exhausted_orders(
    receive, warehouse, broker, bridge_env
) -> None:
    bridge_env.setenv("BRIDGE_SWEEP_GRACE_SECONDS", "0")
    bridge_env.setenv("BRIDGE_MAX_ATTEMPTS", "2")
    reset_caches()
    forgotten = receive()  # its message was lost
    exhausted = receive()
    with session_scope() as session:
        order = session.get(Order, exhausted)
        transition(session, order, OrderState.SUBMITTING, "claimed")
        order.attempts = 2
        order.next_attempt_at = utcnow() - timedelta(seconds=1)
        order.last_error = "TransientError: HTTP 503"
        session.get(Order, forgotten).updated_at = utcnow() - timedelta(seconds=5)
    report = sweep()
    assert report.resubmitted == 1 and report.failed == 1
    assert order_row(exhausted).state == OrderState.FAILED
    assert "HTTP 503" in order_row(exhausted).last_error
    assert queued_tasks(broker, queues.QUEUE_INTAKE) == [queues.SUBMIT_ORDER]
    assert order_row(forgotten).enqueued_at is not None
    with session_scope() as session:
        kinds = session.scalars(
            select(OrderEvent.to_state).where(OrderEvent.order_id == exhausted)
        ).all()
    assert OrderState.FAILED in kinds


def test_schedule_polls_enqueues_due_stores_once(store, broker) -> None:
    assert schedule_polls() == [store]
    assert schedule_polls() == []
    # Inventory sync is off until a person turns it on for the store.
    assert queued_tasks(broker, queues.QUEUE_POLL) == [queues.POLL_WAREHOUSE]
