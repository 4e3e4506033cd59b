"""A real worker (prefork, two children) serves /metrics for all its processes: after orders
flow end to end, its endpoint shows the task runs, the Order Desk and warehouse calls (as many
as the simulators answered), the rate-limit waits and the business gauges from PostgreSQL.
Its children are replaced every few tasks during the run, and what the exited ones counted
stays in the sum."""

from __future__ import annotations

import socket
import time

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from bridge.jobs import queues
from bridge.states import OrderState
from tests.e2e.conftest import STORE_ID
from tests.e2e.harness import free_port, wait_until
from tests.e2e.test_flow import in_state, sample_orders

ORDERS = 4
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(url: str) -> tuple[str, Samples]:
    text = requests.get(url, timeout=10).text
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return text, samples


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of ``name`` over every series carrying ``labels``."""
    wanted = set(labels.items())
    return sum(v for (n, lbls), v in samples.items() if n == name and wanted <= lbls)


@pytest.mark.slow
def test_worker_endpoint_sums_children_and_shows_gauges(bridge, orderdesk, warehouse) -> None:
    port = free_port()
    bridge.env["BRIDGE_METRICS_PORT"] = str(port)
    bridge.start_web()
    bridge.start_worker("worker", 2, "--max-tasks-per-child=3")
    bridge.start_beat()
    first_children = set(bridge.worker_children())
    assert len(first_children) == 2
    orderdesk.configure_rule(
        STORE_ID, f"{bridge.web_url}/webhooks/orderdesk", retry_delays=[0.5] * 9
    )
    started = time.time()
    created = [orderdesk.create_order(STORE_ID, order) for order in sample_orders(ORDERS)]
    try:
        wait_until(lambda: in_state(OrderState.IN_PROCESS) == ORDERS, 60, "all in process")
        for order in created:
            warehouse.ship(f"od-{STORE_ID}-{order['id']}")
        wait_until(lambda: in_state(OrderState.SHIPPED) == ORDERS, 60, "all shipped")
    except AssertionError:
        print(bridge.dump_logs())
        raise
    # The last post's metrics are written once its task returns, just after the commit.
    url = f"http://127.0.0.1:{port}/metrics"
    wait_until(
        lambda: total(scrape(url)[1], "bridge_task_seconds_count", task=queues.POST_SHIPMENTS) >= 1,
        10,
        "the shipment post's task to be counted",
    )
    text, samples = scrape(url)
    assert not first_children & set(bridge.worker_children()), "no child was replaced"
    assert "worker_metrics.serving" in bridge.procs["worker"].text()
    assert "worker_metrics.partial" not in bridge.procs["worker"].text()

    # Task runs, by name and outcome, counted in the children and summed by the main process.
    for task in (queues.SUBMIT_ORDER, queues.MOVE_IN_PROCESS, queues.POLL_WAREHOUSE):
        assert total(samples, "bridge_task_seconds_count", task=task, outcome="ok") >= 1, task
    assert total(samples, "bridge_task_seconds_count", task=queues.SUBMIT_ORDER) >= 1
    assert total(samples, "bridge_task_seconds_count", outcome="error") == 0

    # Partner calls: exactly what the simulators answered, by endpoint template, no ids.
    calls = "bridge_external_calls_total"
    creates = total(samples, calls, service="simulated_warehouse", endpoint="POST /v1/orders")
    assert creates == warehouse.create_calls == ORDERS
    moves = total(samples, calls, service="orderdesk", endpoint="POST /move-orders", status="200")
    assert moves == orderdesk.calls("POST", "/move-orders") >= 1
    posts = total(samples, calls, service="orderdesk", endpoint="POST /batch-shipments")
    assert posts == orderdesk.calls("POST", "/batch-shipments") >= 1
    orderdesk_calls = total(samples, calls, service="orderdesk")
    assert orderdesk_calls == orderdesk.calls() >= 2
    assert total(samples, calls, service="simulated_warehouse") >= ORDERS + 1  # creates + polls
    assert total(samples, calls, status="429") == orderdesk.count_429 + warehouse.count_429
    for order in created:
        assert f"/{order['id']}" not in text  # ids never become labels
    # Every Order Desk request waited for a token of the store's shared bucket first.
    waits = total(samples, "bridge_rate_limit_wait_seconds_count", service="orderdesk")
    assert waits == orderdesk_calls

    # Business gauges, read from PostgreSQL and the broker by the main process.
    assert samples[("bridge_gauges_up", frozenset())] == 1
    shipped = frozenset({("store", STORE_ID), ("state", "shipped")})
    assert samples[("bridge_orders", shipped)] == ORDERS
    assert samples[("bridge_shipments_unposted", frozenset())] == 0
    last_webhook = samples[
        ("bridge_store_last_webhook_timestamp_seconds", frozenset({("store", STORE_ID)}))
    ]
    assert started - 5 <= last_webhook <= time.time()
    for queue in queues.ALL_QUEUES:
        assert ("bridge_queue_length", frozenset({("queue", queue)})) in samples


@pytest.mark.slow
def test_a_taken_metrics_port_costs_the_worker_nothing_but_its_endpoint(
    bridge, orderdesk, warehouse
) -> None:
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        bridge.env["BRIDGE_METRICS_PORT"] = str(taken.getsockname()[1])
        bridge.start_web()
        worker = bridge.start_worker()
        orderdesk.configure_rule(STORE_ID, f"{bridge.web_url}/webhooks/orderdesk")
        orderdesk.create_order(STORE_ID, sample_orders(1)[0])
        wait_until(lambda: warehouse.create_calls == 1, 60, "the order sent to the warehouse")
    assert "worker_metrics.unavailable" in worker.text()
    assert "BRIDGE_METRICS_PORT" in worker.text()
    assert "Traceback" not in worker.text()
