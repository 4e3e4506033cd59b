"""The one retry policy: what is retried, how long each retry waits, how often tasks retry."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bridge.db import session_scope
from bridge.history import EventKind, transition
from bridge.jobs import retry
from bridge.jobs.celery_config import MAX_COUNTDOWN, VISIBILITY_TIMEOUT
from bridge.jobs.retry import RETRYABLE, backoff_seconds, delay_after, is_retryable
from bridge.models import Order, OrderEvent
from bridge.orderdesk.errors import FolderNotFound, Rejected
from bridge.pipeline.cancel import CANCEL_STEP, cancel_order
from bridge.pipeline.submit import submit_order
from bridge.remote.errors import (
    AmbiguousOutcome,
    AuthError,
    RateLimited,
    RedirectRefused,
    TransientError,
)
from bridge.remote.ratelimit import RateLimiterUnavailable, RateLimitTimeout
from bridge.sim.warehouse import WarehouseSimulator
from bridge.states import OrderState
from tests.conftest import reset_caches
from tests.pipeline.conftest import order_row
from workers import tasks


def _spread(attempt: int, samples: int = 40, **kwargs: float) -> tuple[float, float]:
    delays = [backoff_seconds(attempt, **kwargs) for _ in range(samples)]
    return min(delays), max(delays)


def test_backoff_grows_with_each_attempt(bridge_env) -> None:
    # Base 10 s: attempt n waits between half and all of 10 * 2^(n-1) seconds.
    for attempt, (low, high) in {1: (5, 10), 2: (10, 20), 3: (20, 40), 4: (40, 80)}.items():
        shortest, longest = _spread(attempt)
        assert low <= shortest and longest <= high


@pytest.mark.parametrize("attempt", [1, 2, 5, 10, 50, 10_000])
def test_backoff_is_jittered_and_capped(bridge_env, attempt: int) -> None:
    delays = {backoff_seconds(attempt) for _ in range(20)}
    assert len(delays) > 1  # jitter
    assert all(0 < delay <= 300 for delay in delays)
    assert max(delays) <= MAX_COUNTDOWN < VISIBILITY_TIMEOUT


def test_backoff_follows_the_settings_and_never_passes_the_hard_cap(bridge_env) -> None:
    bridge_env.setenv("BRIDGE_RETRY_BASE_SECONDS", "2")
    bridge_env.setenv("BRIDGE_RETRY_MAX_SECONDS", "30")
    reset_caches()
    first, late = _spread(1), _spread(20)
    assert first[0] >= 1 and first[1] <= 2
    assert late[0] >= 15 and late[1] <= 30
    assert retry.MAX_DELAY_SECONDS < VISIBILITY_TIMEOUT


def test_backoff_honours_retry_after_up_to_the_cap(bridge_env) -> None:
    assert backoff_seconds(1, retry_after=42) >= 42
    assert backoff_seconds(1, retry_after=10_000) <= 300
    assert delay_after(RateLimited(60), 1) >= 60
    assert delay_after(RateLimitTimeout("store", 45), 1) >= 45
    assert delay_after(TransientError("down"), 1) <= 10


def test_what_is_retried() -> None:
    for exc in (
        RateLimited(1),
        TransientError("503"),
        AmbiguousOutcome("sent, no answer"),
        RateLimiterUnavailable("redis down"),
        ConnectionRefusedError(),
    ):
        assert is_retryable(exc), exc
    for exc in (
        AuthError("bad key"),
        RedirectRefused("3xx"),
        Rejected("refused"),
        FolderNotFound("In Process", [], store_id="1"),
        ValueError("a bug"),
    ):
        assert not is_retryable(exc), exc


def test_per_store_tasks_take_their_retry_rules_from_the_policy(bridge_env) -> None:
    for task in (tasks.move_in_process, tasks.post_shipments, tasks.poll_warehouse):
        assert tuple(task.autoretry_for) == RETRYABLE
        assert task.max_retries == retry.task_max_retries()
        # No Celery backoff of its own: BridgeTask.retry asks the policy for the countdown.
        assert not getattr(task, "retry_backoff", False)
        assert isinstance(task, tasks.BridgeTask)


def _cancel_failures(order_id: int) -> list[dict]:
    with session_scope() as session:
        return [
            event.detail
            for event in session.scalars(
                select(OrderEvent)
                .where(OrderEvent.order_id == order_id, OrderEvent.kind == EventKind.ERROR)
                .order_by(OrderEvent.id)
            )
            if event.detail.get("step") == CANCEL_STEP
        ]


def test_the_cancel_retry_waits_longer_each_time(receive, warehouse: WarehouseSimulator) -> None:
    order_id = receive()
    submit_order(order_id)
    with session_scope() as session:
        order = session.get(Order, order_id)
        transition(session, order, OrderState.CANCEL_REQUESTED, "test")
    warehouse.set_faults(error_rate=1.0, error_status=503)
    assert [cancel_order(order_id) for _ in range(4)] == ["retry"] * 4
    failures = _cancel_failures(order_id)
    assert [f["attempt"] for f in failures] == [1, 2, 3, 4]
    delays = [f["retry_in"] for f in failures]
    assert delays == sorted(delays) and len(set(delays)) == 4
    assert 40 <= delays[-1] <= 80  # the fourth wait, not the first one again
    warehouse.clear_faults()
    assert cancel_order(order_id) == "cancelled"
    assert order_row(order_id).state == OrderState.CANCELLED
