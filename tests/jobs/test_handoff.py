"""New orders reach the workers through one Redis list and one wake message per burst.

Real Redis (the test broker) throughout: the list, the wake key and the Celery queue are read
back from it. Where a broker must refuse, a recording sender stands in for Celery only.
"""

from __future__ import annotations

import pytest
import redis

from bridge.jobs import followups, handoff, queues
from bridge.jobs.followups import Message
from bridge.pipeline import newwork
from tests.conftest import reset_caches
from tests.jobs.conftest import RecordingSender, queued


def submit(row_id: int, countdown: float | None = None) -> Message:
    return Message(queues.SUBMIT_ORDER, (row_id,), countdown)


def test_a_burst_wakes_one_drain_which_sends_each_order_its_submit_once(broker: str) -> None:
    assert followups.hand_off([submit(1), submit(2)]) == [True, True]
    assert followups.hand_off([submit(3)]) == [True]
    assert queued(broker, queues.QUEUE_INTAKE) == [(queues.DRAIN_NEW_ORDERS, [])]

    assert newwork.drain_new_orders() == 3

    assert queued(broker, queues.QUEUE_INTAKE) == [
        (queues.SUBMIT_ORDER, [3]),
        (queues.SUBMIT_ORDER, [2]),
        (queues.SUBMIT_ORDER, [1]),
        (queues.DRAIN_NEW_ORDERS, []),
    ]
    assert newwork.drain_new_orders() == 0
    # The drain cleared the wake key before popping: the next new order wakes a new drain.
    followups.hand_off([submit(4)])
    assert queued(broker, queues.QUEUE_INTAKE)[0] == (queues.DRAIN_NEW_ORDERS, [])
    assert len(queued(broker, queues.QUEUE_INTAKE)) == 5


def test_an_order_queued_while_a_drain_is_due_is_taken_by_that_drain(broker: str) -> None:
    followups.hand_off([submit(10)])
    client = redis.Redis.from_url(broker)
    assert client.exists(handoff.WAKE_KEY)
    # The drain has not started: a new order only joins the list, no second wake message.
    followups.hand_off([submit(11)])
    assert [task for task, _ in queued(broker, queues.QUEUE_INTAKE)] == [queues.DRAIN_NEW_ORDERS]

    batches = list(handoff.take_new_orders())

    assert batches == [[10, 11]]
    assert not client.exists(handoff.WAKE_KEY)
    client.close()


def test_a_refused_wake_frees_the_key_so_the_next_order_wakes_again(
    broker: str, sender: RecordingSender
) -> None:
    sender.down = True
    assert followups.hand_off([submit(20)]) == [False]
    sender.down = False

    assert followups.hand_off([submit(21)]) == [True]

    assert sender.tasks == [(queues.DRAIN_NEW_ORDERS, ())]
    assert [ids for ids in handoff.take_new_orders()] == [[20, 21]]


def test_delayed_submits_and_other_work_are_published_as_usual(
    broker: str, sender: RecordingSender
) -> None:
    messages = [submit(30, countdown=5.0), Message(queues.CANCEL_ORDER, (31,))]

    assert followups.hand_off(messages) == [True, True]

    assert sender.tasks == [(queues.SUBMIT_ORDER, (30,)), (queues.CANCEL_ORDER, (31,))]
    assert list(handoff.take_new_orders()) == []


@pytest.mark.parametrize(
    "broker_url", ["redis://127.0.0.1:1/0", "filesystem://"], ids=["redis-down", "folder-broker"]
)
def test_without_a_working_redis_broker_the_submit_is_sent_directly(
    bridge_env: pytest.MonkeyPatch, sender: RecordingSender, broker_url: str
) -> None:
    bridge_env.setenv("BRIDGE_BROKER_URL", broker_url)
    reset_caches()

    assert followups.hand_off([submit(40)]) == [True]

    assert sender.tasks == [(queues.SUBMIT_ORDER, (40,))]
