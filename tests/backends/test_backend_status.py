"""Status vocabulary and unit coverage (docs/backends.md): decide by units, not by words."""

from __future__ import annotations

import pytest

from bridge.backends.coverage import coverage_status
from bridge.backends.models import Line, NormalizedStatus, Package, RemoteShipment, ShippedLine
from bridge.backends.shipstation import from_pacific_text, to_pacific_text
from bridge.backends.simulated import remote_order
from bridge.backends.status import (
    SHIPSTATION_STATUSES,
    SIMULATED_STATUSES,
    normalize,
    settle_status,
)

S = NormalizedStatus
ORDERED = [
    Line(line_key="L1", sku="MUG", quantity=2),
    Line(line_key="L2", sku="TOTE", quantity=1),
]


def shipment(sid: str, *lines: tuple[str, str, int], voided: bool = False) -> RemoteShipment:
    return RemoteShipment(
        remote_id=sid,
        voided=voided,
        packages=[Package(package_id=sid, tracking_number=f"T{sid}")],
        lines=[ShippedLine(line_key=k, sku=s, quantity=q) for k, s, q in lines],
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("awaiting_payment", S.HELD),
        ("awaiting_shipment", S.ACCEPTED),
        ("pending_fulfillment", S.PROCESSING),
        ("on_hold", S.HELD),
        ("shipped", S.SHIPPED),
        ("cancelled", S.CANCELLED),
        ("rejected_fulfillment", S.REJECTED),
        ("Awaiting_Shipment", S.ACCEPTED),
        ("teleported", S.UNKNOWN),
    ],
)
def test_shipstation_statuses(raw, expected):
    assert normalize(SHIPSTATION_STATUSES, raw) is expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("received", S.ACCEPTED),
        ("picking", S.PROCESSING),
        ("packed", S.PROCESSING),
        ("partially_shipped", S.PARTIALLY_SHIPPED),
        ("shipped", S.SHIPPED),
        ("cancelled", S.CANCELLED),
        ("held", S.HELD),
        ("rejected", S.REJECTED),
        ("", S.UNKNOWN),
    ],
)
def test_simulated_statuses(raw, expected):
    assert normalize(SIMULATED_STATUSES, raw) is expected


@pytest.mark.parametrize(
    ("shipments", "expected"),
    [
        ([], None),
        ([shipment("a", ("L1", "MUG", 1))], S.PARTIALLY_SHIPPED),
        ([shipment("a", ("L1", "MUG", 2)), shipment("b", ("L2", "TOTE", 1))], S.SHIPPED),
        ([shipment("a", ("", "MUG", 2), ("", "TOTE", 1))], S.SHIPPED),
        ([shipment("a", ("L1", "MUG", 2), ("L2", "TOTE", 1), voided=True)], None),
        (
            [
                shipment("a", ("L1", "MUG", 2), ("L2", "TOTE", 1), voided=True),
                shipment("b", ("L2", "TOTE", 1)),
            ],
            S.PARTIALLY_SHIPPED,
        ),
        ([shipment("a", ("L1", "MUG", 5))], S.PARTIALLY_SHIPPED),
        ([shipment("a", ("", "OTHER", 3))], None),
        ([shipment("f")], S.SHIPPED),
    ],
    ids=[
        "none",
        "some",
        "all-by-key",
        "all-by-sku",
        "voided",
        "void-then-one",
        "overship-one-line",
        "unknown-sku",
        "fulfillment-without-lines",
    ],
)
def test_coverage_status(shipments, expected):
    assert coverage_status(ORDERED, shipments) is expected


def test_settle_uses_coverage_over_the_warehouse_word():
    partial = [shipment("a", ("L1", "MUG", 1))]
    assert settle_status(S.SHIPPED, ORDERED, partial) is S.PARTIALLY_SHIPPED
    assert settle_status(S.ACCEPTED, ORDERED, partial) is S.PARTIALLY_SHIPPED
    assert settle_status(S.CANCELLED, ORDERED, partial) is S.CANCELLED
    voided = [shipment("a", ("L1", "MUG", 2), voided=True)]
    assert settle_status(S.SHIPPED, ORDERED, voided) is S.PROCESSING


def test_simulated_snapshot_is_settled_by_coverage():
    order = remote_order(
        {
            "id": "wo_1",
            "external_key": "od-1-1",
            "status": "shipped",
            "updated_at": "2026-11-20T17:04:12Z",
            "lines": [{"line_key": "L1", "sku": "MUG", "quantity": 2}],
            "shipments": [
                {
                    "id": "sh_1",
                    "shipped_at": "2026-11-20T17:04:12Z",
                    "voided": False,
                    "packages": [{"id": "pk_1", "tracking_number": "1Z"}],
                    "lines": [{"line_key": "L1", "sku": "MUG", "quantity": 1}],
                }
            ],
        }
    )
    assert order.status is S.PARTIALLY_SHIPPED
    assert order.raw_status == "shipped"
    assert order.shipments[0].packages[0].package_id == "pk_1"
    assert order.updated_at is not None and order.updated_at.utcoffset().total_seconds() == 0


@pytest.mark.parametrize(
    ("text", "utc"),
    [
        ("2026-11-20T09:04:12.0000000", "2026-11-20T17:04:12+00:00"),  # PST, UTC-8
        ("2026-07-01T09:00:00.0000000", "2026-07-01T16:00:00+00:00"),  # PDT, UTC-7
        ("2026-07-01 09:00:00", "2026-07-01T16:00:00+00:00"),
    ],
)
def test_pacific_dates_round_trip(text, utc):
    moment = from_pacific_text(text)
    assert moment.isoformat() == utc
    assert from_pacific_text(to_pacific_text(moment)) == moment
