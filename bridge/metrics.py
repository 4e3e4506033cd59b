"""Prometheus metrics, named once here.

Every process counts in its own memory unless prometheus_client runs in multiprocess mode: the
web (``deploy/gunicorn.conf.py``) and the worker (``workers/metrics.py``) both turn it on, so
one ``/metrics`` sums all their processes instead of showing whichever one answered.

Labels stay few and bounded: no order ids anywhere, no store ids on call metrics (a call's
``endpoint`` is its method and path template, ids replaced). Only the business gauges, read
from PostgreSQL by one collector (``bridge.ops.gauges``), carry the store.
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
    "Celery task run time by task and outcome (ok, retry, error).",
    ["task", "outcome"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)
EXTERNAL_CALLS = Counter(
    "bridge_external_calls_total",
    "Requests sent to Order Desk and warehouses by service, endpoint (method and path "
    "template) and HTTP status (`none` when no answer came).",
    ["service", "endpoint", "status"],
)
EXTERNAL_CALL_SECONDS = Histogram(
    "bridge_external_call_seconds",
    "Time from sending a request to Order Desk or a warehouse to its answer (or failure).",
    ["service", "endpoint"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
RATE_LIMIT_WAIT_SECONDS = Histogram(
    "bridge_rate_limit_wait_seconds",
    "Time a request waited for a token from its service's rate limiter before it was sent.",
    ["service"],
    buckets=(0.001, 0.01, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 90),
)
SHIPMENTS_POSTED = Counter(
    "bridge_shipments_posted_total", "Packages posted to Order Desk as shipments."
)
ORDERS_RECOVERED = Counter(
    "bridge_orders_recovered_total",
    "Orders found by reconciliation that no webhook had brought, by intake outcome.",
    ["outcome"],
)

# The business gauges: computed from PostgreSQL at scrape time by ``bridge.ops.gauges`` on the
# worker's endpoint (one collector, not a counter per process), so they are only named here.
ORDERS = "bridge_orders"
ORDERS_OLDEST_AGE = "bridge_orders_oldest_age_seconds"
SHIPMENTS_UNPOSTED = "bridge_shipments_unposted"
SHIPMENTS_UNPOSTED_OLDEST_AGE = "bridge_shipments_unposted_oldest_age_seconds"
STORE_LAST_WEBHOOK = "bridge_store_last_webhook_timestamp_seconds"
QUEUE_LENGTH = "bridge_queue_length"
GAUGES_UP = "bridge_gauges_up"

GAUGES: dict[str, str] = {
    ORDERS: "Orders by store and state (every order the bridge holds).",
    ORDERS_OLDEST_AGE: (
        "Seconds since the least recently updated order in each waiting state was last changed."
    ),
    SHIPMENTS_UNPOSTED: "Packages the warehouse shipped that are not yet posted to Order Desk.",
    SHIPMENTS_UNPOSTED_OLDEST_AGE: "Age in seconds of the oldest package not yet posted.",
    STORE_LAST_WEBHOOK: (
        "Unix time of the store's last accepted webhook (or of its registration), 0 when "
        "neither falls in the last two days; active stores only."
    ),
    QUEUE_LENGTH: "Messages waiting in each Celery queue of the broker.",
    GAUGES_UP: "1 when the last reading of PostgreSQL and the broker for these gauges worked.",
}
