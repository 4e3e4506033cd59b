"""The columns both accepting paths write, so an order and its receipt look the same either way.

``tests/intake/test_accept.py`` compares the rows the two paths write, column by column.
"""

from __future__ import annotations

import hashlib
from typing import Any

from bridge.intake.request import IntakeRequest
from bridge.intake.result import IntakeResult
from bridge.intake.storecache import StoreSnapshot
from bridge.models import Store, utcnow
from bridge.orderdesk.webhook import ParsedOrder


def clean(value: str | None, limit: int) -> str:
    """Text safe for a PostgreSQL column: no NUL, no unpaired surrogate, at most ``limit``."""
    safe = (value or "").replace("\x00", "").encode("utf-8", "backslashreplace").decode("utf-8")
    return safe[:limit]


def order_row_values(store: Store | StoreSnapshot, parsed: ParsedOrder) -> dict[str, Any]:
    """The order row's columns taken from the payload (both accepting paths write these)."""
    order = parsed.order
    return {
        "store_id": store.id,
        "orderdesk_order_id": order.id,
        "order_number": (order.source_id.strip() or order.id)[:64],
        "payload": parsed.data,
        "payload_sha256": parsed.sha256,
        "orderdesk_updated_at": order.date_updated[:32],
        "idempotency_key": f"od-{store.orderdesk_store_id}-{order.id}",
    }


def receipt_values(
    request: IntakeRequest,
    store_row_id: int | None,
    claimed_store_id: str,
    orderdesk_order_id: str,
    result: IntakeResult,
) -> dict[str, Any]:
    """The receipt's columns; the body itself is never kept, only its hash and size."""
    return {
        "received_at": utcnow(),
        "store_id": store_row_id,
        "claimed_store_id": claimed_store_id,
        "orderdesk_order_id": orderdesk_order_id,
        "outcome": result.outcome,
        "http_status": result.status,
        "reason": result.reason,
        "body_sha256": hashlib.sha256(request.body).hexdigest(),
        "body_bytes": len(request.body),
        "remote_addr": clean(request.remote_addr, 64),
    }
