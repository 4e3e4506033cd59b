"""Pydantic models of what Order Desk really sends.

Order Desk types its JSON loosely: ids arrive as strings in orders and as numbers elsewhere,
money and quantities sometimes as strings (``"price": "16"``), empty maps as ``[]``, and a
shipment's ``order_items`` as ``""``. These models coerce those shapes once, at the edge, and keep
every unknown field (``extra="allow"``) so nothing a merchant sent is lost when we store or
forward an order.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field


def _as_str(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _as_float(value: Any) -> float:
    if value in (None, ""):
        return 0.0
    if isinstance(value, str):
        return float(value.replace(",", "").strip() or 0)
    return float(value)


def _as_int(value: Any) -> int:
    return int(_as_float(value))


def _as_map(value: Any) -> dict[str, Any]:
    """Order Desk sends ``[]`` (PHP's empty array) where a map is empty."""
    if value in (None, "", []):
        return {}
    if isinstance(value, dict):
        return value
    if isinstance(value, list):
        return {str(index): item for index, item in enumerate(value)}
    raise ValueError("expected an object")


def _as_list(value: Any) -> list[Any]:
    if value in (None, "", {}):
        return []
    if isinstance(value, dict):
        return list(value.values())
    return value


def _as_optional_object(value: Any) -> Any:
    return None if value in ("", []) else value


LooseStr = Annotated[str, BeforeValidator(_as_str)]
LooseFloat = Annotated[float, BeforeValidator(_as_float)]
LooseInt = Annotated[int, BeforeValidator(_as_int)]
LooseMap = Annotated[dict[str, Any], BeforeValidator(_as_map)]


class _Loose(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class Address(_Loose):
    first_name: LooseStr = ""
    last_name: LooseStr = ""
    company: LooseStr = ""
    address1: LooseStr = ""
    address2: LooseStr = ""
    address3: LooseStr = ""
    address4: LooseStr = ""
    city: LooseStr = ""
    state: LooseStr = ""
    postal_code: LooseStr = ""
    country: LooseStr = ""
    phone: LooseStr = ""

    @property
    def full_name(self) -> str:
        return " ".join(part for part in (self.first_name.strip(), self.last_name.strip()) if part)

    @property
    def is_addressable(self) -> bool:
        """Order Desk's own validity rule (a name or a company) plus a street to deliver to."""
        has_recipient = bool(self.full_name or self.company.strip())
        return has_recipient and bool(self.address1.strip()) and bool(self.country.strip())


class OrderItem(_Loose):
    id: LooseStr = ""
    name: LooseStr = ""
    code: LooseStr = ""
    price: LooseFloat = 0.0
    quantity: LooseInt = 1
    weight: LooseFloat = 0.0
    delivery_type: LooseStr = "ship"
    category_code: LooseStr = ""
    variation_list: LooseMap = Field(default_factory=dict)
    metadata: LooseMap = Field(default_factory=dict)

    @property
    def ships(self) -> bool:
        """Only ``ship`` lines go to the warehouse (``noship``, ``download``, ``future`` do not)."""
        return (self.delivery_type or "ship").strip().lower() == "ship"


class Shipment(_Loose):
    """A shipment record as Order Desk returns it (``GET /orders/{id}/shipments``)."""

    id: LooseStr = ""
    order_id: LooseStr = ""
    store_id: LooseStr = ""
    tracking_number: LooseStr = ""
    carrier_code: LooseStr = ""
    shipment_method: LooseStr = ""
    weight: LooseFloat = 0.0
    cost: LooseFloat = 0.0
    status: LooseStr = ""
    tracking_url: LooseStr = ""
    order_items: Annotated[list[Any], BeforeValidator(_as_list)] = Field(default_factory=list)
    date_shipped: LooseStr = ""
    date_added: LooseStr = ""


class Order(_Loose):
    """One Order Desk order, as posted by the Post Order JSON rule or read from ``/orders``."""

    id: LooseStr
    source_id: LooseStr = ""
    source_name: LooseStr = ""
    email: LooseStr = ""
    shipping_method: LooseStr = ""
    folder_id: LooseStr = ""
    date_added: LooseStr = ""
    date_updated: LooseStr = ""
    order_total: LooseFloat = 0.0
    shipping: Annotated[Address | None, BeforeValidator(_as_optional_object)] = None
    customer: Annotated[Address | None, BeforeValidator(_as_optional_object)] = None
    checkout_data: LooseMap = Field(default_factory=dict)
    order_metadata: LooseMap = Field(default_factory=dict)
    order_items: Annotated[list[OrderItem], BeforeValidator(_as_list)] = Field(default_factory=list)
    order_shipments: Annotated[list[Shipment], BeforeValidator(_as_list)] = Field(
        default_factory=list
    )

    @property
    def ship_to(self) -> Address | None:
        """Order Desk copies a missing ``shipping`` from ``customer``; do the same when reading."""
        for address in (self.shipping, self.customer):
            if address is not None and address.is_addressable:
                return address
        return self.shipping or self.customer

    @property
    def shippable_items(self) -> list[OrderItem]:
        return [item for item in self.order_items if item.ships]
