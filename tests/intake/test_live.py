"""The intake over real HTTP: concurrent retries, a dead broker, the Order Desk simulator, 413s."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator

import pytest
import redis
import requests

from bridge.jobs import handoff, queues
from bridge.models import Order, WebhookReceipt
from bridge.settings import get_settings
from bridge.sim.orderdesk import OrderDeskSimulator
from bridge.sim.server import BackgroundServer
from tests.intake.conftest import (
    API_KEY,
    STORE_ID,
    URL,
    LiveServer,
    count,
    fixture_order,
    fixture_text,
    order_row,
    receipts,
    signed_headers,
)
from web import create_app

Start = Callable[..., LiveServer]


def _messages(redis_url: str, queue: str) -> list[dict]:
    client = redis.Redis.from_url(redis_url)
    try:
        return [json.loads(raw) for raw in client.lrange(queue, 0, -1)]
    finally:
        client.close()


def _handed_over(redis_url: str) -> list[int]:
    client = redis.Redis.from_url(redis_url)
    try:
        return [int(raw) for raw in client.lrange(handoff.NEW_ORDERS_KEY, 0, -1)]
    finally:
        client.close()


@pytest.mark.parametrize("store_known", [False, True], ids=["first-webhook", "store-remembered"])
def test_twenty_concurrent_deliveries_make_one_row_and_one_submission(
    store: str, broker_url: str, live_server: Start, store_known: bool
) -> None:
    """Cold, the deliveries race through the full path; warm, through the one-statement accept."""
    server = live_server(BRIDGE_BROKER_URL=broker_url)
    if store_known:
        earlier = fixture_text("international")
        response = requests.post(
            server.url + URL, data={"order": earlier}, headers=signed_headers(earlier), timeout=10
        )
        assert response.json()["result"] == "accepted"
    text = fixture_text("typical")
    barrier = threading.Barrier(20)
    results: list[tuple[int, str]] = []
    lock = threading.Lock()

    def deliver() -> None:
        with requests.Session() as session:
            barrier.wait(timeout=10)
            response = session.post(
                server.url + URL, data={"order": text}, headers=signed_headers(text), timeout=10
            )
        with lock:
            results.append((response.status_code, response.json()["result"]))

    threads = [threading.Thread(target=deliver) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    log = server.stop()  # returns once every committed message was handed to Redis

    assert sorted(results) == [(200, "accepted")] + [(200, "duplicate")] * 19
    assert count(Order, Order.orderdesk_order_id == "48211937") == 1
    assert count(Order) == 1 + store_known
    ours = [r.outcome for r in receipts() if r.orderdesk_order_id == "48211937"]
    assert sorted(ours) == ["accepted"] + ["duplicate"] * 19
    row_id = order_row("48211937").id
    # Handed to the workers once (bridge.jobs.handoff): on the list, with one wake message.
    assert _handed_over(broker_url).count(row_id) == 1
    assert len(_handed_over(broker_url)) == 1 + store_known
    messages = _messages(broker_url, queues.QUEUE_INTAKE)
    assert [m["headers"]["task"] for m in messages] == [queues.DRAIN_NEW_ORDERS]
    assert API_KEY not in log
    assert log.count('"event": "webhook"') == 20 + store_known


def test_broker_down_still_answers_accepted_quickly(store: str, live_server: Start) -> None:
    server = live_server(BRIDGE_BROKER_URL="redis://127.0.0.1:1/0")
    timings = []
    for name in ("typical", "international"):
        text = fixture_text(name)
        started = time.monotonic()
        response = requests.post(
            server.url + URL, data={"order": text}, headers=signed_headers(text), timeout=10
        )
        timings.append(time.monotonic() - started)
        assert response.status_code == 200
        assert response.json()["result"] == "accepted"

    assert max(timings) < 1.0
    assert count(Order) == 2
    log = server.stop()
    assert "enqueue_failed" in log


def test_orders_created_in_the_simulator_are_accepted_end_to_end(
    store: str, broker_url: str, live_server: Start
) -> None:
    server = live_server(BRIDGE_BROKER_URL=broker_url)
    with OrderDeskSimulator() as sim:
        sim.add_store(STORE_ID, API_KEY)
        sim.configure_rule(STORE_ID, server.url + URL, retry_delays=[0.05] * 9, timeout=5)
        created = [
            sim.create_order(STORE_ID, fixture_order("typical")),
            sim.create_order(STORE_ID, fixture_order("international")),
            sim.create_order(STORE_ID, fixture_order("no-ship-to")),
            sim.create_order(STORE_ID, fixture_order("typical"), folder_name="Canceled"),
        ]
        assert sim.wait_for_webhooks(timeout=20)
        attempts = sim.webhook_log

    assert sorted((a.order_id, a.attempt, a.status) for a in attempts) == sorted(
        (order["id"], 1, 200) for order in created
    )
    states = [order_row(order["id"]).state for order in created]
    assert states == ["received", "received", "rejected", "cancelled"]
    outcomes = {r.orderdesk_order_id: r.outcome for r in receipts()}
    assert [outcomes[order["id"]] for order in created] == [
        "accepted",
        "accepted",
        "parked",
        "cancel_requested",
    ]
    server.stop()
    tasks = [m["headers"]["task"] for m in _messages(broker_url, queues.QUEUE_INTAKE)]
    assert tasks == [queues.DRAIN_NEW_ORDERS]
    accepted_rows = sorted(order_row(order["id"]).id for order in created[:2])
    assert sorted(_handed_over(broker_url)) == accepted_rows


@pytest.fixture
def small_limit_server(database: str, store: str) -> Iterator[str]:
    settings = get_settings().model_copy(update={"max_body_bytes": 4096})
    with BackgroundServer(create_app(settings)) as server:
        yield server.url + URL


def test_413_with_an_honest_content_length(small_limit_server: str) -> None:
    text = json.dumps({"id": "1", "filler": "x" * 8000})

    response = requests.post(
        small_limit_server, data={"order": text}, headers=signed_headers(text), timeout=10
    )

    assert response.status_code == 413
    assert response.json() == {"error": "payload too large (limit 4096 bytes)"}
    assert count(WebhookReceipt) == 0


def test_413_with_a_chunked_body_and_no_content_length(small_limit_server: str) -> None:
    chunks = [b"order=" + b"x" * 1000] + [b"x" * 1000] * 7

    response = requests.post(
        small_limit_server,
        data=iter(chunks),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=10,
    )

    assert response.request.headers.get("Transfer-Encoding") == "chunked"
    assert "Content-Length" not in response.request.headers
    assert response.status_code == 413
    assert count(WebhookReceipt) == 0


def test_chunked_body_under_the_limit_is_read_whole(small_limit_server: str) -> None:
    text = json.dumps(fixture_order("typical"), separators=(",", ":"))
    body = ("order=" + requests.utils.quote(text, safe="")).encode()
    assert 2048 < len(body) <= 4096

    response = requests.post(
        small_limit_server,
        data=iter([body[:1000], body[1000:]]),
        headers={"Content-Type": "application/x-www-form-urlencoded", **signed_headers(text)},
        timeout=10,
    )

    assert response.json() == {"result": "accepted", "order_id": "48211937"}
