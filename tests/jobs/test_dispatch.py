"""``dispatch.send``: the route from ``queues.ROUTES``, one try, a refusal logged not raised, and
a clear error in a process that never installed a sender."""

from __future__ import annotations

import pytest
import structlog

from bridge.jobs import dispatch, queues
from tests.jobs.conftest import Published, RecordingSender


def test_a_message_goes_to_its_tasks_queue(sender: RecordingSender) -> None:
    assert dispatch.send(queues.CANCEL_ORDER, 5, countdown=3.0)
    assert dispatch.send(queues.RECONCILE_STORE, 6)
    assert sender.published == [
        Published(queues.CANCEL_ORDER, (5,), queues.QUEUE_INTAKE, 3.0),
        Published(queues.RECONCILE_STORE, (6,), queues.QUEUE_POLL, None),
    ]


def test_a_refused_message_is_logged_not_raised(sender: RecordingSender) -> None:
    sender.down = True
    with structlog.testing.capture_logs() as logs:
        assert dispatch.send(queues.SUBMIT_ORDER, 8) is False
    assert [(entry["event"], entry["task"], entry["args"]) for entry in logs] == [
        ("enqueue_failed", queues.SUBMIT_ORDER, [8])
    ]


def test_sending_without_a_sender_names_what_to_do() -> None:
    previous = dispatch.install_sender(None)
    try:
        with pytest.raises(dispatch.NoSenderInstalled, match="install_sender"):
            dispatch.send(queues.SUBMIT_ORDER, 9)
    finally:
        dispatch.install_sender(previous)
