"""Hole 5: the merchant hears about an order the sweeper gave up on.

A worker killed during an order's last attempt leaves it ``submitting`` with its attempts spent;
once the lease runs out the sweeper parks it as ``failed`` and asks for a history note in Order
Desk. Real processes: Celery beat runs the sweep in a real worker, which then writes the note to
the Order Desk simulator over HTTP.
"""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from hashlib import sha256

import pytest
from sqlalchemy import select

from bridge.db import session_scope
from bridge.history import EventKind, transition
from bridge.models import Order, OrderEvent, Store, utcnow
from bridge.sim.orderdesk import OrderDeskSimulator
from bridge.states import OrderState
from tests.e2e.conftest import STORE_ID
from tests.e2e.harness import Bridge, wait_until
from tests.pipeline.conftest import fixture_order

pytestmark = pytest.mark.slow

MAX_ATTEMPTS = 8  # the default


def _abandoned_on_its_last_attempt(orderdesk: OrderDeskSimulator) -> tuple[int, str]:
    """An order whose last attempt's worker died: claimed, attempts spent, lease run out."""
    body = copy.deepcopy(fixture_order())
    body.pop("id", None)
    created = orderdesk.create_order(STORE_ID, body, fire_rule=False)
    od_id = str(created["id"])
    with session_scope() as session:
        store = session.scalars(select(Store)).one()
        order = Order(
            store_id=store.id,
            orderdesk_order_id=od_id,
            order_number=str(created.get("source_id") or od_id),
            payload=created,
            payload_sha256=sha256(json.dumps(created).encode()).hexdigest(),
            orderdesk_updated_at=created.get("date_updated", ""),
            idempotency_key=f"od-{STORE_ID}-{od_id}",
        )
        session.add(order)
        session.flush()
        transition(session, order, OrderState.SUBMITTING, f"submission attempt {MAX_ATTEMPTS}")
        order.attempts = MAX_ATTEMPTS
        order.next_attempt_at = utcnow() - timedelta(seconds=1)
        order.last_error = "TransientError: HTTP 503"
        return order.id, od_id


def test_hole5_an_order_failed_by_the_sweeper_gets_its_history_note(
    bridge: Bridge, orderdesk: OrderDeskSimulator
) -> None:
    order_id, od_id = _abandoned_on_its_last_attempt(orderdesk)
    bridge.start_worker()
    bridge.start_beat()

    def note_kinds() -> list[str]:
        with session_scope() as session:
            return list(
                session.scalars(
                    select(OrderEvent.message).where(
                        OrderEvent.order_id == order_id,
                        OrderEvent.kind == EventKind.ORDERDESK_NOTE,
                    )
                )
            )

    def noted() -> bool:
        # The event is written after Order Desk answered: wait for both, not just the note.
        return bool(note_kinds()) and any(
            "could not send this order" in entry["note"]
            for entry in orderdesk.history(STORE_ID, od_id)
        )

    try:
        wait_until(noted, 60, "the failure note in Order Desk")
    except AssertionError:
        print(*[line for line in bridge.procs["worker"].text().splitlines() if "rror" in line])
        raise
    [note] = [h["note"] for h in orderdesk.history(STORE_ID, od_id) if "could not" in h["note"]]
    assert f"after {MAX_ATTEMPTS} attempts" in note and "HTTP 503" in note
    with session_scope() as session:
        order = session.get(Order, order_id)
        assert order.state == OrderState.FAILED
    assert note_kinds() == ["failed"]
    assert "TypeError" not in bridge.procs["worker"].text()
