"""Coalescing: a burst of triggers for a per-store step becomes one delayed message."""

from __future__ import annotations

from bridge.jobs import coalesce, queues
from bridge.jobs.coalesce import Trigger
from tests.jobs.conftest import RecordingSender, queued


def test_a_burst_of_triggers_sends_one_message(database: str, broker: str) -> None:
    triggers = [coalesce.schedule_once(queues.MOVE_IN_PROCESS, 7, delay=2) for _ in range(20)]
    assert triggers == [Trigger.SENT] + [Trigger.PENDING] * 19
    assert queued(broker, queues.QUEUE_ORDERDESK) == [(queues.MOVE_IN_PROCESS, [7])]
    coalesce.starting(queues.MOVE_IN_PROCESS, 7)
    assert coalesce.schedule_once(queues.MOVE_IN_PROCESS, 7, delay=2) is Trigger.SENT


def test_a_refused_trigger_leaves_nothing_pending(database: str, sender: RecordingSender) -> None:
    sender.down = True
    assert coalesce.schedule_once(queues.MOVE_IN_PROCESS, 7, delay=2) is Trigger.FAILED
    sender.down = False
    # The refused trigger released its lease: the next one schedules the run.
    assert coalesce.schedule_once(queues.MOVE_IN_PROCESS, 7, delay=2) is Trigger.SENT
    assert sender.tasks == [(queues.MOVE_IN_PROCESS, (7,))]
