"""The full path: one webhook verified, recorded and decided in one transaction.

The store is read afresh (and the process's snapshot of it refreshed for the fast path), the
signature checked against its API key, the order parsed from the text the signature covers, and
``Decision`` says what the order means. Every request ends in a receipt, except refusals the
store did not sign: those spend their sender's budget (``bridge.intake.refusals``) first, which
may answer 429 or skip the receipt, so forged posts cannot grow the table without bound.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from bridge.intake import refusals
from bridge.intake.decision import Decision
from bridge.intake.request import IntakeRequest
from bridge.intake.result import INVALID, REFUSED, THROTTLED, IntakeResult
from bridge.intake.rows import clean, receipt_values
from bridge.intake.storecache import store_cache
from bridge.models import Store, WebhookReceipt
from bridge.orderdesk.webhook import (
    HASH_HEADER,
    STORE_HEADER,
    BadPayload,
    load_json,
    signed_text,
    validate,
)
from bridge.settings import get_settings
from bridge.stores.registry import StoreRegistry


def _peek_order_id(data: Any) -> str:
    value = data.get("id") if isinstance(data, dict) else None
    if isinstance(value, str | int) and not isinstance(value, bool):
        return clean(str(value), 64)
    return ""


class FullIntake:
    """One request's checks and decision; every path ends in ``finish``, which writes the receipt.

    Except for refusals the store did not sign, which go through ``_refuse`` and the budget.
    """

    def __init__(self, session: Session, request: IntakeRequest) -> None:
        self.session = session
        self.request = request
        self.claimed = clean(request.header(STORE_HEADER), 64).strip()
        self.store: Store | None = None
        self.data: Any = None
        self.json_error: BadPayload | None = None
        self.orderdesk_order_id = ""
        self.verified = False

    def run(self) -> IntakeResult:
        field_value = self.request.order_field
        if field_value is None or not field_value.strip():
            return self._refuse(400, INVALID, "the form field 'order' is missing or empty")
        self._read(field_value)

        if not self.claimed:
            return self._refuse(403, REFUSED, f"the {STORE_HEADER} header is missing")
        if self.claimed.isascii() and self.claimed.isdigit() and len(self.claimed) <= 32:
            self.store = StoreRegistry(self.session).find(self.claimed)
        if self.store is None:
            return self._refuse(403, REFUSED, f"unknown store {self.claimed!r}")
        if not self.store.active:
            return self._refuse(403, REFUSED, f"store {self.claimed} is disabled")
        signature = self.request.header(HASH_HEADER)
        if not signature:
            return self._refuse(403, REFUSED, f"the {HASH_HEADER} header is missing")
        api_key = StoreRegistry(self.session).api_key(self.store)
        store_cache.remember(get_settings().database_url, self.store, api_key)
        signed = signed_text(field_value, signature, api_key)
        if signed is None:
            return self._refuse(403, REFUSED, f"the {HASH_HEADER} header does not match")
        self.verified = True
        if signed != field_value:
            self._read(signed)

        if self.json_error:
            return self._refuse(400, INVALID, str(self.json_error))
        try:
            parsed = validate(signed, self.data)
        except BadPayload as exc:
            return self._refuse(400, INVALID, str(exc))
        self.orderdesk_order_id = parsed.order.id
        return Decision(self.session, self.store, parsed, self.finish).run()

    def _read(self, text: str) -> None:
        """Parse ``text``; before the signature is checked only to name the order in a receipt."""
        self.data, self.json_error = None, None
        try:
            self.data = load_json(text)
        except BadPayload as exc:
            self.json_error = exc
        self.orderdesk_order_id = _peek_order_id(self.data)

    def _refuse(self, status: int, outcome: str, reason: str) -> IntakeResult:
        """A refusal; one not signed by the store spends its sender's budget (``refusals``)."""
        result = IntakeResult(status, {"error": reason}, outcome, reason=reason)
        if self.verified:
            return self.finish(result)
        verdict = refusals.judge(self.request.remote_addr)
        if verdict.throttled:
            error = "too many refused requests from this address"
            throttled = IntakeResult(
                429, {"error": error}, THROTTLED, reason=error, retry_after=verdict.retry_after
            )
            return self._named(throttled)
        if not verdict.keep_receipt:
            return self._named(result)
        return self.finish(result)

    def finish(self, result: IntakeResult) -> IntakeResult:
        store_row_id = self.store.id if self.store is not None else None
        values = receipt_values(
            self.request, store_row_id, self.claimed, self.orderdesk_order_id, result
        )
        # A plain Core INSERT: the receipt is never read back, so skip the ORM's machinery.
        self.session.execute(insert(WebhookReceipt.__table__).values(**values))
        return self._named(result)

    def _named(self, result: IntakeResult) -> IntakeResult:
        result.store_id = self.claimed
        result.orderdesk_order_id = self.orderdesk_order_id
        return result
