"""Hole 10: after retention blanked a finished order, its signed webhook is still a duplicate.

The order row and its idempotency key are kept forever, so a replay of a years-old webhook,
as captured or percent-encoded, meets the row on both accepting paths and never makes an order.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import requests
from sqlalchemy import update

from bridge.db import session_scope
from bridge.models import Order, WebhookReceipt, utcnow
from bridge.ops import retention
from bridge.states import OrderState
from tests.intake.conftest import count, events, order_row, signed_headers
from tests.security.intake.test_hole1_signed_bytes import (
    ENCODED_DIGIT,
    OD_ID,
    ORIGINAL,
    SIGNATURE,
    Attempt,
    _field,
)

YEARS = timedelta(days=3 * 365)


def _age_into_shipped() -> None:
    """The pipeline shipped the order three years ago (only the clock is moved here)."""
    long_ago = utcnow() - YEARS
    with session_scope() as session:
        session.execute(update(Order).values(state=OrderState.SHIPPED.value, updated_at=long_ago))
        session.execute(update(WebhookReceipt).values(received_at=long_ago))


def test_hole10_replay_of_a_years_old_webhook_after_retention_is_a_duplicate(
    store: str, serve: Callable[[], str], path: str
) -> None:
    url = serve()
    first = requests.post(
        url, data={"order": ORIGINAL}, headers=signed_headers(ORIGINAL), timeout=10
    )
    assert first.json() == {"result": "accepted", "order_id": OD_ID}
    _age_into_shipped()

    report = retention.prune()

    assert (report.orders_pruned, report.receipts_deleted) == (1, 1)
    pruned = order_row(OD_ID)
    assert pruned.payload == {"id": OD_ID}
    assert events(pruned.id) == []

    replays: list[Attempt] = [_field(ORIGINAL), _field(ENCODED_DIGIT)]
    answers = [
        requests.post(
            url,
            data=attempt.body,
            headers=attempt.headers() | {"X-Order-Desk-Hash": SIGNATURE},
            timeout=10,
        )
        for attempt in replays
    ]

    assert [(a.status_code, a.json()) for a in answers] == [
        (200, {"result": "duplicate", "order_id": OD_ID})
    ] * 2
    assert count(Order) == 1
    assert order_row(OD_ID).state == OrderState.SHIPPED
    assert count(WebhookReceipt) == 2
