"""The column layout: the documented default, a store's own mapping, and loose header matching."""

from __future__ import annotations

import csv
import io

from bridge.backends.file_drop.columns import (
    DEFAULT_COLUMNS,
    ORDER_FIELDS,
    order_csv,
    parse_shipments,
)
from bridge.backends.file_drop.config import FileDropConfig
from bridge.backends.models import NormalizedStatus
from tests.backends.conftest import make_order
from tests.backends.file_drop.conftest import Drop

KEY = "od-700700-1001"


def test_the_default_layout_is_the_field_names() -> None:
    config = FileDropConfig(outbox="/o", inbox="/i", archive="/a")
    assert config.columns == dict(DEFAULT_COLUMNS)
    header = next(csv.reader(io.StringIO(order_csv(make_order(), KEY, config.columns).decode())))
    assert header == list(ORDER_FIELDS)


def test_a_partial_mapping_keeps_the_defaults_for_the_rest() -> None:
    config = FileDropConfig(
        outbox="/o", inbox="/i", archive="/a", columns={"sku": "Item Code", "quantity": "Qty"}
    )
    assert config.columns["sku"] == "Item Code" and config.columns["order_key"] == "order_key"
    rows = list(csv.DictReader(io.StringIO(order_csv(make_order(), KEY, config.columns).decode())))
    assert [(r["Item Code"], r["Qty"]) for r in rows] == [("MUG", "2"), ("TOTE", "1")]


def test_headers_match_regardless_of_case_and_blanks() -> None:
    columns = {**DEFAULT_COLUMNS, "tracking_number": "Tracking #"}
    data = b"\xef\xbb\xbf ORDER_KEY ,Sku,QUANTITY, tracking # \r\nod-1-2,MUG,2,T1\r\n"
    rows, problems = parse_shipments(data, columns)
    assert problems == []
    assert [(r.order_key, r.sku, r.quantity, r.tracking_number) for r in rows] == [
        ("od-1-2", "MUG", 2, "T1")
    ]


def test_a_store_mapping_reads_the_warehouses_own_headers(local_drop: Drop) -> None:
    mapping = {
        "order_key": "Reference",
        "sku": "Item",
        "quantity": "Shipped Qty",
        "tracking_number": "Tracking",
        "carrier": "Carrier Name",
        "method": "Service Level",
        "ship_date": "Shipped On",
    }
    with local_drop.backend(columns=mapping) as backend:
        backend.submit(make_order("1001"), KEY)
        written = (local_drop.outbox / f"ord_{KEY}.csv").read_text().splitlines()[0]
        assert written.startswith("Reference,order_number,line_key,Item,name,Shipped Qty")
        local_drop.warehouse.drop(
            "SHP-0001.CSV",
            "Reference,Item,Shipped Qty,Tracking,Carrier Name,Service Level,Shipped On\n"
            f"{KEY},MUG,2,T1,USPS,Priority,2026-12-01 09:30\n"
            f"{KEY},TOTE,1,T1,USPS,Priority,2026-12-01 09:30\n",
        )
        (remote,) = backend.changes_since(None).orders
    assert remote.status is NormalizedStatus.SHIPPED
    (shipment,) = remote.shipments
    assert (shipment.carrier, shipment.service) == ("USPS", "Priority")
    assert shipment.shipped_at is not None and shipment.shipped_at.hour == 9
