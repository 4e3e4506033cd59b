"""The Post Order JSON rule: signature, form body, retries and what counts as delivered."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
from typing import Any
from urllib.parse import unquote

import pytest

from bridge.sim.orderdesk import OrderDeskSimulator, sign_order

from .conftest import API_KEY, STORE_ID, Receiver

FAST = [0.05] * 9


def orderdesk_signature_ok(order_field: str, header_hash: str | None, api_key: str) -> bool:
    """The verifier of docs/orderdesk.md#the-webhook-post-order-json, apart from the simulator's."""
    if not header_hash:
        return False
    expected = header_hash.strip().lower()
    for candidate in (order_field, unquote(order_field)):
        mac = hmac.new(api_key.encode(), candidate.encode("utf-8"), hashlib.sha256).hexdigest()
        if hmac.compare_digest(mac, expected):
            return True
    return False


def test_created_order_is_posted_form_encoded_and_signed(
    sim: OrderDeskSimulator, receiver: tuple[Receiver, str], typical_order: dict[str, Any]
) -> None:
    hook, url = receiver
    sim.configure_rule(STORE_ID, url, retry_delays=FAST)

    stored = sim.create_order(STORE_ID, typical_order)

    assert hook.wait_for(1)
    (got,) = hook.received
    assert got.content_type == "application/x-www-form-urlencoded"
    assert got.headers["X-Order-Desk-Store-Id"] == STORE_ID
    assert orderdesk_signature_ok(got.order_field, got.headers["X-Order-Desk-Hash"], API_KEY)
    assert not orderdesk_signature_ok(got.order_field, got.headers["X-Order-Desk-Hash"], "other")
    assert got.headers["X-Order-Desk-Hash"] == sign_order(got.order_field, API_KEY)
    assert "OrderDesk" in got.headers["User-Agent"]
    posted = json.loads(got.order_field)
    assert posted["id"] == stored["id"]
    assert posted["shipping"]["city"] == "Costa Mesa"
    assert sim.wait_for_webhooks(5)
    assert [(a.attempt, a.status, a.error) for a in sim.webhook_log] == [(1, 200, None)]


def test_orders_are_not_posted_without_a_rule_or_when_told_not_to(
    sim: OrderDeskSimulator, receiver: tuple[Receiver, str], typical_order: dict[str, Any]
) -> None:
    hook, url = receiver
    sim.create_order(STORE_ID, typical_order)
    sim.configure_rule(STORE_ID, url, retry_delays=FAST)
    sim.create_order(STORE_ID, typical_order, fire_rule=False)

    assert sim.wait_for_webhooks(2)
    assert hook.stays_at(0, 0.3)
    assert sim.webhook_log == []


def test_retries_stop_at_the_first_success(
    sim: OrderDeskSimulator, receiver: tuple[Receiver, str], typical_order: dict[str, Any]
) -> None:
    hook, url = receiver
    hook.script = [500, 503, 201]
    sim.configure_rule(STORE_ID, url, max_attempts=6, retry_delays=FAST)

    sim.create_order(STORE_ID, typical_order)

    assert sim.wait_for_webhooks(5)
    assert [(a.attempt, a.status) for a in sim.webhook_log] == [(1, 500), (2, 503), (3, 201)]
    assert sim.webhook_log[-1].delivered
    assert hook.stays_at(3, 0.3)


@pytest.mark.parametrize("status", [202, 204, 400])
def test_statuses_above_201_are_failures_retried_to_the_limit(
    sim: OrderDeskSimulator,
    receiver: tuple[Receiver, str],
    typical_order: dict[str, Any],
    status: int,
) -> None:
    hook, url = receiver
    hook.default_status = status
    sim.configure_rule(STORE_ID, url, max_attempts=4, retry_delays=FAST)

    sim.create_order(STORE_ID, typical_order)

    assert sim.wait_for_webhooks(5)
    log = sim.webhook_log
    assert [a.attempt for a in log] == [1, 2, 3, 4]
    assert {a.status for a in log} == {status}
    assert all(a.error and not a.delivered for a in log)
    assert hook.stays_at(4, 0.3)


def test_unreachable_receiver_is_retried_with_an_error(
    sim: OrderDeskSimulator, typical_order: dict[str, Any]
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    sim.configure_rule(
        STORE_ID, f"http://127.0.0.1:{closed_port}/intake", max_attempts=2, retry_delays=FAST
    )

    sim.create_order(STORE_ID, typical_order)

    assert sim.wait_for_webhooks(5)
    assert [(a.attempt, a.status) for a in sim.webhook_log] == [(1, None), (2, None)]
    assert all(a.error for a in sim.webhook_log)
    assert API_KEY not in repr(sim.webhook_log)


def test_slow_receiver_times_out_and_is_retried(
    sim: OrderDeskSimulator, receiver: tuple[Receiver, str], typical_order: dict[str, Any]
) -> None:
    hook, url = receiver
    hook.delay = 2.0
    sim.configure_rule(STORE_ID, url, max_attempts=2, retry_delays=FAST, timeout=0.2)

    sim.create_order(STORE_ID, typical_order)

    assert sim.wait_for_webhooks(5)
    assert [(a.status, a.error) for a in sim.webhook_log] == [
        (None, "ReadTimeout"),
        (None, "ReadTimeout"),
    ]


def test_burst_is_delivered_concurrently_on_a_bounded_pool(
    sim: OrderDeskSimulator, receiver: tuple[Receiver, str], typical_order: dict[str, Any]
) -> None:
    hook, url = receiver
    hook.delay = 0.1
    sim.configure_rule(STORE_ID, url, retry_delays=FAST)

    ids = {sim.create_order(STORE_ID, typical_order)["id"] for _ in range(24)}

    assert hook.wait_for(24, timeout=10)
    assert sim.wait_for_webhooks(5)
    assert {json.loads(r.order_field)["id"] for r in hook.received} == ids
    assert 2 <= hook.max_in_flight <= 8


def test_post_folder_runs_the_rule_on_every_order_in_it(
    sim: OrderDeskSimulator, receiver: tuple[Receiver, str], typical_order: dict[str, Any]
) -> None:
    hook, url = receiver
    prepared = {
        sim.create_order(STORE_ID, typical_order, folder_name="Prepared", fire_rule=False)["id"]
        for _ in range(3)
    }
    sim.create_order(STORE_ID, typical_order, folder_name="New", fire_rule=False)
    sim.configure_rule(STORE_ID, url, retry_delays=FAST)

    assert sim.post_folder(STORE_ID, "Prepared") == 3

    assert sim.wait_for_webhooks(5)
    assert {json.loads(r.order_field)["id"] for r in hook.received} == prepared


def test_post_order_resends_one_order(
    sim: OrderDeskSimulator, receiver: tuple[Receiver, str], typical_order: dict[str, Any]
) -> None:
    hook, url = receiver
    sim.configure_rule(STORE_ID, url, retry_delays=FAST)
    order_id = sim.create_order(STORE_ID, typical_order)["id"]
    assert hook.wait_for(1)

    sim.post_order(STORE_ID, order_id)

    assert hook.wait_for(2)
    assert [json.loads(r.order_field)["id"] for r in hook.received] == [order_id, order_id]
