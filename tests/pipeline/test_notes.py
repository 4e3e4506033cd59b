"""History notes in Order Desk: once per kind, never without the detail their text needs."""

from __future__ import annotations

from bridge.pipeline.notes import add_history_note
from tests.pipeline.conftest import STORE_ID, order_row
from tests.pipeline.support import od, submitted


def test_history_notes_are_written_once(receive, orderdesk) -> None:
    [order_id] = submitted(receive)
    assert add_history_note(order_id, "submitted") is True
    assert add_history_note(order_id, "submitted") is False
    notes = [h["note"] for h in orderdesk.history(STORE_ID, od(order_id))]
    assert len([n for n in notes if "sent this order to the warehouse" in n]) == 1
    assert order_row(order_id).warehouse_ref in notes[-1]
