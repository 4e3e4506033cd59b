"""Task names are a contract with running deployments: queued messages, beat entries, Flower
filters and alert rules name them, so a rename (or a module move) must never change one."""

from __future__ import annotations

from bridge.jobs import queues

PUBLISHED_NAMES = {
    "SUBMIT_ORDER": "bridge.submit_order",
    "DRAIN_NEW_ORDERS": "bridge.drain_new_orders",
    "CANCEL_ORDER": "bridge.cancel_order",
    "PUSH_EDIT": "bridge.push_edit",
    "MOVE_IN_PROCESS": "bridge.move_in_process",
    "POST_SHIPMENTS": "bridge.post_shipments",
    "ADD_HISTORY_NOTE": "bridge.add_history_note",
    "PARK_IN_ORDERDESK": "bridge.park_in_orderdesk",
    "POLL_WAREHOUSE": "bridge.poll_warehouse",
    "SYNC_INVENTORY": "bridge.sync_inventory",
    "SWEEP": "bridge.sweep",
    "SCHEDULE_POLLS": "bridge.schedule_polls",
    "RECONCILE": "bridge.reconcile",
    "RECONCILE_STORE": "bridge.reconcile_store",
    "RETENTION": "bridge.retention",
}


def test_every_task_keeps_its_published_name() -> None:
    assert {name: getattr(queues, name) for name in PUBLISHED_NAMES} == PUBLISHED_NAMES


def test_every_task_has_a_route_and_every_route_a_task() -> None:
    assert set(queues.ROUTES) == set(PUBLISHED_NAMES.values())
    assert set(queues.ROUTES.values()) <= set(queues.ALL_QUEUES)
