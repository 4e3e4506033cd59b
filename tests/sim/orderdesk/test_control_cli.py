"""Driving the simulator from another process: ``/_sim/`` endpoints, the client, the CLI."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from bridge.sim.orderdesk import OrderDeskSimulator, OrderDeskSimulatorClient

from .conftest import API_KEY, STORE_ID, Receiver

REPO = Path(__file__).resolve().parents[3]


def test_client_drives_stores_orders_rule_and_faults(
    sim: OrderDeskSimulator, receiver: tuple[Receiver, str], typical_order: dict[str, Any]
) -> None:
    hook, url = receiver
    client = OrderDeskSimulatorClient(sim.url)
    added = client.add_store("555", "key-555", name="Remote", folders={1: "Inbox", 2: "In Process"})
    client.configure_rule("555", url, max_attempts=3, retry_delays=[0.05])

    order = client.create_order("555", typical_order, folder_name="Inbox")
    assert hook.wait_for(1)
    assert client.wait_for_webhooks(5)

    assert added["folders"] == {"1": "Inbox", "2": "In Process"}
    assert json.loads(hook.received[0].order_field)["id"] == order["id"]
    assert hook.received[0].headers["X-Order-Desk-Store-Id"] == "555"
    (state,) = client.orders("555")
    assert state["folder_name"] == "Inbox"
    assert state["order_shipments"] == []
    assert client.webhooks()["attempts"][0]["status"] == 200

    client.set_faults(error_rate=1.0, error_status=502)
    headers = {"ORDERDESK-STORE-ID": "555", "ORDERDESK-API-KEY": "key-555"}
    assert requests.get(f"{client.api_url}/test", headers=headers, timeout=5).status_code == 502
    client.clear_faults()
    assert requests.get(f"{client.api_url}/test", headers=headers, timeout=5).status_code == 200

    counts = client.requests()
    assert counts["calls"]["GET /test"] == 2
    assert counts["count_429"] == 0
    assert client.post_folder("555", "Inbox") == 1
    assert hook.wait_for(2)


def test_control_refusals_are_plain_json_errors(sim: OrderDeskSimulator) -> None:
    client = OrderDeskSimulatorClient(sim.base_url)

    with pytest.raises(RuntimeError, match="unknown store"):
        client.orders("nope")
    with pytest.raises(RuntimeError, match="api_key is required"):
        client.add_store("1", "")
    with pytest.raises(RuntimeError, match="no Post Order JSON rule"):
        client.post_folder(STORE_ID, "New")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_cli_serves_the_api_until_terminated() -> None:
    port = _free_port()
    code = "from bridge.cli.sim_orderdesk import command; command()"
    process = subprocess.Popen(
        [sys.executable, "-c", code, "--port", str(port), "--store-id", "42", "--api-key", API_KEY],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    headers = {"ORDERDESK-STORE-ID": "42", "ORDERDESK-API-KEY": API_KEY}
    try:
        deadline = time.monotonic() + 20
        response = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                response = requests.get(
                    f"http://127.0.0.1:{port}/api/v2/test", headers=headers, timeout=1
                )
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        assert response is not None, process.stderr.read() if process.poll() is not None else ""
        assert response.status_code == 200
        assert response.json()["message"] == "Connection Successful"
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=10)

    assert process.returncode == 0, err
    assert f"http://127.0.0.1:{port}/api/v2" in out
    assert API_KEY not in out and API_KEY not in err


def test_cli_refuses_half_a_store() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from bridge.cli.sim_orderdesk import command; command()",
            "--store-id",
            "42",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=20,
    )

    assert result.returncode == 2
    assert "--store-id and --api-key go together" in result.stderr
