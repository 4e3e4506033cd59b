"""The API key never leaves the request headers: not in reprs, errors or logs."""

from __future__ import annotations

import logging
import socket
import time

import pytest
import structlog

from bridge.orderdesk.client import OrderDeskClient, ShipmentIn
from bridge.remote.errors import RemoteError
from bridge.remote.ratelimit import LocalLeakyBucket


def test_repr_shows_the_store_not_the_key(client, store):
    text = repr(client)
    assert store.id in text
    assert store.api_key not in text


def test_the_key_is_absent_from_errors_and_logs_of_failing_calls(
    make_client, sim, store, new_order, caplog
):
    caplog.set_level(logging.DEBUG)
    order_id = new_order()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead_url = f"http://127.0.0.1:{probe.getsockname()[1]}/api/v2"
    messages: list[str] = []
    with structlog.testing.capture_logs() as logs:
        failing = [
            lambda: make_client(api_key=store.api_key + "x").test(),
            lambda: make_client(base_url=dead_url, read_retries=1).test(),
            lambda: make_client(read_retries=1).get_order("404404404"),
        ]
        sim.set_faults(error_rate=1.0, error_status=500, paths=["/store"])
        failing.append(lambda: make_client(read_retries=1).get_store())
        for call in failing:
            with pytest.raises(RemoteError) as caught:
                call()
            messages.append(str(caught.value))
            messages.append(repr(caught.value))
        sim.clear_faults()
        sim.set_faults(timeout_after_write=1, hang_seconds=1.0, paths=["/orders/"])
        result = make_client(timeout=(2, 0.3)).add_shipment(
            order_id, ShipmentIn(order_id=order_id, tracking_number="T1", carrier_code="UPS")
        )
        assert result.reconciled
        # The simulator logs the held-back write once it answers; let that finish in here.
        deadline = time.monotonic() + 3
        while (
            not sim.calls("POST", f"/orders/{order_id}/shipments") and time.monotonic() < deadline
        ):
            time.sleep(0.02)
    assert len(messages) == 8
    assert any(event["event"] == "remote.retry" for event in logs)
    everything = "\n".join(messages + [str(event) for event in logs] + [caplog.text])
    assert store.api_key not in everything
    assert store.api_key[:12] not in everything


def test_a_malformed_key_is_refused_without_echoing_it():
    with pytest.raises(ValueError) as caught:
        OrderDeskClient(
            "1", "secret-part\r\nX-Evil: 1", "http://127.0.0.1:9", limiter=LocalLeakyBucket()
        )
    assert "secret-part" not in str(caught.value)
