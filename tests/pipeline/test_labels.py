"""Warehouse carrier and service codes become the words Order Desk recognises."""

from __future__ import annotations

import pytest

from bridge.pipeline.labels import carrier_code, shipment_method


@pytest.mark.parametrize(
    ("carrier", "expected"),
    [
        ("ups", "UPS"),
        ("UPS", "UPS"),
        ("stamps_com", "USPS"),
        ("fedex", "FedEx"),
        ("dhl_express", "DHL"),
        ("Acme Freight", "Acme Freight"),
    ],
)
def test_carrier_codes(carrier: str, expected: str) -> None:
    assert carrier_code(carrier) == expected


@pytest.mark.parametrize(
    ("carrier", "service", "expected"),
    [
        ("ups", "ups_ground", "Ground"),
        ("usps", "usps_priority_mail", "Priority Mail"),
        ("fedex", "FEDEX_2_DAY", "2 Day"),
        ("ups", "Next Day Air", "Next Day Air"),
    ],
)
def test_shipment_methods(carrier: str, service: str, expected: str) -> None:
    assert shipment_method(carrier, service) == expected
