"""Turn an Order Desk order into the ``FulfillmentOrder`` every backend accepts.

This is where unfulfillable input is caught, before any warehouse sees it: the intake parks such
an order with the sentence from ``Unfulfillable`` so a person can fix it in Order Desk. Only
lines with ``delivery_type`` ship go to the warehouse; downloads and gift cards stay behind.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bridge.backends.countries import to_iso2
from bridge.backends.models import FulfillmentOrder, Line, ShipTo
from bridge.orderdesk.payload import Order

ORDER_NUMBER_MAX = 50
GIFT_MESSAGE_KEYS = ("gift message", "gift_message", "gift note", "gift_note", "giftmessage")
NOTE_KEYS = ("order notes", "order note", "customer notes", "customer note", "notes", "comments")


class Unfulfillable(ValueError):
    """The order cannot go to a warehouse as it stands; ``reason`` says why for a person."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _lookup(data: Mapping[str, Any], keys: tuple[str, ...]) -> str:
    folded = {str(key).strip().lower(): value for key, value in data.items()}
    for key in keys:
        value = folded.get(key)
        if value not in (None, "", []):
            return str(value).strip()
    return ""


def _ship_to(order: Order) -> ShipTo:
    address = order.ship_to
    if address is None or not address.is_addressable:
        raise Unfulfillable(
            f"Order {order.id} has no usable ship-to address: it needs a name or company, "
            "a street address and a country."
        )
    return ShipTo(
        name=address.full_name or address.company.strip(),
        company=address.company.strip(),
        address1=address.address1.strip(),
        address2=address.address2.strip(),
        address3=" ".join(p.strip() for p in (address.address3, address.address4) if p.strip()),
        city=address.city.strip(),
        region=address.state.strip(),
        postal_code=address.postal_code.strip(),
        country=to_iso2(address.country),
        phone=address.phone.strip(),
        email=order.email.strip(),
    )


def _lines(order: Order) -> list[Line]:
    lines = []
    for index, item in enumerate(order.order_items):
        if not item.ships:
            continue
        label = item.name or item.code or f"line {index + 1}"
        if item.quantity <= 0:
            raise Unfulfillable(
                f"Order {order.id}: item '{label}' has quantity {item.quantity}; "
                "a shipped item needs at least one unit."
            )
        if not item.code.strip():
            raise Unfulfillable(
                f"Order {order.id}: item '{label}' has no SKU (code), so the warehouse "
                "cannot pick it."
            )
        lines.append(
            Line(
                line_key=item.id or str(index),
                sku=item.code.strip(),
                name=item.name,
                quantity=item.quantity,
                unit_price=item.price,
            )
        )
    if not lines:
        raise Unfulfillable(
            f"Order {order.id} has nothing for the warehouse to ship: no item has delivery "
            "type 'ship'."
        )
    return lines


def to_fulfillment_order(order: Order) -> FulfillmentOrder:
    """The warehouse-facing order, or ``Unfulfillable`` with a reason a person understands."""
    ship_to = _ship_to(order)
    lines = _lines(order)
    metadata = {"orderdesk_id": order.id}
    if order.source_name:
        metadata["source_name"] = order.source_name
    return FulfillmentOrder(
        order_number=(order.source_id or order.id)[:ORDER_NUMBER_MAX],
        ship_to=ship_to,
        lines=lines,
        shipping_method=order.shipping_method,
        gift_message=_lookup(order.checkout_data, GIFT_MESSAGE_KEYS),
        notes=_lookup(order.checkout_data, NOTE_KEYS),
        metadata=metadata,
    )
