"""Task and queue names, defined once: tests, routing, Flower and operators rely on them."""

from __future__ import annotations

# Latency-sensitive: a webhook just arrived and a merchant is waiting for the warehouse to know.
QUEUE_INTAKE = "intake"
# Order Desk writes (folder moves, shipments, history notes); paced by its 3 req/s bucket.
QUEUE_ORDERDESK = "orderdesk"
# Slow warehouse polling and inventory pushes; must never hold up intake-driven submits.
QUEUE_POLL = "poll"
# The sweeper and other housekeeping.
QUEUE_MAINTENANCE = "maintenance"

ALL_QUEUES = (QUEUE_INTAKE, QUEUE_ORDERDESK, QUEUE_POLL, QUEUE_MAINTENANCE)

SUBMIT_ORDER = "bridge.submit_order"
# Sends each order the intake queued in Redis its submit (bridge.jobs.handoff).
DRAIN_NEW_ORDERS = "bridge.drain_new_orders"
CANCEL_ORDER = "bridge.cancel_order"
PUSH_EDIT = "bridge.push_edit"
MOVE_IN_PROCESS = "bridge.move_in_process"
POST_SHIPMENTS = "bridge.post_shipments"
ADD_HISTORY_NOTE = "bridge.add_history_note"
PARK_IN_ORDERDESK = "bridge.park_in_orderdesk"
POLL_WAREHOUSE = "bridge.poll_warehouse"
SYNC_INVENTORY = "bridge.sync_inventory"
SWEEP = "bridge.sweep"
SCHEDULE_POLLS = "bridge.schedule_polls"
RECONCILE = "bridge.reconcile"
RECONCILE_STORE = "bridge.reconcile_store"
RETENTION = "bridge.retention"

ROUTES = {
    SUBMIT_ORDER: QUEUE_INTAKE,
    DRAIN_NEW_ORDERS: QUEUE_INTAKE,
    CANCEL_ORDER: QUEUE_INTAKE,
    # A merchant's correction should reach the warehouse before it picks the order.
    PUSH_EDIT: QUEUE_INTAKE,
    MOVE_IN_PROCESS: QUEUE_ORDERDESK,
    POST_SHIPMENTS: QUEUE_ORDERDESK,
    ADD_HISTORY_NOTE: QUEUE_ORDERDESK,
    PARK_IN_ORDERDESK: QUEUE_ORDERDESK,
    POLL_WAREHOUSE: QUEUE_POLL,
    SYNC_INVENTORY: QUEUE_POLL,
    SWEEP: QUEUE_MAINTENANCE,
    SCHEDULE_POLLS: QUEUE_MAINTENANCE,
    RECONCILE: QUEUE_MAINTENANCE,
    # Paced Order Desk reads, like polls: never ahead of intake-driven work.
    RECONCILE_STORE: QUEUE_POLL,
    RETENTION: QUEUE_MAINTENANCE,
}
