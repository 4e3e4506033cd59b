"""Store pause: webhooks are still taken in, nothing reaches the warehouse until resume.

The intake is the real web app (signed posts), the steps run over real PostgreSQL, Redis and
the simulators; the CLI is the operator's.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
import redis
import structlog
from click.testing import CliRunner, Result
from flask.testing import FlaskClient

from bridge.cli import main
from bridge.db import session_scope
from bridge.history import transition
from bridge.jobs import handoff, queues
from bridge.models import Order, utcnow
from bridge.ops.operations import request_cancel
from bridge.orderdesk.webhook import sign_order
from bridge.pipeline import submit
from bridge.pipeline.cancel import cancel_order
from bridge.pipeline.submit import submit_order
from bridge.pipeline.sweep import sweep
from bridge.settings import get_settings
from bridge.sim.orderdesk import OrderDeskSimulator
from bridge.sim.warehouse import WarehouseSimulator
from bridge.states import OrderState
from bridge.stores.pause import pause_store
from tests.conftest import reset_caches
from tests.pipeline.conftest import API_KEY, STORE_ID, fixture_order, order_row
from tests.pipeline.test_submit import queued, queued_tasks


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture
def webhook(orderdesk: OrderDeskSimulator, store: int) -> Callable[[], int]:
    """Create an order in Order Desk and post it to the intake, signed; return our row id."""
    from web import create_app

    client: FlaskClient = create_app(get_settings()).test_client()

    def post() -> int:
        body = copy.deepcopy(fixture_order())
        body.pop("id", None)
        created = orderdesk.create_order(STORE_ID, body, fire_rule=False)
        text = json.dumps(created)
        response = client.post(
            "/webhooks/orderdesk",
            data={"order": text},
            headers={
                "X-Order-Desk-Store-Id": STORE_ID,
                "X-Order-Desk-Hash": sign_order(text, API_KEY),
            },
        )
        assert response.status_code == 200, response.get_data(as_text=True)
        response.close()  # the intake publishes its follow-up work once the answer is closed
        with session_scope() as session:
            return session.query(Order.id).filter_by(orderdesk_order_id=str(created["id"])).scalar()

    return post


def handed_over(broker: str) -> list[int]:
    """Row ids on the intake's hand-off list (bridge.jobs.handoff), oldest first."""
    client = redis.Redis.from_url(broker)
    try:
        return [int(raw) for raw in reversed(client.lrange(handoff.NEW_ORDERS_KEY, 0, -1))]
    finally:
        client.close()


def test_a_paused_store_takes_orders_in_and_sends_them_on_resume(
    webhook: Callable[[], int],
    warehouse: WarehouseSimulator,
    broker: str,
    bridge_env: pytest.MonkeyPatch,
) -> None:
    paused = run("stores", "pause", STORE_ID)
    assert paused.exit_code == 0, paused.output
    assert f"store {STORE_ID} paused" in paused.output
    assert run("stores", "resume", STORE_ID).exit_code == 0
    # The operator's log line (the CLI configures its own logging, so pause directly here).
    with structlog.testing.capture_logs() as logs, session_scope() as session:
        pause_store(session, STORE_ID, "cli")
    assert {"event": "store_paused", "store": STORE_ID, "actor": "cli", "waiting": 0} in [
        {k: v for k, v in line.items() if k != "log_level"} for line in logs
    ]

    held = webhook()
    assert order_row(held).state == OrderState.RECEIVED
    # Intake as usual: the order is handed to the workers, with a wake message for the drain.
    assert handed_over(broker) == [held]
    assert queued_tasks(broker, queues.QUEUE_INTAKE) == [queues.DRAIN_NEW_ORDERS]

    assert submit_order(held) == 0
    assert order_row(held).attempts == 0  # no attempt counted
    assert order_row(held).state == OrderState.RECEIVED

    bridge_env.setenv("BRIDGE_SWEEP_GRACE_SECONDS", "0")
    reset_caches()
    with session_scope() as session:
        session.get_one(Order, held).updated_at = utcnow() - timedelta(seconds=5)
    assert sweep().resubmitted == 0  # the sweeper leaves a paused store's orders alone

    listed = run("stores", "list")
    assert "PAUSED" in listed.output
    assert listed.output.splitlines()[1].split()[4] == "yes"
    assert run("stores", "pause", STORE_ID).output.startswith(
        f"store {STORE_ID} was already paused"
    )
    assert warehouse.create_calls == 0

    resumed = run("stores", "resume", STORE_ID)
    assert resumed.exit_code == 0, resumed.output
    assert "1 waiting order(s) sent for submission" in resumed.output
    assert queued_tasks(broker, queues.QUEUE_INTAKE) == [
        queues.SUBMIT_ORDER,
        queues.DRAIN_NEW_ORDERS,
    ]
    assert order_row(held).enqueued_at is not None  # the sweeper will not double it

    assert submit_order(held) == 1
    assert order_row(held).state == OrderState.SUBMITTED
    assert warehouse.order_by_key(order_row(held).idempotency_key) is not None
    assert run("stores", "resume", STORE_ID).output.strip() == f"store {STORE_ID} is not paused"


def test_an_order_never_sent_is_cancelled_while_its_store_is_paused(
    webhook: Callable[[], int], warehouse: WarehouseSimulator, broker: str
) -> None:
    assert run("stores", "pause", STORE_ID).exit_code == 0
    order_id = webhook()
    assert submit_order(order_id) == 0
    asked = request_cancel(order_id, "test")
    assert asked.state == OrderState.CANCEL_REQUESTED
    assert cancel_order(order_id) == "cancelled"
    assert order_row(order_id).state == OrderState.CANCELLED
    assert warehouse.create_calls == 0
    resumed = run("stores", "resume", STORE_ID)
    assert "0 waiting order(s)" in resumed.output


def test_resume_keeps_a_retry_waiting_for_its_backoff(
    receive: Callable[..., int], warehouse: WarehouseSimulator, broker: str
) -> None:
    order_id = receive()
    assert run("stores", "pause", STORE_ID).exit_code == 0
    with session_scope() as session:
        order = session.get_one(Order, order_id)
        transition(session, order, OrderState.SUBMITTING, "claimed")
        order.attempts = 1
        order.next_attempt_at = utcnow() + timedelta(seconds=120)
    assert run("stores", "resume", STORE_ID).exit_code == 0
    [message] = queued(broker, queues.QUEUE_INTAKE)
    assert message["headers"]["task"] == queues.SUBMIT_ORDER
    eta = datetime.fromisoformat(message["headers"]["eta"])
    assert timedelta(seconds=100) < eta - utcnow() <= timedelta(seconds=120)


def test_a_claim_after_the_pause_committed_claims_nothing(
    receive: Callable[..., int], store: int, warehouse: WarehouseSimulator
) -> None:
    """A worker that loaded the store before the pause still finds it paused when claiming."""
    order_id = receive()
    assert run("stores", "pause", STORE_ID).exit_code == 0
    assert submit._claim(store, order_id, 10) == []
    assert order_row(order_id).attempts == 0


def test_a_disabled_or_unknown_store_cannot_be_paused(store: int) -> None:
    assert run("stores", "disable", STORE_ID).exit_code == 0
    refused = run("stores", "pause", STORE_ID)
    assert refused.exit_code != 0
    assert f"store {STORE_ID} is disabled; there is nothing to pause" in refused.output
    unknown = run("stores", "resume", "999")
    assert unknown.exit_code != 0
    assert "no store with Order Desk store id 999" in unknown.output
