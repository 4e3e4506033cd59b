"""Orders the bridge fetched from Order Desk itself, decided exactly as a webhook's would be.

Reconciliation lists orders with the store's own key, so there is no signature to check and no
request to keep a receipt of; everything after that (duplicate, refresh, parking, cancel folder,
acceptance) is the webhook's own ``Decision``.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from bridge.intake.decision import Decision
from bridge.intake.result import IntakeResult
from bridge.models import Store
from bridge.orderdesk.webhook import ParsedOrder


@dataclass(frozen=True)
class TrustedIntake:
    """What ``take_trusted`` decided; ``inserted`` is True when this call created the order row."""

    result: IntakeResult
    inserted: bool


def take_trusted(session: Session, store: Store, parsed: ParsedOrder) -> TrustedIntake:
    """Decide ``parsed`` for ``store`` in the caller's transaction, writing no receipt.

    The caller declares ``result.follow_ups`` in its transaction (``followups.later``).
    """

    def named(result: IntakeResult) -> IntakeResult:
        result.store_id = store.orderdesk_store_id
        result.orderdesk_order_id = parsed.order.id
        return result

    decision = Decision(session, store, parsed, named)
    result = decision.run()
    return TrustedIntake(result, decision.inserted)
