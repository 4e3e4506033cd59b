"""The operator actions themselves: retry, cancel, finding orders, counting them."""

from __future__ import annotations

import pytest

from bridge.db import session_scope
from bridge.jobs import queues
from bridge.ops import operations
from bridge.states import OrderState
from tests.conftest import reset_caches
from tests.ops.conftest import STORE_ID, SeedOrder, order_row, queued_tasks


@pytest.mark.parametrize(
    ("state", "field", "value"),
    [
        (OrderState.FAILED, "last_error", "warehouse answered 503 eight times"),
        (OrderState.REJECTED, "reason", "the warehouse does not know SKU BLUE-9"),
    ],
)
def test_retry_puts_the_order_back_and_sends_it(
    seed_order: SeedOrder, broker: str, state: OrderState, field: str, value: str
) -> None:
    order_id = seed_order(state, attempts=8, **{field: value})

    result = operations.retry_order(order_id, "cli")

    assert result.state == OrderState.RECEIVED.value and result.enqueued is True
    order = order_row(order_id)
    assert order.state == OrderState.RECEIVED.value
    assert order.attempts == 0
    assert order.next_attempt_at is None and order.last_error is None and order.reason is None
    last = order.events[-1]
    assert (last.from_state, last.to_state) == (state.value, OrderState.RECEIVED.value)
    assert "cli" in last.message and last.detail["actor"] == "cli"
    assert value in (last.detail["previous_error"], last.detail["previous_reason"])
    assert queued_tasks(broker, queues.QUEUE_INTAKE) == [queues.SUBMIT_ORDER]


@pytest.mark.parametrize("state", [OrderState.SHIPPED, OrderState.IN_PROCESS, OrderState.RECEIVED])
def test_retry_refuses_orders_that_are_not_stuck(
    seed_order: SeedOrder, broker: str, state: OrderState
) -> None:
    order_id = seed_order(state)
    events_before = len(order_row(order_id).events)

    with pytest.raises(operations.OperationError, match=f"is {state.value}; only failed"):
        operations.retry_order(order_id, "cli")

    order = order_row(order_id)
    assert order.state == state.value and len(order.events) == events_before
    assert queued_tasks(broker, queues.QUEUE_INTAKE) == []


def test_cancel_request_asks_the_warehouse(seed_order: SeedOrder, broker: str) -> None:
    order_id = seed_order(OrderState.IN_PROCESS, orderdesk_order_id="6001")

    result = operations.request_cancel(f"{STORE_ID}:6001", "admin")

    assert result.state == OrderState.CANCEL_REQUESTED.value and result.enqueued is True
    order = order_row(order_id)
    assert order.state == OrderState.CANCEL_REQUESTED.value
    assert order.events[-1].detail == {"actor": "admin"}
    assert queued_tasks(broker, queues.QUEUE_INTAKE) == [queues.CANCEL_ORDER]


def test_a_retry_while_the_broker_is_down_is_kept_and_says_so(
    seed_order: SeedOrder, bridge_env: pytest.MonkeyPatch
) -> None:
    """The row is the truth: the retry commits, the answer says the message did not go out, and
    ``enqueued_at`` stays set so the sweeper re-sends it once it is due again."""
    order_id = seed_order(OrderState.FAILED, attempts=8)
    bridge_env.setenv("BRIDGE_BROKER_URL", "redis://127.0.0.1:9/0")
    reset_caches()

    result = operations.retry_order(order_id, "cli")

    assert result.state == OrderState.RECEIVED.value and result.enqueued is False
    order = order_row(order_id)
    assert order.state == OrderState.RECEIVED.value and order.enqueued_at is not None


def test_cancel_of_a_parked_order_is_immediate(seed_order: SeedOrder, broker: str) -> None:
    order_id = seed_order(OrderState.REJECTED, reason="no ship-to address")

    result = operations.request_cancel(order_id, "admin")

    assert result.state == OrderState.CANCELLED.value and result.enqueued is None
    assert order_row(order_id).state == OrderState.CANCELLED.value
    assert queued_tasks(broker, queues.QUEUE_INTAKE) == []


@pytest.mark.parametrize(
    ("state", "words"),
    [
        (OrderState.SHIPPED, "already shipped; it cannot be cancelled"),
        (OrderState.FAILED, "cannot tell whether the warehouse holds it"),
    ],
)
def test_cancel_refusals_say_why(
    seed_order: SeedOrder, broker: str, state: OrderState, words: str
) -> None:
    order_id = seed_order(state)
    with pytest.raises(operations.OperationError, match=words):
        operations.request_cancel(order_id, "admin")
    assert order_row(order_id).state == state.value


def test_cancelling_twice_is_refused(seed_order: SeedOrder, broker: str) -> None:
    order_id = seed_order(OrderState.REJECTED, reason="no ship-to address")
    operations.request_cancel(order_id, "admin")
    with pytest.raises(operations.OperationError, match="is already cancelled"):
        operations.request_cancel(order_id, "admin")


def test_references_are_row_ids_or_store_and_orderdesk_id(seed_order: SeedOrder) -> None:
    order_id = seed_order(OrderState.FAILED, orderdesk_order_id="777")
    with session_scope() as session:
        assert operations.get_order(session, order_id).id == order_id
        assert operations.get_order(session, f"{STORE_ID}:777").id == order_id
        with pytest.raises(operations.OperationError, match="no order 999:777"):
            operations.get_order(session, "999:777")
        with pytest.raises(operations.OperationError, match="not an order reference"):
            operations.get_order(session, "abc")


def test_find_orders_filters_and_pages(seed_order: SeedOrder) -> None:
    failed = [seed_order(OrderState.FAILED) for _ in range(3)]
    shipped = seed_order(OrderState.SHIPPED, order_number="SHOP-1042")
    with session_scope() as session:
        assert [o.id for o in operations.find_orders(session, "failed")] == failed[::-1]
        page = operations.find_orders(session, "failed", STORE_ID, limit=2, offset=2)
        assert [o.id for o in page] == [failed[0]]
        assert [o.id for o in operations.find_orders(session, search="1042")] == [shipped]
        od_id = order_row(failed[1]).orderdesk_order_id
        assert [o.id for o in operations.find_orders(session, search=od_id)] == [failed[1]]
        assert operations.find_orders(session, search="100%") == []
        with pytest.raises(operations.OperationError, match="unknown state 'lost'"):
            operations.find_orders(session, "lost")
        with pytest.raises(operations.OperationError, match="no store with Order Desk store id 1"):
            operations.find_orders(session, store="1")


def test_state_counts_per_store(seed_order: SeedOrder) -> None:
    for state in (OrderState.FAILED, OrderState.FAILED, OrderState.SHIPPED):
        seed_order(state)
    with session_scope() as session:
        assert operations.state_counts(session) == {STORE_ID: {"failed": 2, "shipped": 1}}
