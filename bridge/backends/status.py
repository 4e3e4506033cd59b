"""Warehouse status words mapped to the bridge's vocabulary (docs/backends.md#status-vocabulary).

The raw shipped-ish words are only a hint: ``settle_status`` lets unit coverage decide between
``shipped`` and ``partially_shipped`` whenever the order's lines and shipments are known.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bridge.backends.coverage import coverage_status
from bridge.backends.models import Line, NormalizedStatus, RemoteShipment

S = NormalizedStatus

SHIPSTATION_STATUSES: Mapping[str, NormalizedStatus] = {
    "awaiting_payment": S.HELD,
    "awaiting_shipment": S.ACCEPTED,
    "pending_fulfillment": S.PROCESSING,
    "on_hold": S.HELD,
    "shipped": S.SHIPPED,
    "cancelled": S.CANCELLED,
    "rejected_fulfillment": S.REJECTED,
}

SIMULATED_STATUSES: Mapping[str, NormalizedStatus] = {
    "received": S.ACCEPTED,
    "picking": S.PROCESSING,
    "packed": S.PROCESSING,
    "partially_shipped": S.PARTIALLY_SHIPPED,
    "shipped": S.SHIPPED,
    "cancelled": S.CANCELLED,
    "held": S.HELD,
    "rejected": S.REJECTED,
}

# ShipBob reports status per shipment (one order may have several); ``shipbob_order_status``
# folds them into one. Spaces and case vary between API versions ("On Hold", "OnHold").
SHIPBOB_SHIPMENT_STATUSES: Mapping[str, NormalizedStatus] = {
    "none": S.ACCEPTED,
    "importreview": S.HELD,
    "processing": S.PROCESSING,
    "labeledcreated": S.PROCESSING,
    "onhold": S.HELD,
    "exception": S.EXCEPTION,
    "completed": S.SHIPPED,
    "cancelled": S.CANCELLED,
}

# When nothing has shipped, the shipment that most needs a person speaks for the order.
_SHIPBOB_PRECEDENCE = (S.EXCEPTION, S.HELD, S.UNKNOWN, S.PROCESSING, S.ACCEPTED)

# Statuses that end the order's life on the warehouse side whatever the shipments say.
_FINAL = {S.CANCELLED, S.REJECTED, S.DELIVERED}


def normalize(table: Mapping[str, NormalizedStatus], raw: str) -> NormalizedStatus:
    return table.get((raw or "").strip().lower(), S.UNKNOWN)


def settle_status(
    status: NormalizedStatus,
    lines: Sequence[Line] | None,
    shipments: Sequence[RemoteShipment],
) -> NormalizedStatus:
    """Refine a mapped status with unit coverage when the ordered lines are known.

    A partially shipped order that the warehouse still calls open becomes ``partially_shipped``;
    one it calls shipped with units missing stays ``partially_shipped`` too.
    """
    if status in _FINAL or lines is None:
        return status
    covered = coverage_status(lines, shipments)
    if covered is not None:
        return covered
    if status in (S.SHIPPED, S.PARTIALLY_SHIPPED):
        # Every label was voided (or none matched): the order is back on the floor.
        return S.PROCESSING if any(s.voided for s in shipments) else status
    return status


def shipbob_shipment_status(raw: str) -> NormalizedStatus:
    return normalize(SHIPBOB_SHIPMENT_STATUSES, (raw or "").replace(" ", "").replace("_", ""))


def shipbob_order_status(raw_statuses: Sequence[str]) -> NormalizedStatus:
    """One order status from its shipments' statuses (ShipBob has no reliable order-level word).

    Any completed shipment makes the order shipped (coverage then decides partial or whole);
    every shipment cancelled makes it cancelled; otherwise the most urgent open status wins.
    """
    statuses = {shipbob_shipment_status(raw) for raw in raw_statuses}
    if not statuses:
        return S.ACCEPTED
    if S.SHIPPED in statuses:
        return S.SHIPPED
    if statuses == {S.CANCELLED}:
        return S.CANCELLED
    return next((s for s in _SHIPBOB_PRECEDENCE if s in statuses), S.UNKNOWN)
