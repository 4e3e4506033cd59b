"""Reads against the simulator: paging, folders, headers, envelope checks and retries."""

from __future__ import annotations

import socket
import time
from datetime import datetime

import pytest
import requests

from bridge import __version__
from bridge.orderdesk.client import OrderDeskClient, StoreInfo
from bridge.orderdesk.errors import FolderNotFound, Rejected
from bridge.orderdesk.payload import Order
from bridge.remote.errors import AuthError, RateLimited, TransientError
from bridge.remote.ratelimit import LocalLeakyBucket
from bridge.settings import get_settings


def test_test_endpoint_answers_the_envelope(client, sim):
    answer = client.test()
    assert answer["status"] == "success"
    assert answer["message"] == "Connection Successful"
    assert sim.calls("GET", "/test") == 1


def test_get_store_maps_folder_names_to_ids(client, store):
    info = client.get_store()
    assert isinstance(info, StoreInfo)
    assert info.id == store.id
    assert info.name == "Acme Goods"
    assert info.timezone == "America/Los_Angeles"
    assert info.folders["In Process"] == 21656
    assert info.folders["New"] == 21654


def test_folder_id_is_cached_and_refreshed_once_on_a_miss(client, sim):
    assert client.folder_id("In Process") == 21656
    assert client.folder_id("Canceled") == 21658
    assert sim.calls("GET", "/store") == 1
    with pytest.raises(FolderNotFound) as caught:
        client.folder_id("Shipped Elsewhere")
    assert sim.calls("GET", "/store") == 2
    assert caught.value.name == "Shipped Elsewhere"
    assert "In Process" in caught.value.available
    assert '"Shipped Elsewhere"' in str(caught.value)


def test_get_order_returns_the_payload_model(client, new_order):
    order_id = new_order(email="dana@example.com")
    order = client.get_order(order_id)
    assert isinstance(order, Order)
    assert order.id == order_id
    assert order.email == "dana@example.com"
    assert order.order_items[0].code == "MUG-1"


def test_unknown_order_is_rejected_with_order_desks_message(client):
    with pytest.raises(Rejected) as caught:
        client.get_order("999999999")
    assert caught.value.status_code == 404
    assert "Order Not Found" in str(caught.value)


def test_list_orders_follows_offset_pages(client, sim, new_order):
    created = {new_order() for _ in range(120)}
    listed = [order.id for order in client.list_orders(folder_name="New", page_size=50)]
    assert sorted(listed) == sorted(created)
    assert len(listed) == 120
    assert sim.calls("GET", "/orders") == 3


def test_list_orders_filters_by_folder_and_dates(client, sim, store, new_order):
    in_new = new_order()
    new_order(folder_name="Prepared")
    old = sim.create_order(
        store.id,
        {"shipping": {"first_name": "Old"}, "order_items": [{"code": "X"}]},
        folder_name="New",
        fire_rule=False,
        date_added="2020-01-02 03:04:05",
    )["id"]
    assert sorted(o.id for o in client.list_orders(folder_id=[21654])) == sorted([in_new, old])
    recent = client.list_orders(folder_id=21654, start=datetime(2024, 1, 1))
    assert [o.id for o in recent] == [in_new]
    window = client.list_orders(start="2020-01-01", end=datetime(2020, 1, 3))
    assert [o.id for o in window] == [old]


def test_list_shipments_parses_loose_records(client, sim, store, new_order):
    order_id = new_order()
    assert client.list_shipments(order_id) == []
    requests.post(
        f"{sim.url}/orders/{order_id}/shipments",
        json={"tracking_number": "1Z1", "carrier_code": "UPS", "weight": "2.5"},
        headers={"ORDERDESK-STORE-ID": store.id, "ORDERDESK-API-KEY": store.api_key},
        timeout=5,
    ).raise_for_status()
    [shipment] = client.list_shipments(order_id)
    assert (shipment.tracking_number, shipment.carrier_code, shipment.weight) == ("1Z1", "UPS", 2.5)


def test_requests_carry_auth_and_user_agent_and_no_body_or_content_type_on_get(
    make_client, store, new_order
):
    sent: list[requests.PreparedRequest] = []
    session = requests.Session()
    session.hooks["response"].append(lambda response, **_: sent.append(response.request))
    client = make_client(session=session)
    list(client.list_orders(folder_name="In Process", start="2025-01-01"))
    client.move_orders([new_order()], folder_id=21656)
    get, post = sent[0], sent[-1]
    assert get.method == "GET"
    assert get.headers["ORDERDESK-STORE-ID"] == store.id
    assert get.headers["ORDERDESK-API-KEY"] == store.api_key
    assert get.headers["User-Agent"].startswith(f"orderdesk-bridge/{__version__}")
    assert "Content-Type" not in get.headers
    assert "Content-Length" not in get.headers
    assert get.body is None
    assert "folder_name=In+Process" in get.url
    assert "search_start_date=2025-01-01" in get.url
    assert post.method == "POST"
    assert post.headers["Content-Type"] == "application/json"
    assert post.body
    session.close()


def test_a_bad_key_is_an_auth_error_naming_the_store(make_client, store):
    client = make_client(api_key="not-the-key")
    with pytest.raises(AuthError) as caught:
        client.test()
    assert caught.value.status_code == 401
    assert str(caught.value) == (
        f"Order Desk refused the API key for store {store.id}: Invalid API key or store id"
    )


def test_a_transient_5xx_on_a_read_is_retried_until_it_succeeds(make_client, sim, new_order):
    order_id = new_order()
    client = make_client(read_retries=6)
    # Seeded: Random(1) rolls 0.13 then 0.85 -> one 503, then success.
    sim.set_faults(error_rate=0.5, error_status=503, paths=["/orders/"], seed=1)
    assert client.get_order(order_id).id == order_id
    statuses = [r.status for r in sim.request_log if r.path == f"/orders/{order_id}"]
    assert statuses == [503, 200]


def test_a_persistent_5xx_on_a_read_gives_up_after_the_configured_retries(make_client, sim):
    from bridge.remote.errors import TransientError

    client = make_client(read_retries=2)
    sim.set_faults(error_rate=1.0, error_status=500, paths=["/test"])
    with pytest.raises(TransientError):
        client.test()
    assert sim.calls("GET", "/test") == 3


def test_429_waits_x_retry_after_before_retrying(make_client, sim):
    limiter = LocalLeakyBucket(20, 3.0)
    client = make_client(limiter=limiter)
    sim.set_faults(storm_429_seconds=0.6)
    started = time.monotonic()
    assert client.test()["status"] == "success"
    elapsed = time.monotonic() - started
    log = [r for r in sim.request_log if r.path == "/test"]
    assert [r.status for r in log] == [429, 200]
    # The simulator said X-Retry-After: 1 (whole seconds); the retry came after that.
    assert log[1].at - log[0].at >= 0.95
    assert elapsed >= 0.95


def test_429_penalizes_the_shared_limiter_and_surfaces_when_retries_run_out(make_client, sim):
    limiter = LocalLeakyBucket(20, 3.0)
    client = make_client(limiter=limiter, read_retries=0)
    sim.set_faults(storm_429_seconds=5)
    with pytest.raises(RateLimited) as caught:
        client.test()
    assert caught.value.retry_after == 5
    # Every other worker sharing this bucket now waits too.
    assert limiter.try_acquire() > 4
    assert sim.count_429 == 1


def test_tokens_remaining_header_lowers_our_bucket(make_client, sim, store):
    limiter = LocalLeakyBucket(20, 0.01)
    client = make_client(limiter=limiter)
    for _ in range(3):
        client.test()
    remaining = sim.request_log[-1].tokens_remaining
    assert remaining == 17
    # Someone else spends the store's tokens: the server now reports fewer than we counted.
    other = OrderDeskClient(store.id, store.api_key, sim.url, limiter=LocalLeakyBucket(20, 3.0))
    for _ in range(10):
        other.test()
    other.close()
    client.test()
    assert sim.request_log[-1].tokens_remaining == 6
    taken = 0
    while limiter.try_acquire() == 0:
        taken += 1
    assert taken == 6


def test_the_read_timeout_is_bridge_http_timeout(bridge_env) -> None:
    """An Order Desk that accepts the connection and never answers is given up on after
    BRIDGE_HTTP_TIMEOUT seconds, a read that is safe to try again."""
    bridge_env.setenv("BRIDGE_HTTP_TIMEOUT", "0.5")
    get_settings.cache_clear()
    silent = socket.create_server(("127.0.0.1", 0))
    try:
        port = silent.getsockname()[1]
        client = OrderDeskClient(
            "1", "key", f"http://127.0.0.1:{port}", limiter=LocalLeakyBucket(20, 3), read_retries=0
        )
        started = time.monotonic()
        with pytest.raises(TransientError):
            client.get_store()
        assert 0.4 < time.monotonic() - started < 3
    finally:
        silent.close()
