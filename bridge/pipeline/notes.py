"""History notes on the Order Desk order: the merchant reads there what the bridge did.

Each kind of note has one text. Most texts are filled from the order row (its warehouse
reference, its reason, its last error); a kind whose text needs more (``{detail}``) must be
declared with it: ``later`` refuses such a note without its detail, so a merchant never reads
"too late: " with nothing after it. A note is written once per kind and order (the event log
remembers), and never sent twice after an unclear answer.

Every note spends a token of the store's Order Desk bucket, which shipments and folder moves
need more. So each kind declares whether it is routine or a problem, and the store's
``history_notes`` policy (``bridge.models.HistoryNotes``) decides which are written: by default
only the problems. Notes also take the lowest priority in the bucket
(``bridge.remote.ratelimit.Priority.NOTES``): under load they wait, moves and shipments do not.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from string import Formatter

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from bridge.db import session_scope
from bridge.history import EventKind, record
from bridge.jobs import followups, queues
from bridge.models import HistoryNotes, Order, OrderEvent
from bridge.orderdesk.client import OrderDeskClient
from bridge.remote.errors import AmbiguousOutcome
from bridge.remote.ratelimit import Priority
from bridge.settings import get_settings
from bridge.stores.context import StoreContext


class NoteKind(StrEnum):
    """A kind of history note; the values travel in task messages and events, never rename one."""

    SUBMITTED = "submitted"
    # Submitted after all, once the merchant had read the FAILED note.
    SUBMITTED_LATE = "submitted_late"
    PARKED = "parked"
    FAILED = "failed"
    CANCELLED = "cancelled"
    CANCEL_TOO_LATE = "cancel_too_late"
    CHANGED_AFTER_SUBMISSION = "changed_after_submission"

    @property
    def text(self) -> str:
        return TEXTS[self]

    @property
    def routine(self) -> bool:
        """True for news the merchant need not act on; written only under the ``all`` policy."""
        return self in ROUTINE

    @property
    def needs_detail(self) -> bool:
        """True when the text has a ``{detail}`` the order row cannot fill."""
        return "detail" in {field for _, field, _, _ in Formatter().parse(self.text) if field}


TEXTS = {
    NoteKind.SUBMITTED: (
        "orderdesk-bridge sent this order to the warehouse ({backend}), reference {ref}."
    ),
    NoteKind.SUBMITTED_LATE: (
        "orderdesk-bridge sent this order to the warehouse ({backend}) after all, reference "
        "{ref}, despite the earlier failure note: do not send it again by hand."
    ),
    NoteKind.PARKED: (
        "orderdesk-bridge did not send this order to the warehouse: {reason} "
        "Correct the order and post it again to retry."
    ),
    NoteKind.FAILED: (
        "orderdesk-bridge could not send this order to the warehouse after {attempts} attempts "
        "({error}). The 3PL has been alerted; it will be retried by hand."
    ),
    NoteKind.CANCELLED: "orderdesk-bridge cancelled this order at the warehouse.",
    NoteKind.CANCEL_TOO_LATE: (
        "orderdesk-bridge asked the warehouse to cancel this order, but it is too late: {detail}"
    ),
    NoteKind.CHANGED_AFTER_SUBMISSION: (
        "orderdesk-bridge: this order was changed after it was sent to the warehouse "
        "({backend}, reference {ref}); the warehouse still has the earlier version. "
        "Make the change at the warehouse too."
    ),
}

# The routine kinds; every other kind is a problem the merchant should read about.
ROUTINE = frozenset({NoteKind.SUBMITTED})


def wanted(policy: str, kind: NoteKind) -> bool:
    """Whether a store with history-notes ``policy`` gets a ``kind`` note (naive mode: all)."""
    if get_settings().naive or policy == HistoryNotes.ALL:
        return True
    return policy == HistoryNotes.PROBLEMS and not kind.routine


class MissingDetail(ValueError):
    """A note whose text needs a detail was declared without one (or one that needs none with)."""


def _checked(kind: NoteKind, detail: str) -> str:
    detail = detail.strip()
    if kind.needs_detail and not detail:
        raise MissingDetail(f"a {kind.value!r} note needs its detail")
    if detail and not kind.needs_detail:
        raise MissingDetail(f"a {kind.value!r} note takes no detail")
    return detail


def later(session: Session, order_id: int, kind: NoteKind, detail: str = "") -> None:
    """Write the ``kind`` note once ``session`` commits, if the store's policy wants it; raises
    ``MissingDetail`` right away."""
    detail = _checked(kind, detail)
    order = session.get(Order, order_id)
    if order is not None and not wanted(order.store.history_notes, kind):
        return
    args: tuple[object, ...] = (order_id, kind.value, detail) if detail else (order_id, kind.value)
    followups.later(session, queues.ADD_HISTORY_NOTE, *args)


@dataclass(frozen=True)
class _Note:
    order_id: int
    kind: NoteKind
    orderdesk_order_id: str
    store_id: int
    text: str


def _compose(order_id: int, kind: NoteKind, detail: str) -> _Note | None:
    """The note's text from the order as it is now; None when it is already written or the
    store's policy (read now: it may have changed since the note was asked for) leaves it out."""
    with session_scope() as session:
        order = session.get(Order, order_id)
        if order is None or not wanted(order.store.history_notes, kind):
            return None
        already = session.scalar(
            select(
                exists().where(
                    OrderEvent.order_id == order_id,
                    OrderEvent.kind == EventKind.ORDERDESK_NOTE,
                    OrderEvent.message == kind.value,
                )
            )
        )
        if already:
            return None
        text = kind.text.format(
            backend=order.store.backend,
            ref=order.warehouse_ref or "unknown",
            reason=(order.reason or "").rstrip(".") + ".",
            attempts=order.attempts,
            error=order.last_error or "no error recorded",
            detail=detail,
        )
        return _Note(order_id, kind, order.orderdesk_order_id, order.store_id, text)


def _send(client: OrderDeskClient, note: _Note) -> None:
    outcome = "sent"
    try:
        client.add_history_note(note.orderdesk_order_id, note.text)
    except AmbiguousOutcome:
        # Sending again could duplicate the note; an unclear note is not worth that.
        outcome = "unclear"
    with session_scope() as session:
        order = session.get_one(Order, note.order_id)
        record(
            session,
            order,
            EventKind.ORDERDESK_NOTE,
            note.kind.value,
            outcome=outcome,
            note=note.text,
        )


def write(client: OrderDeskClient, order_id: int, kind: NoteKind, detail: str = "") -> bool:
    """Write the note with a client the caller already holds; False when there is nothing to do."""
    note = _compose(order_id, kind, _checked(kind, detail))
    if note is None:
        return False
    _send(client, note)
    return True


def add_history_note(order_id: int, kind: str, detail: str = "") -> bool:
    """The step: write one note on the Order Desk order, once per kind."""
    note_kind = NoteKind(kind)
    note = _compose(order_id, note_kind, _checked(note_kind, detail))
    if note is None:
        return False
    context = StoreContext.load(note.store_id)
    with context.orderdesk_step(Priority.NOTES) as client:
        _send(client, note)
    return True
