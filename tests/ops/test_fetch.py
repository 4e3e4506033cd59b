"""``bridge orders fetch``: one order from the Order Desk simulator, taken in as a webhook."""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable

from click.testing import Result
from sqlalchemy import select

from bridge.db import session_scope
from bridge.history import EventKind
from bridge.jobs import queues
from bridge.models import Order, OrderEvent, WebhookReceipt
from bridge.orderdesk.webhook import sign_order
from bridge.settings import get_settings
from bridge.sim.orderdesk import OrderDeskSimulator
from bridge.states import OrderState
from tests.ops.conftest import API_KEY, STORE_ID, fixture_order, queued_tasks


def _in_orderdesk(orderdesk: OrderDeskSimulator) -> dict:
    body = copy.deepcopy(fixture_order())
    body.pop("id", None)
    return orderdesk.create_order(STORE_ID, body, fire_rule=False)


def _rows(od_id: str) -> list[Order]:
    with session_scope() as session:
        rows = list(session.scalars(select(Order).where(Order.orderdesk_order_id == od_id)))
        session.expunge_all()
        return rows


def test_fetch_takes_an_order_in_once_and_a_webhook_after_it_is_a_duplicate(
    orderdesk: OrderDeskSimulator, audited_store: int, broker: str, cli: Callable[..., Result]
) -> None:
    created = _in_orderdesk(orderdesk)
    od_id = str(created["id"])

    fetched = cli("orders", "fetch", STORE_ID, od_id)
    assert fetched.exit_code == 0, fetched.output
    [order] = _rows(od_id)
    assert (
        fetched.output.splitlines()[-1]
        == f"order {STORE_ID}:{od_id} fetched: accepted (row {order.id}, received)"
    )
    assert order.state == OrderState.RECEIVED
    assert order.payload == created
    assert order.payload_sha256 == hashlib.sha256(json.dumps(created).encode()).hexdigest()
    assert order.idempotency_key == f"od-{STORE_ID}-{od_id}"
    assert queued_tasks(broker, queues.QUEUE_INTAKE) == [queues.SUBMIT_ORDER]
    with session_scope() as session:
        [event] = session.scalars(
            select(OrderEvent).where(
                OrderEvent.order_id == order.id, OrderEvent.kind == EventKind.RECOVERED
            )
        ).all()
        assert event.message.startswith("fetched from Order Desk by cli")

    again = cli("orders", "fetch", STORE_ID, od_id)
    assert again.exit_code == 0, again.output
    assert (
        again.output.splitlines()[-1]
        == f"order {STORE_ID}:{od_id} is already here (row {order.id}, received)"
    )
    assert len(_rows(od_id)) == 1
    assert queued_tasks(broker, queues.QUEUE_INTAKE) == [queues.SUBMIT_ORDER]

    # The webhook Order Desk retries later finds the same order: the same row, nothing new.
    from web import create_app

    text = json.dumps(created)
    with create_app(get_settings()).test_client() as client:
        response = client.post(
            "/webhooks/orderdesk",
            data={"order": text},
            headers={
                "X-Order-Desk-Store-Id": STORE_ID,
                "X-Order-Desk-Hash": sign_order(text, API_KEY),
            },
        )
        response.close()
    assert response.status_code == 200
    with session_scope() as session:
        outcomes = session.scalars(
            select(WebhookReceipt.outcome).where(WebhookReceipt.orderdesk_order_id == od_id)
        ).all()
    assert outcomes == ["duplicate"]
    assert len(_rows(od_id)) == 1


def test_fetch_says_what_is_wrong_in_one_line(
    orderdesk: OrderDeskSimulator, audited_store: int, broker: str, cli: Callable[..., Result]
) -> None:
    missing = cli("orders", "fetch", STORE_ID, "999999")
    assert missing.exit_code != 0
    assert "Order Desk did not give order 999999" in missing.output
    assert API_KEY not in missing.output
    assert "Traceback" not in missing.output
    unknown = cli("orders", "fetch", "777", "1")
    assert unknown.exit_code != 0
    assert "no store with Order Desk store id 777" in unknown.output
    assert _rows("999999") == [] and queued_tasks(broker, queues.QUEUE_INTAKE) == []
