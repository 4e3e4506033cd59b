"""What we send to Order Desk and the per-item outcomes we hand back.

Inputs are pydantic models (validated once where the pipeline builds them); outcomes are frozen
dataclasses so callers can store or compare them freely. ``payload.py`` holds what Order Desk
sends us; this module holds our side of the conversation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bridge.orderdesk.payload import Shipment


def as_order_id(value: object) -> int | str:
    """Order Desk documents internal ids as integers in request bodies.

    ``isdigit()`` alone is true for ``²`` and other digits ``int()`` refuses, hence ``isascii()``.
    """
    text = str(value).strip()
    return int(text) if text.isascii() and text.isdigit() else text


def _norm(value: str) -> str:
    return value.strip().casefold()


class ShipmentItem(BaseModel):
    """One line of a partial shipment, addressed by SKU."""

    code: str
    quantity: int = Field(default=1, ge=1)


class ShipmentIn(BaseModel):
    """One package to record on an Order Desk order (one shipment per parcel)."""

    model_config = ConfigDict(frozen=True)

    order_id: str
    tracking_number: str
    carrier_code: str = ""
    shipment_method: str = ""
    weight: float | None = None
    cost: float | None = None
    tracking_url: str = ""
    order_items: list[ShipmentItem] | None = None

    @field_validator("order_id", mode="before")
    @classmethod
    def _id_as_text(cls, value: Any) -> str:
        return str(value).strip()

    @field_validator("tracking_number")
    @classmethod
    def _tracking_present(cls, value: str) -> str:
        # Order Desk's convention for a package without tracking is the literal "n/a".
        return value.strip() or "n/a"

    def body(self, *, with_order_id: bool) -> dict[str, Any]:
        """The JSON object Order Desk expects; ``order_id`` only inside ``/batch-shipments``."""
        data: dict[str, Any] = {"tracking_number": self.tracking_number}
        if with_order_id:
            data["order_id"] = as_order_id(self.order_id)
        for name in ("carrier_code", "shipment_method", "tracking_url"):
            value = getattr(self, name).strip()
            if value:
                data[name] = value
        for name in ("weight", "cost"):
            value = getattr(self, name)
            if value is not None:
                data[name] = value
        if self.order_items:
            data["order_items"] = [item.model_dump() for item in self.order_items]
        return data

    def matches(self, shipment: Shipment) -> bool:
        """Whether Order Desk already holds this package: same tracking number and carrier.

        Compared trimmed and case-insensitively. When we send no carrier, Order Desk guesses one
        from the tracking number, so a blank carrier on our side matches any carrier.
        """
        if _norm(shipment.tracking_number) != _norm(self.tracking_number):
            return False
        return not self.carrier_code.strip() or _norm(shipment.carrier_code) == _norm(
            self.carrier_code
        )


class InventoryUpdate(BaseModel):
    """One inventory item for ``PUT /batch-inventory-items``, addressed by ``id`` or ``code``.

    Extra fields (price, weight, location...) pass through unchanged.
    """

    model_config = ConfigDict(extra="allow")

    id: int | None = None
    code: str = ""
    name: str | None = None
    stock: int | None = None

    def body(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


@dataclass(frozen=True)
class StoreInfo:
    """The parts of ``GET /store`` the bridge uses.

    The store's ``settings`` are deliberately not kept: older Order Desk versions echo the API key
    and SMTP credentials in them.
    """

    id: str
    name: str
    timezone: str
    folders: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class MoveResult:
    order_id: str
    ok: bool
    message: str
    original_folder_id: str | None = None


@dataclass(frozen=True)
class ShipmentResult:
    """Outcome for one ``ShipmentIn``.

    ``already_existed``: Order Desk refused a repeat and we found the package already there.
    ``reconciled``: the write's answer was lost and listing the order's shipments showed it landed.
    Both are successes.
    """

    order_id: str
    ok: bool
    shipment_id: str | None
    message: str
    already_existed: bool = False
    reconciled: bool = False


@dataclass(frozen=True)
class ItemResult:
    code: str
    ok: bool
    message: str
    id: str | None = None


@dataclass(frozen=True)
class OrderPage:
    """One page of ``GET /orders``: the raw orders, where it started, and Order Desk's total."""

    orders: list[dict[str, Any]]
    offset: int
    total: int
