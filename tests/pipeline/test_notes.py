"""History notes in Order Desk: once per kind, never without the detail their text needs."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from bridge.backends.models import CancelResult
from bridge.db import session_scope
from bridge.history import transition
from bridge.jobs import queues
from bridge.models import HistoryNotes, Order
from bridge.pipeline.cancel import cancel_order, refusal
from bridge.pipeline.notes import MissingDetail, NoteKind, add_history_note, later
from bridge.states import OrderState
from tests.pipeline.conftest import STORE_ID, order_row
from tests.pipeline.support import history_notes, key, od, submitted
from tests.pipeline.test_submit import queued


def test_history_notes_are_written_once(receive, orderdesk, store: int) -> None:
    history_notes(store, HistoryNotes.ALL)
    [order_id] = submitted(receive)
    assert add_history_note(order_id, "submitted") is True
    assert add_history_note(order_id, "submitted") is False
    notes = [h["note"] for h in orderdesk.history(STORE_ID, od(order_id))]
    assert len([n for n in notes if "sent this order to the warehouse" in n]) == 1
    assert order_row(order_id).warehouse_ref in notes[-1]


@pytest.mark.parametrize("kind", list(NoteKind))
def test_a_note_needs_a_detail_exactly_when_its_text_has_one(kind: NoteKind) -> None:
    assert kind.needs_detail == ("{detail}" in kind.text)
    assert NoteKind.CANCEL_TOO_LATE.needs_detail


def test_a_note_cannot_be_declared_without_the_detail_its_text_needs(receive) -> None:
    order_id = receive()
    for detail in ("", "   "):
        with pytest.raises(MissingDetail), session_scope() as session:
            later(session, order_id, NoteKind.CANCEL_TOO_LATE, detail)
    with pytest.raises(MissingDetail), session_scope() as session:
        later(session, order_id, NoteKind.SUBMITTED, "a detail nobody reads")
    with pytest.raises(MissingDetail):
        add_history_note(order_id, NoteKind.CANCEL_TOO_LATE.value)


def test_a_cancel_too_late_note_carries_the_warehouses_answer(
    receive, orderdesk, warehouse, broker: str
) -> None:
    [order_id] = submitted(receive)
    warehouse.ship(key(order_id))
    with session_scope() as session:
        transition(session, session.get(Order, order_id), OrderState.CANCEL_REQUESTED, "test")
    assert cancel_order(order_id) == "too_late"
    [args] = [
        _args(message)
        for message in queued(broker, queues.QUEUE_ORDERDESK)
        if message["headers"]["task"] == queues.ADD_HISTORY_NOTE
        and _args(message)[1] == NoteKind.CANCEL_TOO_LATE
    ]
    assert args == [order_id, "cancel_too_late", "a package has already shipped"]
    assert add_history_note(*args) is True
    [note] = [
        h["note"] for h in orderdesk.history(STORE_ID, od(order_id)) if "too late" in h["note"]
    ]
    assert note.endswith("too late: a package has already shipped")


@pytest.mark.parametrize("state", ["too_late", "rejected", "unsupported"])
def test_a_warehouse_that_gives_no_reason_still_leaves_a_note_that_says_something(
    state: str,
) -> None:
    """A backend's ``CancelResult.detail`` may be empty; the note must not end in "too late: "."""
    detail = refusal(CancelResult(state=state))
    assert detail.strip() and state.replace("_", " ") in detail
    assert refusal(CancelResult(state=state, detail="shipped at 09:12")) == "shipped at 09:12"


def _args(message: dict[str, Any]) -> list[Any]:
    args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
    return args
