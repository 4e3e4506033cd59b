"""Work that follows a database change is published only once that change is committed.

A step that moves an order (submitted, parked, cancelled) usually wants more work done next: a
history note, the move to "In Process", a retry. Publishing before the commit could start that
work on a row that is not yet (or never) written; so a step only *declares* the follow-up on its
session with ``later``, and the messages go out after the commit, or are dropped with a rollback.
Publishing cannot fail the step: the row is committed, and a message the broker refused is
logged and re-sent by the sweeper.

Messages belong to the transaction they were declared in. A session may commit several times
(each transaction publishes its own), and a savepoint (``begin_nested``) that rolls back drops
what was declared inside it, while one that is released hands its messages to the enclosing
transaction, which publishes them when it commits.

Per-store steps that every order of a burst would trigger (one folder move for all of them) are
coalesced: the first trigger schedules one delayed run, later ones see it pending.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import structlog
from sqlalchemy import event
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, SessionTransaction

from bridge.jobs import coalesce, dispatch, handoff, queues

log = structlog.get_logger(__name__)

_PENDING = "bridge.followups.pending"
_COMMITTED = "bridge.followups.committed"

# Per-store steps whose triggers are merged into one run, and how long the first trigger waits
# (unless it names its own countdown) so the rest of a burst lands in the same run.
COALESCED: dict[str, float] = {queues.MOVE_IN_PROCESS: 2.0}


@dataclass(frozen=True)
class Message:
    task: str
    args: tuple[object, ...]
    countdown: float | None = None


@dataclass
class Delivery:
    """What became of a declared message.

    ``sent`` stays None until the transaction commits (and for good if it rolls back); then it
    is True when the broker took the message (for a coalesced step: when a run is scheduled,
    by this trigger or an earlier one) and False when it did not (the sweeper sends it later).
    """

    sent: bool | None = None


def later(session: Session, task: str, *args: object, countdown: float | None = None) -> Delivery:
    """Publish ``task(*args)`` once ``session``'s transaction commits; never if it rolls back.

    The same message declared twice in one transaction is sent once (both get one ``Delivery``).
    """
    message = Message(task, args, countdown)
    transaction = session.get_nested_transaction() or session.get_transaction() or session.begin()
    pending = _pending(session)
    enclosing: SessionTransaction | None = transaction
    while enclosing is not None:
        if (delivery := pending.get(enclosing, {}).get(message)) is not None:
            return delivery
        enclosing = enclosing.parent
    return pending.setdefault(transaction, {}).setdefault(message, Delivery())


def publish(messages: Iterable[Message]) -> list[bool]:
    """Send ``messages`` now, each distinct one once (the caller has committed what they follow).

    Returns, per distinct message in order, whether it is on its way (see ``Delivery.sent``).
    """
    return [_send(message) for message in dict.fromkeys(messages)]


def hand_off(messages: Iterable[Message]) -> list[bool]:
    """``publish`` for the web process: a new order's submit goes through ``bridge.jobs.handoff``.

    One Redis round trip instead of a Celery message per webhook; the worker's drain then sends
    the submit with ``publish``. Anything else (a delayed submit, a cancellation, parking) is
    published as usual.
    """
    return [
        handoff.hand_over(*message.args)
        if message.task == queues.SUBMIT_ORDER and message.countdown is None
        else _send(message)
        for message in dict.fromkeys(messages)
    ]


def _send(message: Message) -> bool:
    if message.task not in COALESCED:
        return dispatch.send(message.task, *message.args, countdown=message.countdown)
    (row_id,) = message.args
    delay = COALESCED[message.task] if message.countdown is None else message.countdown
    try:
        return coalesce.schedule_once(message.task, row_id, delay) is not coalesce.Trigger.FAILED
    except SQLAlchemyError as exc:
        # The lease table is out of reach; the sweeper triggers the step again later.
        log.warning("enqueue_failed", task=message.task, args=[row_id], error=type(exc).__name__)
        return False


def _pending(session: Session) -> dict[SessionTransaction, dict[Message, Delivery]]:
    return session.info.setdefault(_PENDING, {})


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    # Fires for the transaction being committed: the innermost savepoint, else the outermost.
    transaction = session.get_nested_transaction() or session.get_transaction()
    if transaction in session.info.get(_PENDING, ()):
        session.info.setdefault(_COMMITTED, set()).add(transaction)


@event.listens_for(Session, "after_transaction_end")
def _ended(session: Session, transaction: SessionTransaction) -> None:
    committed = transaction in session.info.get(_COMMITTED, ())
    session.info.get(_COMMITTED, set()).discard(transaction)
    pending = session.info.get(_PENDING, {}).pop(transaction, None)
    if not pending or not committed:
        return
    if transaction.parent is not None:
        # A released savepoint: its messages wait for the enclosing transaction's commit.
        _pending(session).setdefault(transaction.parent, {}).update(pending)
        return
    for delivery, sent in zip(pending.values(), publish(pending), strict=True):
        delivery.sent = sent
