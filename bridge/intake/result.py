"""What the intake answers: the outcome, the HTTP answer, and the work to publish after commit.

Besides the outcomes of the intake contract (``docs/architecture.md``), an order posted from the
store's cancel folder answers ``cancel_requested`` (or ``cancel_refused`` with a reason when the
order has already left the warehouse).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bridge.jobs.followups import Message

ACCEPTED = "accepted"
DUPLICATE = "duplicate"
PARKED = "parked"
CANCEL_REQUESTED = "cancel_requested"
CANCEL_REFUSED = "cancel_refused"
INVALID = "invalid"
REFUSED = "refused"
UNAVAILABLE = "unavailable"
THROTTLED = "throttled"
TOO_LARGE = "too_large"


@dataclass
class IntakeResult:
    """The answer for Order Desk plus the follow-up work to publish once it is committed."""

    status: int
    body: dict[str, Any]
    outcome: str
    order_row_id: int | None = None
    follow_ups: list[Message] = field(default_factory=list)
    store_id: str = ""
    orderdesk_order_id: str = ""
    reason: str = ""
    # Seconds for a ``Retry-After`` header (429 answers only).
    retry_after: int = 0
