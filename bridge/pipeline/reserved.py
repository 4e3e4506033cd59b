"""Units the bridge holds for orders the warehouse has not received yet.

The warehouse's available stock does not know about them, so pushing it to Order Desk as is
would let the merchant sell those units a second time. An order counts while it is ``received``,
``submitting``, parked (``rejected``) or ``failed``: the bridge holds it and it is still meant to
ship. A submission in flight may already have landed, so its units can be subtracted twice for
a moment: that undersells briefly, which is the safe side.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pydantic
from sqlalchemy import select
from sqlalchemy.orm import Session

from bridge.models import Order
from bridge.orderdesk.payload import OrderItem
from bridge.states import OrderState

NOT_YET_AT_WAREHOUSE = (
    OrderState.RECEIVED.value,
    OrderState.SUBMITTING.value,
    OrderState.REJECTED.value,
    OrderState.FAILED.value,
)


def _shippable_units(payload: dict[str, Any]) -> Counter[str]:
    units: Counter[str] = Counter()
    items = payload.get("order_items")
    if not isinstance(items, list):
        return units
    for raw in items:
        try:
            item = OrderItem.model_validate(raw)
        except pydantic.ValidationError:
            continue
        sku = item.code.strip()
        if item.ships and sku and item.quantity > 0:
            units[sku] += item.quantity
    return units


def reserved_units(session: Session, store_id: int) -> Counter[str]:
    """Units per SKU (Order Desk's ``code``) in this store's orders not yet at the warehouse."""
    total: Counter[str] = Counter()
    payloads = session.scalars(
        select(Order.payload).where(
            Order.store_id == store_id, Order.state.in_(NOT_YET_AT_WAREHOUSE)
        )
    )
    for payload in payloads:
        if isinstance(payload, dict):
            total.update(_shippable_units(payload))
    return total
