"""The store's history-notes policy decides which notes reach Order Desk (and spend its tokens)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable

import pytest
from click.testing import CliRunner

from bridge.cli import main
from bridge.db import session_scope
from bridge.intake.decision import CHANGED_NOTE
from bridge.jobs import queues
from bridge.models import HistoryNotes
from bridge.pipeline.notes import NoteKind, add_history_note, later
from bridge.pipeline.parking import park_in_orderdesk
from bridge.sim.orderdesk import OrderDeskSimulator
from tests.pipeline.conftest import STORE_ID
from tests.pipeline.support import history_notes, od, rejected, submitted
from tests.pipeline.test_submit import queued

# A phrase of each note's text, to tell which notes Order Desk holds.
PHRASES = {
    NoteKind.SUBMITTED: "sent this order to the warehouse",
    NoteKind.PARKED: "did not send this order",
    NoteKind.FAILED: "could not send this order",
}


def _run_queued_notes(broker: str) -> int:
    """Run every history-note step queued so far, as a worker would; return how many ran."""
    ran = 0
    for message in queued(broker, queues.QUEUE_ORDERDESK):
        if message["headers"]["task"] == queues.ADD_HISTORY_NOTE:
            args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
            add_history_note(*args)
            ran += 1
    return ran


def _kinds_in_orderdesk(orderdesk: OrderDeskSimulator, order_ids: list[int]) -> set[NoteKind]:
    notes = [h["note"] for i in order_ids for h in orderdesk.history(STORE_ID, od(i))]
    return {kind for kind, phrase in PHRASES.items() if any(phrase in n for n in notes)}


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (HistoryNotes.ALL, {NoteKind.SUBMITTED, NoteKind.PARKED, NoteKind.FAILED}),
        (HistoryNotes.PROBLEMS, {NoteKind.PARKED, NoteKind.FAILED}),
        (HistoryNotes.OFF, set()),
    ],
)
def test_the_policy_decides_which_notes_reach_orderdesk(
    policy: HistoryNotes,
    expected: set[NoteKind],
    receive: Callable[..., int],
    orderdesk: OrderDeskSimulator,
    store: int,
    broker: str,
) -> None:
    history_notes(store, policy)
    [sent] = submitted(receive)  # asks for the routine "sent to the warehouse" note
    parked = rejected(receive)
    park_in_orderdesk(parked)  # writes the parked note itself
    failing = receive()
    with session_scope() as session:
        later(session, failing, NoteKind.FAILED)
    _run_queued_notes(broker)

    assert _kinds_in_orderdesk(orderdesk, [sent, parked, failing]) == expected
    written = orderdesk.calls("POST", "/orders/")
    assert written == len(expected)  # no call at all for a note the policy leaves out


def test_a_queued_note_follows_the_policy_in_force_when_it_runs(
    receive: Callable[..., int], orderdesk: OrderDeskSimulator, store: int, broker: str
) -> None:
    history_notes(store, HistoryNotes.ALL)
    [order_id] = submitted(receive)
    history_notes(store, HistoryNotes.OFF)  # the operator turns notes off meanwhile
    assert _run_queued_notes(broker) == 1
    assert orderdesk.history(STORE_ID, od(order_id)) == []


def test_only_the_sent_note_is_routine() -> None:
    assert {kind for kind in NoteKind if kind.routine} == {NoteKind.SUBMITTED}
    # The intake names this kind by value (it sits below the pipeline): they must agree.
    assert NoteKind(CHANGED_NOTE) is NoteKind.CHANGED_AFTER_SUBMISSION


def test_the_policy_is_set_and_shown_by_the_cli(store: int) -> None:
    runner = CliRunner()
    shown = runner.invoke(main, ["stores", "show", STORE_ID, "--json"])
    assert json.loads(shown.output)["history_notes"] == "problems"  # the default

    result = runner.invoke(main, ["stores", "update", STORE_ID, "--history-notes", "off"])
    assert result.exit_code == 0, result.output
    shown = runner.invoke(main, ["stores", "show", STORE_ID, "--json"])
    assert json.loads(shown.output)["history_notes"] == "off"

    refused = runner.invoke(main, ["stores", "update", STORE_ID, "--history-notes", "some"])
    assert refused.exit_code != 0
    assert "all" in refused.output and "problems" in refused.output
