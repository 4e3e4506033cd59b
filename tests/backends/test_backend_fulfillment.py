"""Order Desk order → FulfillmentOrder, with the four shared sample payloads."""

from __future__ import annotations

import pytest

from bridge.backends.countries import to_iso2
from bridge.backends.fulfillment import Unfulfillable, to_fulfillment_order
from bridge.orderdesk.payload import Order


def test_typical_order_becomes_two_lines(od_order):
    result = to_fulfillment_order(od_order("order-typical"))
    assert result.order_number == "5812345678901"
    assert result.ship_to.name == "Dana Reyes"
    assert result.ship_to.address2 == "Apt 3C"
    assert result.ship_to.country == "US"
    assert result.ship_to.email == "dana.reyes@example.com"
    assert [(x.line_key, x.sku, x.quantity, x.unit_price) for x in result.lines] == [
        ("99120001", "MUG-TRL-SLT", 2, 24.0),
        ("99120002", "TOTE-CNV-NAT", 1, 16.0),
    ]
    assert result.gift_message == "Happy birthday, Sam!"
    assert result.shipping_method == "UPS Ground"
    assert result.metadata["orderdesk_id"] == "48211937"
    assert FulfillmentOrder_roundtrip(result)


def FulfillmentOrder_roundtrip(order) -> bool:
    return type(order).from_dict(order.to_dict()) == order


def test_international_order_drops_download_and_maps_country(od_order):
    result = to_fulfillment_order(od_order("order-international"))
    assert result.order_number == "WC-10442"
    assert result.ship_to.country == "DE"
    assert result.ship_to.city == "München"
    assert result.ship_to.company == "Müller & Söhne GmbH"
    assert [line.sku for line in result.lines] == ["GRD-MB-01", "FLT-100"]
    assert result.lines[1].quantity == 4


def test_no_ship_to_is_refused_with_a_reason(od_order):
    with pytest.raises(Unfulfillable) as caught:
        to_fulfillment_order(od_order("order-no-ship-to"))
    assert "ship-to address" in caught.value.reason
    assert "48212001" in caught.value.reason


def test_nothing_to_ship_is_refused_with_a_reason(od_order):
    with pytest.raises(Unfulfillable) as caught:
        to_fulfillment_order(od_order("order-nothing-to-ship"))
    assert "nothing for the warehouse to ship" in caught.value.reason


def _with_items(od_order, items) -> Order:
    data = od_order("order-typical").model_dump()
    data["order_items"] = items
    return Order.model_validate(data)


def test_zero_quantity_ship_line_is_refused(od_order):
    order = _with_items(od_order, [{"id": "1", "name": "Mug", "code": "MUG", "quantity": "0"}])
    with pytest.raises(Unfulfillable, match="quantity 0"):
        to_fulfillment_order(order)


def test_ship_line_without_sku_is_refused(od_order):
    order = _with_items(od_order, [{"id": "1", "name": "Mystery box", "code": "", "quantity": 1}])
    with pytest.raises(Unfulfillable, match="no SKU"):
        to_fulfillment_order(order)


def test_line_key_falls_back_to_index_and_order_number_is_capped(od_order):
    data = od_order("order-typical").model_dump()
    data["source_id"] = "X" * 80
    data["order_items"] = [{"name": "Mug", "code": "MUG", "quantity": 1}]
    result = to_fulfillment_order(Order.model_validate(data))
    assert result.lines[0].line_key == "0"
    assert len(result.order_number) == 50


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("United States", "US"),
        ("USA", "US"),
        ("Deutschland", "DE"),
        ("germany", "DE"),
        ("Canada", "CA"),
        ("  United   Kingdom ", "GB"),
        ("de", "DE"),
        ("Atlantis", "Atlantis"),
    ],
)
def test_country_names_map_to_iso2(given, expected):
    assert to_iso2(given) == expected
