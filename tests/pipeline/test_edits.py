"""Edits after submission: an order re-posted by Order Desk with a newer ``date_updated`` goes
to a warehouse that can update it (ShipStation's upsert by ``orderKey``) once per version, or is
flagged for a person. Through the intake's Flask endpoint and the simulators over HTTP."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta
from typing import Any

import pytest
import redis
import requests
from flask.testing import FlaskClient
from sqlalchemy import select

from bridge.db import session_scope
from bridge.history import EventKind, transition
from bridge.jobs import queues
from bridge.models import Order, OrderEvent, utcnow
from bridge.orderdesk.webhook import sign_order
from bridge.pipeline.edits import push_edit
from bridge.pipeline.sweep import sweep
from bridge.settings import get_settings
from bridge.sim.warehouse import WarehouseSimulator
from bridge.states import OrderState
from tests.conftest import reset_caches
from tests.pipeline.conftest import API_KEY, STORE_ID, order_row
from tests.pipeline.support import key, submitted
from tests.pipeline.test_submit import queued_tasks
from web import create_app

OD_TIME = "%Y-%m-%d %H:%M:%S"
shipstation = pytest.mark.parametrize("warehouse_kind", ["shipstation"])


@pytest.fixture
def intake(store: int) -> FlaskClient:
    return create_app(get_settings()).test_client()


def newer(order_id: int, minutes: int = 1) -> str:
    """An Order Desk ``date_updated`` ``minutes`` after the version the bridge holds."""
    held = datetime.strptime(order_row(order_id).orderdesk_updated_at, OD_TIME)
    return (held + timedelta(minutes=minutes)).strftime(OD_TIME)


def repost(intake: FlaskClient, order_id: int, date_updated: str, mugs: int) -> dict[str, Any]:
    """Order Desk posting the order again, edited: ``mugs`` units on its first line."""
    body = copy.deepcopy(order_row(order_id).payload)
    body["date_updated"] = date_updated
    body["order_items"][0]["quantity"] = mugs
    text = json.dumps(body)
    response = intake.post(
        "/webhooks/orderdesk",
        data={"order": text},
        headers={"X-Order-Desk-Store-Id": STORE_ID, "X-Order-Desk-Hash": sign_order(text, API_KEY)},
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    response.close()  # the intake publishes its follow-up work when the response is closed
    return response.get_json()


def kinds(order_id: int) -> list[str]:
    with session_scope() as session:
        return list(
            session.scalars(
                select(OrderEvent.kind)
                .where(OrderEvent.order_id == order_id)
                .order_by(OrderEvent.id)
            )
        )


def warehouse_mugs(warehouse: WarehouseSimulator, order_id: int) -> int:
    stored = warehouse.order_by_key(key(order_id))
    assert stored is not None
    return next(item["quantity"] for item in stored["items"] if item["sku"] == "MUG-TRL-SLT")


def move(order_id: int, *targets: OrderState) -> None:
    with session_scope() as session:
        order = session.get_one(Order, order_id)
        for target in targets:
            transition(session, order, target, "moved by the test")


@shipstation
def test_a_newer_version_replaces_the_order_at_shipstation_once(
    receive, warehouse: WarehouseSimulator, intake: FlaskClient, broker: str
) -> None:
    [order_id] = submitted(receive)
    assert warehouse_mugs(warehouse, order_id) == 2
    creates = warehouse.create_calls

    version = newer(order_id)
    assert repost(intake, order_id, version, mugs=5)["result"] == "duplicate"
    assert queued_tasks(broker, queues.QUEUE_INTAKE).count(queues.PUSH_EDIT) == 1
    assert push_edit(order_id) == "pushed"

    assert warehouse_mugs(warehouse, order_id) == 5
    assert len(warehouse.orders()) == 1  # replaced, not a second warehouse order
    assert warehouse.create_calls == creates + 1
    row = order_row(order_id)
    assert (row.edit_handled_version, row.edit_needs_attention) == (version, False)
    assert kinds(order_id).count(EventKind.EDIT_PUSHED) == 1

    assert push_edit(order_id) == "nothing-to-do"  # a repeated message sends nothing
    assert warehouse.create_calls == creates + 1


@shipstation
def test_an_older_or_equal_version_changes_nothing(
    receive, warehouse: WarehouseSimulator, intake: FlaskClient, broker: str
) -> None:
    [order_id] = submitted(receive)
    before = order_row(order_id)
    events_before = kinds(order_id)
    repost(intake, order_id, before.orderdesk_updated_at, mugs=7)
    repost(intake, order_id, newer(order_id, minutes=-60), mugs=8)

    row = order_row(order_id)
    assert row.payload == before.payload
    assert row.changed_after_submission is False
    assert kinds(order_id) == events_before
    assert queues.PUSH_EDIT not in queued_tasks(broker, queues.QUEUE_INTAKE)
    assert push_edit(order_id) == "nothing-to-do"
    assert warehouse_mugs(warehouse, order_id) == 2


@shipstation
def test_a_newer_edit_supersedes_one_still_waiting(
    receive, warehouse: WarehouseSimulator, intake: FlaskClient
) -> None:
    [order_id] = submitted(receive)
    creates = warehouse.create_calls
    first, second = newer(order_id, 1), newer(order_id, 2)
    repost(intake, order_id, first, mugs=3)
    repost(intake, order_id, second, mugs=4)

    assert push_edit(order_id) == "pushed"  # the first message sends the newest version
    assert push_edit(order_id) == "nothing-to-do"  # the second finds it handled
    assert warehouse_mugs(warehouse, order_id) == 4
    assert warehouse.create_calls == creates + 1
    assert order_row(order_id).edit_handled_version == second


@shipstation
def test_an_edit_waits_for_a_submission_in_flight(receive, intake: FlaskClient) -> None:
    order_id = receive()
    move(order_id, OrderState.SUBMITTING)
    repost(intake, order_id, newer(order_id), mugs=6)
    assert order_row(order_id).payload["order_items"][0]["quantity"] == 6
    assert push_edit(order_id) == "waiting"
    assert EventKind.EDIT_PUSHED not in kinds(order_id)


@shipstation
def test_nothing_is_pushed_after_the_order_shipped(
    receive, warehouse: WarehouseSimulator, intake: FlaskClient, broker: str
) -> None:
    # Shipped as far as the bridge knows: the intake flags it and sends no push.
    [shipped] = submitted(receive)
    move(shipped, OrderState.SHIPPED)
    repost(intake, shipped, newer(shipped), mugs=9)
    assert queues.PUSH_EDIT not in queued_tasks(broker, queues.QUEUE_INTAKE)
    assert order_row(shipped).edit_needs_attention is True
    assert push_edit(shipped) == "nothing-to-do"
    assert warehouse_mugs(warehouse, shipped) == 2

    # Shipped after the edit arrived, before the push ran: nothing goes to the warehouse.
    [late] = submitted(receive)
    repost(intake, late, newer(late), mugs=9)
    move(late, OrderState.SHIPPED)
    creates = warehouse.create_calls
    assert push_edit(late) == "too-late"
    assert warehouse.create_calls == creates
    assert order_row(late).edit_needs_attention is True

    # Shipped at the warehouse but not yet polled: ShipStation refuses, a person is asked.
    [unpolled] = submitted(receive)
    repost(intake, unpolled, newer(unpolled), mugs=9)
    warehouse.ship(key(unpolled))
    assert push_edit(unpolled) == "refused"
    assert warehouse_mugs(warehouse, unpolled) == 2
    row = order_row(unpolled)
    assert row.edit_needs_attention is True
    assert EventKind.EDIT_NEEDS_ATTENTION in kinds(unpolled)


def test_a_backend_without_updates_flags_the_order(
    receive, warehouse: WarehouseSimulator, intake: FlaskClient, broker: str
) -> None:
    [order_id] = submitted(receive)  # the simulated warehouse cannot update orders
    repost(intake, order_id, newer(order_id), mugs=5)
    row = order_row(order_id)
    assert row.edit_needs_attention is True
    assert row.payload["order_items"][0]["quantity"] == 2  # what the warehouse has
    assert kinds(order_id)[-2:] == [
        EventKind.CHANGED_AFTER_SUBMISSION,
        EventKind.EDIT_NEEDS_ATTENTION,
    ]
    assert queues.PUSH_EDIT not in queued_tasks(broker, queues.QUEUE_INTAKE)
    assert push_edit(order_id) == "nothing-to-do"
    assert warehouse.create_calls == 1


@shipstation
def test_an_order_on_hold_at_shipstation_stays_on_hold(
    receive, warehouse: WarehouseSimulator, intake: FlaskClient
) -> None:
    [order_id] = submitted(receive)
    # A person puts the order on hold in ShipStation (through its API, as its web app would).
    auth = ("sim-key", "sim-secret")
    url = f"{warehouse.url}/orders/{order_row(order_id).warehouse_ref}"
    held = requests.get(url, auth=auth, timeout=5).json() | {"orderStatus": "on_hold"}
    assert requests.post(f"{warehouse.url}/orders/createorder", json=held, auth=auth, timeout=5).ok
    repost(intake, order_id, newer(order_id), mugs=5)
    assert push_edit(order_id) == "pushed"
    stored = warehouse.order_by_key(key(order_id))
    assert stored is not None
    assert (stored["orderStatus"], warehouse_mugs(warehouse, order_id)) == ("on_hold", 5)


@shipstation
def test_the_sweeper_resends_a_push_whose_message_was_lost(
    receive, warehouse: WarehouseSimulator, intake: FlaskClient, broker: str, bridge_env
) -> None:
    bridge_env.setenv("BRIDGE_SWEEP_GRACE_SECONDS", "0")
    reset_caches()
    [order_id] = submitted(receive)
    repost(intake, order_id, newer(order_id), mugs=5)
    redis.Redis.from_url(broker).delete(queues.QUEUE_INTAKE)  # the message is lost
    with session_scope() as session:
        session.get_one(Order, order_id).updated_at = utcnow() - timedelta(seconds=5)

    assert sweep().edits == 1
    assert queued_tasks(broker, queues.QUEUE_INTAKE) == [queues.PUSH_EDIT]
    assert push_edit(order_id) == "pushed"
    assert warehouse_mugs(warehouse, order_id) == 5
    assert sweep().edits == 0  # handled: nothing to send again
