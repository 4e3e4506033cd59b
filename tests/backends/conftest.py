"""Backend test fixtures: Order Desk sample payloads and warehouse simulators on loopback."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bridge.backends.models import FulfillmentOrder, Line, ShipTo
from bridge.orderdesk.payload import Order

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture
def od_order() -> Callable[[str], Order]:
    def load(name: str) -> Order:
        return Order.model_validate(json.loads((FIXTURES / f"{name}.json").read_text()))

    return load


def make_order(number: str = "1001", address1: str = "1450 Harbor Blvd", **extra: Any):
    """A two-line order (2 x MUG, 1 x TOTE) ready for any backend."""
    return FulfillmentOrder(
        order_number=number,
        ship_to=ShipTo(
            name="Dana Reyes",
            address1=address1,
            city="Costa Mesa",
            region="CA",
            postal_code="92626",
            country="US",
            email="dana@example.com",
        ),
        lines=[
            Line(line_key="L1", sku="MUG", name="Trail Mug", quantity=2, unit_price=24.0),
            Line(line_key="L2", sku="TOTE", name="Canvas Tote", quantity=1, unit_price=16.0),
        ],
        shipping_method="UPS Ground",
        **extra,
    )
