"""Follow-up work: declared in the transaction that justifies it, published once it commits.

Real PostgreSQL throughout (the rows, the coalescing leases); the broker is the test Redis where
the queue is what is checked, or a recording sender where the test needs to refuse messages.
"""

from __future__ import annotations

import pytest
import structlog
from sqlalchemy import select

from bridge.db import new_session, session_scope
from bridge.jobs import followups, queues
from bridge.jobs.followups import Message
from bridge.models import Lease, utcnow
from tests.jobs.conftest import Published, RecordingSender, queued


class Boom(Exception):
    pass


def lease_names() -> list[str]:
    with session_scope() as session:
        return list(session.scalars(select(Lease.name).order_by(Lease.name)))


def test_messages_go_to_the_broker_only_once_the_transaction_commits(
    database: str, broker: str
) -> None:
    with session_scope() as session:
        delivery = followups.later(session, queues.SUBMIT_ORDER, 11)
        session.add(Lease(name="row-the-message-follows", owner="t", expires_at=utcnow()))
        session.flush()
        assert queued(broker, queues.QUEUE_INTAKE) == []
        assert delivery.sent is None
    assert queued(broker, queues.QUEUE_INTAKE) == [(queues.SUBMIT_ORDER, [11])]
    assert delivery.sent is True


def test_a_rollback_drops_what_the_transaction_declared(
    database: str, sender: RecordingSender
) -> None:
    with pytest.raises(Boom), session_scope() as session:
        delivery = followups.later(session, queues.CANCEL_ORDER, 12)
        raise Boom
    assert sender.published == []
    assert delivery.sent is None


def test_the_same_message_declared_twice_is_sent_once(
    database: str, sender: RecordingSender
) -> None:
    with session_scope() as session:
        first = followups.later(session, queues.ADD_HISTORY_NOTE, 13, "submitted", "")
        again = followups.later(session, queues.ADD_HISTORY_NOTE, 13, "submitted", "")
        later_retry = followups.later(session, queues.SUBMIT_ORDER, 13, countdown=30.0)
        followups.later(session, queues.SUBMIT_ORDER, 13, countdown=30.0)
    assert first is again
    assert sender.published == [
        Published(queues.ADD_HISTORY_NOTE, (13, "submitted", ""), queues.QUEUE_ORDERDESK, None),
        Published(queues.SUBMIT_ORDER, (13,), queues.QUEUE_INTAKE, 30.0),
    ]
    assert first.sent is True and later_retry.sent is True


def test_a_burst_of_move_triggers_sends_one_delayed_message(
    database: str, sender: RecordingSender
) -> None:
    deliveries = []
    for _ in range(5):  # five orders of one store, each submitted in its own transaction
        with session_scope() as session:
            deliveries.append(followups.later(session, queues.MOVE_IN_PROCESS, 14))
    assert sender.published == [
        Published(
            queues.MOVE_IN_PROCESS,
            (14,),
            queues.QUEUE_ORDERDESK,
            followups.COALESCED[queues.MOVE_IN_PROCESS],
        )
    ]
    # Every trigger is covered by the one pending run.
    assert [delivery.sent for delivery in deliveries] == [True] * 5
    assert lease_names() == [f"pending:{queues.MOVE_IN_PROCESS}:14"]


def test_a_refused_message_neither_fails_the_commit_nor_goes_unlogged(
    database: str, sender: RecordingSender
) -> None:
    sender.down = True
    with structlog.testing.capture_logs() as logs, session_scope() as session:
        session.add(Lease(name="committed-anyway", owner="t", expires_at=utcnow()))
        delivery = followups.later(session, queues.SUBMIT_ORDER, 15)
        moved = followups.later(session, queues.MOVE_IN_PROCESS, 15)
    assert lease_names() == ["committed-anyway"]  # no pending run left behind for the move
    assert delivery.sent is False and moved.sent is False
    failures = [(e["task"], e["args"]) for e in logs if e["event"] == "enqueue_failed"]
    assert failures == [(queues.SUBMIT_ORDER, [15]), (queues.MOVE_IN_PROCESS, [15])]


def test_each_commit_of_one_session_publishes_its_own_messages(
    database: str, sender: RecordingSender
) -> None:
    session = new_session()
    try:
        followups.later(session, queues.SUBMIT_ORDER, 16)
        session.commit()
        assert sender.tasks == [(queues.SUBMIT_ORDER, (16,))]
        followups.later(session, queues.CANCEL_ORDER, 16)
        session.rollback()
        followups.later(session, queues.PARK_IN_ORDERDESK, 16)
        session.commit()
        assert sender.tasks == [
            (queues.SUBMIT_ORDER, (16,)),
            (queues.PARK_IN_ORDERDESK, (16,)),
        ]
    finally:
        session.close()


def test_a_savepoint_keeps_its_messages_for_the_enclosing_commit(
    database: str, sender: RecordingSender
) -> None:
    session = new_session()
    try:
        outer = followups.later(session, queues.SUBMIT_ORDER, 17)
        savepoint = session.begin_nested()
        followups.later(session, queues.CANCEL_ORDER, 17)
        assert followups.later(session, queues.SUBMIT_ORDER, 17) is outer
        savepoint.rollback()
        with session.begin_nested():
            released = followups.later(session, queues.ADD_HISTORY_NOTE, 17, "parked", "")
        assert sender.published == []  # released, but the transaction has not committed yet
        session.commit()
    finally:
        session.close()
    assert sender.tasks == [
        (queues.SUBMIT_ORDER, (17,)),
        (queues.ADD_HISTORY_NOTE, (17, "parked", "")),
    ]
    assert outer.sent is True and released.sent is True


def test_closing_a_session_without_commit_drops_its_messages(
    database: str, sender: RecordingSender
) -> None:
    session = new_session()
    followups.later(session, queues.SUBMIT_ORDER, 18)
    session.close()
    assert sender.published == []


def test_publish_sends_each_distinct_message_once_now(
    database: str, sender: RecordingSender
) -> None:
    retention = Message(queues.RETENTION, (), countdown=60)
    assert followups.publish([retention, retention, Message(queues.SWEEP, ())]) == [True, True]
    assert sender.published == [
        Published(queues.RETENTION, (), queues.QUEUE_MAINTENANCE, 60),
        Published(queues.SWEEP, (), queues.QUEUE_MAINTENANCE, None),
    ]
