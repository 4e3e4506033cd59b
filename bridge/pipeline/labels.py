"""Warehouse carrier and service codes → the words Order Desk and the merchant's cart expect.

Order Desk guesses the tracking URL from ``carrier_code`` (docs/orderdesk.md#shipments), so the code
must be the carrier's common name ("UPS", "FedEx", "USPS"), not a warehouse's internal slug
("ups_walleted", "stamps_com"). Unknown values pass through unchanged.
"""

from __future__ import annotations

CARRIERS = {
    "ups": "UPS",
    "ups_walleted": "UPS",
    "fedex": "FedEx",
    "usps": "USPS",
    "stamps_com": "USPS",
    "endicia": "USPS",
    "dhl": "DHL",
    "dhl_express": "DHL",
    "dhl_express_worldwide": "DHL",
    "ontrac": "OnTrac",
    "canada_post": "Canada Post",
    "royal_mail": "Royal Mail",
}


def carrier_code(carrier: str) -> str:
    key = carrier.strip().lower()
    return CARRIERS.get(key, carrier.strip())


def shipment_method(carrier: str, service: str) -> str:
    """``ups_ground`` → ``Ground``: the service without the carrier prefix, in words."""
    words = service.strip()
    prefix = carrier.strip().lower() + "_"
    if words.lower().startswith(prefix):
        words = words[len(prefix) :]
    if "_" in words or words.islower():
        words = " ".join(part.capitalize() for part in words.replace("_", " ").split())
    return words
