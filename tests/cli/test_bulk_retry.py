"""``bridge orders retry --state failed --store ID``: count, confirm, then the single retry's
steps for every matching order, in short batches. Real rows, a real Redis broker."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from bridge.cli import main
from bridge.db import session_scope
from bridge.jobs import queues
from bridge.models import Order
from bridge.ops import operations
from bridge.states import OrderState
from bridge.stores.registry import StoreRegistry
from tests.cli.support import closed_port
from tests.conftest import reset_caches
from tests.ops.conftest import STORE_ID, SeedOrder, order_row, queued_tasks

OTHER_STORE = "626262"


def _cli(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), input=input)


@pytest.fixture
def other_store_order(seed_order: SeedOrder) -> Callable[..., int]:
    """Seed into a second store: its failed orders are not this command's business."""
    with session_scope() as session:
        other = (
            StoreRegistry(session)
            .add(
                orderdesk_store_id=OTHER_STORE,
                name="Other",
                api_key="other-key-0123456789",
                backend="simulated",
                backend_config={"base_url": "http://127.0.0.1:9", "api_key": "k"},
            )
            .id
        )

    def _seed(state: OrderState, od_id: str) -> int:
        order_id = seed_order(state, orderdesk_order_id=od_id)
        with session_scope() as session:
            order = session.get(Order, order_id)
            assert order is not None
            order.store_id = other
            order.idempotency_key = f"od-{OTHER_STORE}-{od_id}"
        return order_id

    return _seed


def test_counts_asks_and_retries_each_order_through_transition(
    seed_order: SeedOrder, other_store_order: Callable[..., int], broker: str
) -> None:
    failed = [seed_order(OrderState.FAILED, last_error="503", attempts=8) for _ in range(3)]
    rejected = seed_order(OrderState.REJECTED, reason="no address")
    elsewhere = other_store_order(OrderState.FAILED, "9900")

    result = _cli("orders", "retry", "--state", "failed", "--store", STORE_ID, input="y\n")

    assert result.exit_code == 0, result.output
    assert f"3 failed order(s) of store {STORE_ID} will be sent again. Continue?" in result.output
    assert result.output.splitlines()[-1] == "3 order(s) sent for submission again"
    for order_id in failed:
        order = order_row(order_id)
        assert (order.state, order.attempts, order.last_error) == ("received", 0, None)
        last = order.events[-1]
        assert (last.kind, last.from_state, last.to_state) == ("transition", "failed", "received")
        assert last.detail["actor"] == "cli" and last.detail["previous_error"] == "503"
    assert order_row(rejected).state == OrderState.REJECTED.value
    assert order_row(elsewhere).state == OrderState.FAILED.value
    assert queued_tasks(broker, queues.QUEUE_INTAKE) == [queues.SUBMIT_ORDER] * 3


def test_no_at_the_prompt_changes_nothing(seed_order: SeedOrder, broker: str) -> None:
    failed = seed_order(OrderState.FAILED)

    result = _cli("orders", "retry", "--state", "failed", "--store", STORE_ID, input="n\n")

    assert result.exit_code == 1 and "Aborted!" in result.output
    assert order_row(failed).state == OrderState.FAILED.value
    assert queued_tasks(broker, queues.QUEUE_INTAKE) == []


def test_yes_skips_the_question_and_every_store_is_the_default(
    seed_order: SeedOrder, other_store_order: Callable[..., int], broker: str
) -> None:
    rejected = seed_order(OrderState.REJECTED, reason="no address")
    elsewhere = other_store_order(OrderState.REJECTED, "9901")

    result = _cli("orders", "retry", "--state", "rejected", "--yes")

    assert result.exit_code == 0, result.output
    assert result.output == "2 order(s) sent for submission again\n"
    assert {order_row(rejected).state, order_row(elsewhere).state} == {"received"}


def test_nothing_to_retry_and_wrong_uses(seed_order: SeedOrder, broker: str) -> None:
    seed_order(OrderState.SHIPPED)

    nothing = _cli("orders", "retry", "--state", "failed", "--store", STORE_ID)
    both = _cli("orders", "retry", "1", "--state", "failed")
    neither = _cli("orders", "retry")
    unknown_store = _cli("orders", "retry", "--state", "failed", "--store", "404")
    shipped = _cli("orders", "retry", "--state", "shipped")

    assert nothing.exit_code == 0 and nothing.output == f"no failed orders of store {STORE_ID}\n"
    assert both.exit_code == 2 and "give one order REF, or --state" in both.output
    assert neither.exit_code == 2
    assert unknown_store.exit_code == 1
    assert unknown_store.output == "Error: no store with Order Desk store id 404\n"
    assert shipped.exit_code == 2  # only failed and rejected are offered


def test_batches_cover_every_order_and_skip_one_a_worker_holds(
    seed_order: SeedOrder, broker: str
) -> None:
    ids = [seed_order(OrderState.FAILED) for _ in range(7)]
    held = ids[3]

    with session_scope() as holder:
        # Another transaction (a worker, a second operator) holds one row's lock.
        holder.scalar(select(Order).where(Order.id == held).with_for_update())
        result = operations.retry_orders("failed", STORE_ID, "cli", batch_size=2)

    assert result == operations.BulkRetry(retried=6, not_sent=0)
    assert [order_row(i).state for i in ids] == ["received"] * 3 + ["failed"] + ["received"] * 3
    assert len(queued_tasks(broker, queues.QUEUE_INTAKE)) == 6


def test_a_dead_broker_leaves_the_orders_to_the_sweeper(
    seed_order: SeedOrder, bridge_env: pytest.MonkeyPatch
) -> None:
    bridge_env.setenv("BRIDGE_BROKER_URL", f"redis://127.0.0.1:{closed_port()}/0")
    reset_caches()
    failed = seed_order(OrderState.FAILED)

    result = _cli("orders", "retry", "--state", "failed", "--yes")

    assert result.exit_code == 0, result.output
    assert "1 order(s) sent for submission again; the broker did not take 1 message(s)" in (
        result.output
    )
    assert order_row(failed).state == OrderState.RECEIVED.value
