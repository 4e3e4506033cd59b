"""Hole 11: ``str.isdigit()`` is true for ``²`` and other non-ASCII digits that ``int()`` refuses.

Every place that turns an id into a number must check ``isascii()`` too, or a crafted id becomes
a 500 (a page) or a task that fails on every retry (a shipment post).
"""

from __future__ import annotations

import pytest

from bridge.orderdesk.records import ShipmentIn, as_order_id

ODD_DIGITS = ["²", "12³", "\u0663\u0664", "\uff11\uff12"]  # superscripts, Arabic-Indic, full-width


@pytest.mark.parametrize("order_id", ODD_DIGITS)
def test_hole11_an_order_id_of_non_ascii_digits_is_sent_as_text(order_id: str) -> None:
    assert as_order_id(order_id) == order_id


@pytest.mark.parametrize("order_id", ODD_DIGITS)
def test_hole11_a_shipment_for_an_order_id_of_non_ascii_digits_builds_its_body(
    order_id: str,
) -> None:
    body = ShipmentIn(order_id=order_id, tracking_number="1Z999").body(with_order_id=True)
    assert body["order_id"] == order_id


def test_hole11_ascii_ids_are_still_numbers() -> None:
    assert as_order_id(" 925086 ") == 925086
    shipment = ShipmentIn(order_id="925086", tracking_number="1Z999")
    assert shipment.body(with_order_id=True)["order_id"] == 925086
