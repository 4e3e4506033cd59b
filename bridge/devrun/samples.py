"""Demo orders in the shapes Order Desk really sends, varied so a batch looks like real traffic.

Two base shapes copied from the shared fixtures: a typical domestic Shopify order and an
international WooCommerce order with non-ASCII text and a download line mixed in among the
shippable ones. Names, SKUs and quantities vary per order, deterministically from the seed, so a
run can be repeated. Every order is fulfillable: ``bridge dev --once`` expects all of them to end
``shipped``.
"""

from __future__ import annotations

import copy
import random
from typing import Any

TYPICAL: dict[str, Any] = {
    "email": "dana.reyes@example.com",
    "shipping_method": "UPS Ground",
    "quantity_total": 3,
    "weight_total": 2.4,
    "product_total": 64.0,
    "shipping_total": 8.95,
    "handling_total": 0,
    "tax_total": 5.12,
    "discount_total": 6.4,
    "order_total": 71.67,
    "payment_type": "Visa",
    "payment_status": "Captured",
    "customer_id": "88120",
    "source_name": "Shopify",
    "source_id": "5812345678901",
    "shipping": {
        "first_name": "Dana",
        "last_name": "Reyes",
        "company": "",
        "address1": "1450 Harbor Blvd",
        "address2": "Apt 3C",
        "address3": "",
        "address4": "",
        "city": "Costa Mesa",
        "state": "CA",
        "postal_code": "92626",
        "country": "US",
        "phone": "714-555-0182",
    },
    "customer": {
        "first_name": "Dana",
        "last_name": "Reyes",
        "company": "",
        "address1": "1450 Harbor Blvd",
        "address2": "Apt 3C",
        "city": "Costa Mesa",
        "state": "CA",
        "postal_code": "92626",
        "country": "US",
        "phone": "714-555-0182",
    },
    "checkout_data": {"Gift Message": "Happy birthday, Sam!"},
    "order_metadata": {"shopify_order_id": "5812345678901", "currency": "USD"},
    "discount_list": [{"name": "Welcome 10%", "code": "WELCOME10", "amount": "6.40"}],
    "order_notes": [],
    "order_items": [
        {
            "name": "Trail Mug - Slate",
            "price": 24.0,
            "quantity": 2,
            "weight": 0.9,
            "code": "MUG-TRL-SLT",
            "delivery_type": "ship",
            "category_code": "DEFAULT",
            "variation_list": {"Color": "Slate", "Size": "12oz"},
            "metadata": {"image": "https://cdn.example.com/mug.jpg"},
        },
        {
            "name": "Canvas Tote",
            "price": "16",
            "quantity": "1",
            "weight": "0.6",
            "code": "TOTE-CNV-NAT",
            "delivery_type": "ship",
            "category_code": "DEFAULT",
            "variation_list": [],
            "metadata": [],
        },
    ],
    "order_shipments": [],
}

INTERNATIONAL: dict[str, Any] = {
    "email": "müller@example.de",
    "shipping_method": "DHL Express Worldwide",
    "quantity_total": 6,
    "weight_total": 2.6,
    "product_total": 180.0,
    "shipping_total": 8.95,
    "handling_total": 0,
    "tax_total": 5.12,
    "discount_total": 0,
    "order_total": 194.07,
    "payment_type": "Visa",
    "payment_status": "Captured",
    "customer_id": "88121",
    "source_name": "WooCommerce",
    "source_id": "WC-10442",
    "shipping": {
        "first_name": "Jürgen",
        "last_name": "Müller",
        "company": "Müller & Söhne GmbH",
        "address1": "Königstraße 12",
        "address2": "Hinterhaus, 3. OG",
        "address3": "",
        "address4": "",
        "city": "München",
        "state": "BY",
        "postal_code": "80331",
        "country": "Germany",
        "phone": "+49 89 1234567",
    },
    "customer": {
        "first_name": "Jürgen",
        "last_name": "Müller",
        "company": "Müller & Söhne GmbH",
        "address1": "Königstraße 12",
        "address2": "Hinterhaus, 3. OG",
        "city": "München",
        "state": "BY",
        "postal_code": "80331",
        "country": "Germany",
        "phone": "+49 89 1234567",
    },
    "checkout_data": [],
    "order_metadata": {"currency": "EUR"},
    "discount_list": [],
    "order_notes": [],
    "order_items": [
        {
            "name": "Café Grinder — Matte Black",
            "price": "129.00",
            "quantity": 1,
            "weight": "1.8",
            "code": "GRD-MB-01",
            "delivery_type": "ship",
            "category_code": "DEFAULT",
            "variation_list": {"Voltage": "230V"},
            "metadata": {},
        },
        {
            "name": "E-Gift Card",
            "price": "25",
            "quantity": 1,
            "weight": 0,
            "code": "EGIFT-25",
            "delivery_type": "download",
            "category_code": "DEFAULT",
            "variation_list": [],
            "metadata": [],
        },
        {
            "name": "Filter Papers (x100)",
            "price": "6.5",
            "quantity": "4",
            "weight": "0.2",
            "code": "FLT-100",
            "delivery_type": "ship",
            "category_code": "DEFAULT",
            "variation_list": [],
            "metadata": [],
        },
    ],
    "order_shipments": [],
}

# (name, sku, price, weight) of the shippable products demo orders draw from.
CATALOG: tuple[tuple[str, str, str, str], ...] = (
    ("Trail Mug - Slate", "MUG-TRL-SLT", "24.00", "0.9"),
    ("Canvas Tote", "TOTE-CNV-NAT", "16.00", "0.6"),
    ("Café Grinder — Matte Black", "GRD-MB-01", "129.00", "1.8"),
    ("Filter Papers (x100)", "FLT-100", "6.50", "0.2"),
    ("Enamel Camp Plate", "PLT-ENM-WHT", "12.00", "0.5"),
    ("Wool Beanie - Rust", "BNE-WL-RST", "28.00", "0.3"),
    ("Pour-Over Kettle", "KTL-PO-STL", "54.00", "1.4"),
)

DOMESTIC_PEOPLE = (
    ("Dana", "Reyes", "Costa Mesa", "CA", "92626"),
    ("Marcus", "Lee", "Portland", "OR", "97205"),
    ("Aisha", "Khan", "Austin", "TX", "78701"),
    ("Tomás", "García", "Chicago", "IL", "60607"),
    ("Grace", "O'Neill", "Boston", "MA", "02116"),
)
INTERNATIONAL_PEOPLE = (
    ("Jürgen", "Müller", "München", "BY", "80331", "Germany"),
    ("Zoë", "Lefèvre", "Lyon", "", "69002", "France"),
    ("Søren", "Kierkegaard", "København", "", "1050", "Denmark"),
)


def _items(rng: random.Random, keep_download: bool) -> list[dict[str, Any]]:
    items = []
    for name, sku, price, weight in rng.sample(CATALOG, rng.randint(1, 3)):
        items.append(
            {
                "name": name,
                "price": price,
                # Order Desk sends numbers as numbers or strings; keep both in the demo.
                "quantity": rng.choice((1, 2, "3")),
                "weight": weight,
                "code": sku,
                "delivery_type": "ship",
                "category_code": "DEFAULT",
                "variation_list": [],
                "metadata": [],
            }
        )
    if keep_download:
        items.append(copy.deepcopy(INTERNATIONAL["order_items"][1]))
    return items


def _domestic(rng: random.Random, number: int) -> dict[str, Any]:
    order = copy.deepcopy(TYPICAL)
    first, last, city, state, postal = rng.choice(DOMESTIC_PEOPLE)
    for part in ("shipping", "customer"):
        order[part].update(
            first_name=first, last_name=last, city=city, state=state, postal_code=postal
        )
    order["email"] = f"{first.lower()}.{number}@example.com"
    order["source_id"] = f"58123{number:08d}"
    order["order_items"] = _items(rng, keep_download=False)
    return order


def _international(rng: random.Random, number: int) -> dict[str, Any]:
    order = copy.deepcopy(INTERNATIONAL)
    first, last, city, state, postal, country = rng.choice(INTERNATIONAL_PEOPLE)
    for part in ("shipping", "customer"):
        order[part].update(
            first_name=first,
            last_name=last,
            city=city,
            state=state,
            postal_code=postal,
            country=country,
        )
    order["source_id"] = f"WC-{10000 + number}"
    order["order_items"] = _items(rng, keep_download=rng.random() < 0.5)
    return order


def sample_orders(count: int, seed: int = 0) -> list[dict[str, Any]]:
    """``count`` demo orders, about one in four international; the same seed gives the same set."""
    rng = random.Random(seed)
    return [
        _international(rng, number) if number % 4 == 3 else _domestic(rng, number)
        for number in range(1, count + 1)
    ]
