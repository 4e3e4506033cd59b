"""Hole 2: a submission that outlives its lease must not leave a cancelled order at the warehouse.

The submit's lease tells the cancel step and the sweeper "a worker is still on it". The worker
must therefore stop the submit task before its lease runs out, and when a submission lands late
anyway (a worker pool that cannot enforce time limits, a stalled clock) its landing must not be
merely recorded: a cancelled order is cancelled at the warehouse at once, a failed one becomes
submitted, and one whose cancellation is pending is cancelled now.
"""

from __future__ import annotations

import base64
import json
import threading
from datetime import timedelta
from typing import Any

import pytest
import redis
from celery.app.annotations import prepare, resolve_all
from sqlalchemy import select

from bridge.db import session_scope
from bridge.history import transition
from bridge.jobs import queues
from bridge.jobs.celery_config import TASK_TIME_LIMIT, make_celery
from bridge.models import Order, OrderEvent, utcnow
from bridge.pipeline.cancel import cancel_order
from bridge.pipeline.submit import submit_order
from bridge.pipeline.sweep import sweep
from bridge.settings import Settings
from bridge.sim.warehouse import WarehouseSimulator
from bridge.states import OrderState
from bridge.stores.context import StoreContext
from tests.conftest import reset_caches
from tests.pipeline.conftest import order_row
from tests.pipeline.test_submit import queued
from tests.reliability.pipeline.conftest import WAIT, HeldWrite, Runner
from workers import tasks


def submit_hard_limit(settings: Settings) -> float:
    """The hard time limit a worker of this configuration applies to the submit task.

    Resolved as Celery does: the task's annotations (they override the task's attributes), else
    the app-wide ``task_time_limit``.
    """
    conf = make_celery(settings).conf
    limit = None
    for annotation in resolve_all(prepare(conf.task_annotations), tasks.submit_order):
        limit = annotation.get("time_limit", limit)
    return limit or conf.task_time_limit


@pytest.mark.parametrize("lease", [None, 10.0, 120.0, 3600.0])
def test_hole2_the_submit_lease_outlives_the_submit_tasks_hard_time_limit(
    bridge_env: pytest.MonkeyPatch, lease: float | None
) -> None:
    if lease is not None:
        bridge_env.setenv("BRIDGE_SUBMIT_LEASE_SECONDS", str(lease))
    settings = Settings()
    hard = submit_hard_limit(settings)
    assert hard <= TASK_TIME_LIMIT
    # The lease starts after the task does, so a task killed at `hard` can no longer land
    # anything once the lease has run out; the rest covers the kill itself and clock skew.
    assert hard <= 0.8 * settings.submit_lease_seconds
    if lease is None:
        # The default leaves room for a full rate-limit wait (90 s) and a slow call.
        assert hard >= 90 + settings.http_timeout


def _expire_lease(order_id: int) -> None:
    """The submission outlived its lease: what a rate-limit wait or a stalled worker leaves."""
    with session_scope() as session:
        session.get(Order, order_id).next_attempt_at = utcnow() - timedelta(seconds=1)


def _request_cancel(order_id: int) -> None:
    """What intake does with a post from the cancel folder."""
    with session_scope() as session:
        order = session.get(Order, order_id, with_for_update=True)
        transition(session, order, OrderState.CANCEL_REQUESTED, "cancelled in Order Desk")


def _events(order_id: int) -> list[OrderEvent]:
    with session_scope() as session:
        events = session.scalars(
            select(OrderEvent).where(OrderEvent.order_id == order_id).order_by(OrderEvent.id)
        ).all()
        session.expunge_all()
        return list(events)


def _immediate(broker: str, task: str) -> list[dict[str, Any]]:
    """Messages for ``task`` on its queue that are due now (no countdown)."""
    return [
        message
        for message in queued(broker, queues.ROUTES[task])
        if message["headers"]["task"] == task and not message["headers"].get("eta")
    ]


def _args(message: dict[str, Any]) -> list[Any]:
    """A Celery message's positional arguments (protocol 2: base64 JSON body)."""
    args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
    return args


def test_hole2_a_submission_landing_after_the_cancellation_is_cancelled_at_the_warehouse(
    receive, warehouse: WarehouseSimulator, broker: str, held_write: HeldWrite
) -> None:
    order_id = receive()
    key = order_row(order_id).idempotency_key
    submitting = Runner(lambda: submit_order(order_id), "submit")
    submitting.start()
    held_write.wait_reached()

    _expire_lease(order_id)
    _request_cancel(order_id)
    assert cancel_order(order_id) == "cancelled"  # the warehouse has nothing under the key yet
    assert order_row(order_id).state == OrderState.CANCELLED

    held_write.release()
    assert submitting.outcome() == 1
    landed = warehouse.order_by_key(key)
    assert landed is not None and landed["status"] != "cancelled"
    order = order_row(order_id)
    assert order.state == OrderState.CANCELLED
    assert order.warehouse_ref
    late = [e for e in _events(order_id) if e.kind == "late_submission"]
    assert late and "cancelled" in late[0].message

    # The cancel goes out at once, not after a countdown.
    assert len(_immediate(broker, queues.CANCEL_ORDER)) == 1
    assert cancel_order(order_id) == "cancelled"
    assert warehouse.order_by_key(key)["status"] == "cancelled"
    assert order_row(order_id).state == OrderState.CANCELLED
    assert any(e.kind == "cancel" for e in _events(order_id))
    assert cancel_order(order_id) == "nothing-to-do"  # asked once, answered once


def test_hole2_a_submission_landing_after_the_sweeper_failed_it_is_submitted(
    receive, warehouse: WarehouseSimulator, broker: str, held_write: HeldWrite, bridge_env
) -> None:
    bridge_env.setenv("BRIDGE_MAX_ATTEMPTS", "1")
    reset_caches()
    order_id = receive()
    submitting = Runner(lambda: submit_order(order_id), "submit")
    submitting.start()
    held_write.wait_reached()

    _expire_lease(order_id)
    assert sweep().failed == 1  # the last attempt's lease ran out: the sweeper gives up on it
    assert order_row(order_id).state == OrderState.FAILED

    held_write.release()
    assert submitting.outcome() == 1
    order = order_row(order_id)
    assert order.state == OrderState.SUBMITTED
    assert order.warehouse_ref
    assert warehouse.order_by_key(order.idempotency_key) is not None
    [late] = [
        e for e in _events(order_id) if e.from_state == "failed" and e.to_state == "submitted"
    ]
    assert "failed" in late.message
    notes = [_args(message) for message in _immediate(broker, queues.ADD_HISTORY_NOTE)]
    # A problem note (the merchant read the failure note), written under the default policy.
    assert [order_id, "submitted_late"] in notes


def test_hole2_a_submission_landing_on_a_pending_cancellation_is_cancelled_at_once(
    receive, warehouse: WarehouseSimulator, broker: str, held_write: HeldWrite
) -> None:
    order_id = receive()
    key = order_row(order_id).idempotency_key
    submitting = Runner(lambda: submit_order(order_id), "submit")
    submitting.start()
    held_write.wait_reached()

    _request_cancel(order_id)
    assert cancel_order(order_id) == "waiting"  # the submission's lease still holds

    held_write.release()
    assert submitting.outcome() == 1
    assert warehouse.order_by_key(key) is not None
    order = order_row(order_id)
    assert order.state == OrderState.CANCEL_REQUESTED and order.warehouse_ref
    assert any(e.kind == "late_submission" for e in _events(order_id))
    assert len(_immediate(broker, queues.CANCEL_ORDER)) == 1
    assert cancel_order(order_id) == "cancelled"
    assert warehouse.order_by_key(key)["status"] == "cancelled"
    assert order_row(order_id).state == OrderState.CANCELLED


def test_hole2_a_cancellation_requested_before_the_write_sends_nothing(
    receive, warehouse: WarehouseSimulator, broker: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The claim is re-checked just before the warehouse call."""
    reached, go = threading.Event(), threading.Event()
    original = StoreContext.backend

    def slow_backend(self: StoreContext) -> Any:
        reached.set()
        assert go.wait(WAIT)
        return original(self)

    monkeypatch.setattr(StoreContext, "backend", slow_backend)
    order_id = receive()
    submitting = Runner(lambda: submit_order(order_id), "submit")
    submitting.start()
    assert reached.wait(WAIT)
    _request_cancel(order_id)
    go.set()
    submitting.outcome()

    assert warehouse.create_calls == 0
    assert warehouse.order_by_key(order_row(order_id).idempotency_key) is None
    assert any("not sent" in e.message for e in _events(order_id))
    # The claim is given up, so the cancellation need not wait for the lease.
    assert order_row(order_id).next_attempt_at is None
    assert len(_immediate(broker, queues.CANCEL_ORDER)) == 1
    monkeypatch.setattr(StoreContext, "backend", original)
    assert cancel_order(order_id) == "cancelled"
    assert order_row(order_id).state == OrderState.CANCELLED


def test_hole2_a_lost_cancel_of_a_late_submission_is_sent_again_by_the_sweeper(
    receive, warehouse: WarehouseSimulator, broker: str, held_write: HeldWrite, bridge_env
) -> None:
    bridge_env.setenv("BRIDGE_SWEEP_GRACE_SECONDS", "0")
    reset_caches()
    order_id = receive()
    submitting = Runner(lambda: submit_order(order_id), "submit")
    submitting.start()
    held_write.wait_reached()
    _expire_lease(order_id)
    _request_cancel(order_id)
    assert cancel_order(order_id) == "cancelled"
    held_write.release()
    submitting.outcome()
    redis.Redis.from_url(broker).flushdb()  # the cancel message is lost

    report = sweep()
    assert report.cancels == 1
    assert len(_immediate(broker, queues.CANCEL_ORDER)) == 1
    assert cancel_order(order_id) == "cancelled"
    assert warehouse.order_by_key(order_row(order_id).idempotency_key)["status"] == "cancelled"
    with session_scope() as session:  # answered: nothing more to re-send
        session.get(Order, order_id).enqueued_at = None
    assert sweep().cancels == 0
