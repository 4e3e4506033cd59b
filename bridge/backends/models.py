"""Normalised data exchanged between the core and every backend (docs/backends.md).

The core stores these, so each model round-trips through JSON (``to_dict`` / ``from_dict``) and
is immutable once built: a snapshot is evidence of what a warehouse said at one moment.
Timestamps are timezone-aware UTC whatever the warehouse speaks.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field


class NormalizedStatus(StrEnum):
    """Order-level status in the bridge's own vocabulary (docs/backends.md#status-vocabulary)."""

    PENDING_SUBMIT = "pending_submit"
    ACCEPTED = "accepted"
    HELD = "held"
    EXCEPTION = "exception"
    PROCESSING = "processing"
    PARTIALLY_SHIPPED = "partially_shipped"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCEL_REQUESTED = "cancel_requested"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    UNKNOWN = "unknown"


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        return cls.model_validate(data)


class ShipTo(_Record):
    name: str = ""
    company: str = ""
    address1: str = ""
    address2: str = ""
    address3: str = ""
    city: str = ""
    region: str = ""
    postal_code: str = ""
    country: str = ""
    phone: str = ""
    email: str = ""


class Line(_Record):
    line_key: str
    sku: str
    name: str = ""
    quantity: int
    unit_price: float = 0.0


class FulfillmentOrder(_Record):
    """What we ask a warehouse to ship; built from an Order Desk order by ``fulfillment.py``."""

    order_number: str = Field(max_length=50)
    ship_to: ShipTo
    lines: list[Line]
    shipping_method: str = ""
    gift_message: str = ""
    notes: str = ""
    metadata: dict[str, str] = Field(default_factory=dict)


class RemoteRef(_Record):
    """Where an order lives in a warehouse (``remote_id``) and our idempotency ``key`` for it."""

    remote_id: str
    key: str


class Package(_Record):
    """One parcel with its tracking; ``package_id`` is stable and unique within a backend."""

    package_id: str
    tracking_number: str = ""
    tracking_url: str = ""
    weight_oz: float | None = None


class ShippedLine(_Record):
    line_key: str = ""
    sku: str = ""
    quantity: int


class RemoteShipment(_Record):
    """A shipment as the warehouse reports it; ``voided`` means its tracking must be retracted."""

    remote_id: str
    shipped_at: datetime | None = None
    carrier: str = ""
    service: str = ""
    voided: bool = False
    packages: list[Package] = Field(default_factory=list)
    lines: list[ShippedLine] = Field(default_factory=list)


class RemoteOrder(_Record):
    """A snapshot of one order; the core merges snapshots and never lets them downgrade it."""

    ref: RemoteRef
    status: NormalizedStatus
    raw_status: str = ""
    # The order number the warehouse shows, when the snapshot came with it (not every feed
    # carries it): the audit finds an order entered twice, once without our key, by it.
    order_number: str = ""
    updated_at: datetime | None = None
    shipments: list[RemoteShipment] = Field(default_factory=list)


class StockLevel(_Record):
    sku: str
    available: int


class SubmitResult(_Record):
    """``created`` is False when the warehouse already had an order under this key."""

    ref: RemoteRef
    created: bool


class ChangePage(_Record):
    """One page of a change feed; persist ``next_cursor`` only after handling ``orders``."""

    orders: list[RemoteOrder]
    next_cursor: str
    has_more: bool


CancelState = Literal["cancelled", "requested", "too_late", "rejected", "unsupported"]


class CancelResult(_Record):
    state: CancelState
    detail: str = ""
