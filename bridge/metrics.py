"""Prometheus metrics, named once here.

Under gunicorn (several worker processes) the client runs in multiprocess mode when
``PROMETHEUS_MULTIPROC_DIR`` is set (deploy/gunicorn.conf.py does it), so ``/metrics`` sums all
workers instead of showing whichever process answered.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

WEBHOOKS = Counter(
    "bridge_webhooks_total",
    "Order Desk webhook requests by outcome (accepted, duplicate, parked, cancel, refused...).",
    ["outcome"],
)
WEBHOOK_SECONDS = Histogram(
    "bridge_webhook_seconds",
    "Time to verify, record and answer one webhook.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
ORDER_TRANSITIONS = Counter(
    "bridge_order_transitions_total", "Order state changes by target state.", ["state"]
)
TASK_SECONDS = Histogram(
    "bridge_task_seconds",
    "Celery task run time by task and outcome.",
    ["task", "outcome"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)
EXTERNAL_CALLS = Counter(
    "bridge_external_calls_total",
    "Calls to Order Desk and warehouses by service, operation and result.",
    ["service", "operation", "result"],
)
SHIPMENTS_POSTED = Counter(
    "bridge_shipments_posted_total", "Packages posted to Order Desk as shipments."
)
ORDERS_RECOVERED = Counter(
    "bridge_orders_recovered_total",
    "Orders found by reconciliation that no webhook had brought, by intake outcome.",
    ["outcome"],
)
