"""Helpers shared by the warehouse simulator tests: polling, order bodies, a bound session."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import requests

KEY, SECRET = "test-key", "test-secret"


def wait_for(predicate: Callable[[], Any], timeout: float = 5.0) -> Any:
    """Poll until ``predicate`` returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(0.02)


def ss_order(number: str, key: str | None = None, **overrides: Any) -> dict[str, Any]:
    """A createorder body as the ShipStation backend sends it."""
    body: dict[str, Any] = {
        "orderNumber": number,
        "orderKey": key if key is not None else f"od-1-{number}",
        "orderDate": "2026-11-20T09:04:12.0000000",
        "orderStatus": "awaiting_shipment",
        "billTo": {"name": "Dana Reyes"},
        "shipTo": {
            "name": "Dana Reyes",
            "company": "",
            "street1": "1450 Harbor Blvd",
            "street2": "Apt 3C",
            "city": "Costa Mesa",
            "state": "CA",
            "postalCode": "92626",
            "country": "US",
            "phone": "714-555-0182",
            "residential": True,
        },
        "items": [
            {
                "lineItemKey": "99120001",
                "sku": "MUG",
                "name": "Trail Mug",
                "quantity": 2,
                "unitPrice": 24.0,
            },
            {
                "lineItemKey": "99120002",
                "sku": "TOTE",
                "name": "Canvas Tote",
                "quantity": 1,
                "unitPrice": 16.0,
            },
        ],
        "requestedShippingService": "UPS Ground",
        "advancedOptions": {"customField1": "od:48211937"},
    }
    body.update(overrides)
    return body


def native_order(key: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "external_key": key,
        "order_number": key.rsplit("-", 1)[-1],
        "ship_to": {
            "name": "Dana Reyes",
            "address1": "1450 Harbor Blvd",
            "city": "Costa Mesa",
            "region": "CA",
            "postal_code": "92626",
            "country": "US",
        },
        "lines": [
            {
                "line_key": "L1",
                "sku": "MUG",
                "name": "Trail Mug",
                "quantity": 2,
                "unit_price": 24.0,
            },
            {"line_key": "L2", "sku": "TOTE", "name": "Canvas Tote", "quantity": 1},
        ],
        "shipping_method": "UPS Ground",
        "metadata": {"source": "test"},
    }
    body.update(overrides)
    return body


class Api:
    """A requests session bound to one simulator's root."""

    def __init__(self, root: str, session: requests.Session) -> None:
        self.root = root
        self.session = session

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.get(self.root + path, timeout=10, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 10)
        return self.session.post(self.root + path, **kwargs)
