"""Work that follows a database change is published only once that change is committed.

A step that moves an order (submitted, parked, cancelled) usually wants more work done next: a
history note, the move to "In Process", a retry. Publishing before the commit could start that
work on a row that is not yet (or never) written; so a step only *declares* the follow-up on its
session with ``later``, and the messages go out after the commit, or are dropped with a rollback.
Publishing cannot fail the step: the row is committed, and a message the broker refused is
re-sent by the sweeper.

Per-store steps that every order of a burst would trigger (one folder move for all of them) are
coalesced: the first trigger schedules one delayed run, later ones see it pending.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import event
from sqlalchemy.orm import Session

from bridge.jobs import coalesce, dispatch, queues

_PENDING = "bridge.followups"

# Per-store steps whose triggers are merged into one run.
COALESCED = frozenset({queues.MOVE_IN_PROCESS})


@dataclass(frozen=True)
class Message:
    task: str
    args: tuple[object, ...]
    countdown: float | None = None


def later(session: Session, task: str, *args: object, countdown: float | None = None) -> None:
    """Publish ``task(*args)`` once ``session``'s transaction commits; never if it rolls back."""
    session.info.setdefault(_PENDING, []).append(Message(task, args, countdown))


def publish(messages: Iterable[Message]) -> None:
    """Send ``messages`` now, each distinct one once (the caller has committed what they follow)."""
    for message in dict.fromkeys(messages):
        if message.task in COALESCED:
            (row_id,) = message.args
            coalesce.schedule_once(message.task, row_id, delay=message.countdown or 0)
        else:
            dispatch.send(message.task, *message.args, countdown=message.countdown)


@event.listens_for(Session, "after_commit")
def _publish_committed(session: Session) -> None:
    publish(session.info.pop(_PENDING, ()))


@event.listens_for(Session, "after_rollback")
def _drop_rolled_back(session: Session) -> None:
    session.info.pop(_PENDING, None)
