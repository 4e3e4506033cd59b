"""The CSV layouts: which logical field lives under which header, and reading/writing rows.

One mapping per store (``columns`` in its config) names the header of each logical field; a
field left out keeps its default header, which is the field's own name (docs/backends.md has
the table). Headers are matched without regard to case or surrounding blanks, because
spreadsheets and WMS exports disagree about both.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from bridge.backends.models import FulfillmentOrder

# The order file's columns, in the order they are written.
ORDER_FIELDS = (
    "order_key",
    "order_number",
    "line_key",
    "sku",
    "name",
    "quantity",
    "unit_price",
    "ship_name",
    "ship_company",
    "ship_address1",
    "ship_address2",
    "ship_address3",
    "ship_city",
    "ship_region",
    "ship_postal_code",
    "ship_country",
    "ship_phone",
    "ship_email",
    "shipping_method",
    "gift_message",
    "notes",
)
SHIPMENT_FIELDS = (
    "order_key",
    "order_number",
    "line_key",
    "sku",
    "quantity",
    "tracking_number",
    "tracking_url",
    "carrier",
    "method",
    "ship_date",
    "voided",
)
INVENTORY_FIELDS = ("sku", "available")
# A cancel request carries the first two; the warehouse's answer adds the third.
CANCEL_FIELDS = ("order_key", "order_number", "cancel_status")
FIELDS = tuple(dict.fromkeys(ORDER_FIELDS + SHIPMENT_FIELDS + INVENTORY_FIELDS + CANCEL_FIELDS))
# Answers that mean the order was cancelled; any other answer is a refusal.
CANCELLED_WORDS = frozenset({"cancelled", "canceled", "yes", "ok", "done"})
# A shipment row whose ``voided`` cell says one of these voids its package's label.
VOID_WORDS = frozenset({"1", "y", "yes", "true", "void", "voided"})
DEFAULT_COLUMNS: Mapping[str, str] = {field: field for field in FIELDS}


@dataclass(frozen=True)
class Problem:
    """A row (or a whole file, line 1) that could not be used, and why."""

    line: int
    reason: str


@dataclass(frozen=True)
class CancelRow:
    """The warehouse's answer to one cancel request."""

    line: int
    order_key: str
    order_number: str
    cancelled: bool


@dataclass(frozen=True)
class ShipmentRow:
    """Units of one order line in one package, as one row of a shipment file says."""

    line: int
    order_key: str
    order_number: str
    line_key: str
    sku: str
    quantity: int
    tracking_number: str
    tracking_url: str
    carrier: str
    service: str
    shipped_at: datetime | None
    voided: bool = False


def order_csv(order: FulfillmentOrder, key: str, columns: Mapping[str, str]) -> bytes:
    """The order file: a header and one row per line, each row carrying the whole order."""
    ship = order.ship_to
    common = {
        "order_key": key,
        "order_number": order.order_number,
        "ship_name": ship.name,
        "ship_company": ship.company,
        "ship_address1": ship.address1,
        "ship_address2": ship.address2,
        "ship_address3": ship.address3,
        "ship_city": ship.city,
        "ship_region": ship.region,
        "ship_postal_code": ship.postal_code,
        "ship_country": ship.country,
        "ship_phone": ship.phone,
        "ship_email": ship.email,
        "shipping_method": order.shipping_method,
        "gift_message": order.gift_message,
        "notes": order.notes,
    }
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([columns[field] for field in ORDER_FIELDS])
    for line in order.lines:
        row = {
            **common,
            "line_key": line.line_key,
            "sku": line.sku,
            "name": line.name,
            "quantity": str(line.quantity),
            "unit_price": f"{line.unit_price:.2f}",
        }
        writer.writerow([row[field] for field in ORDER_FIELDS])
    return out.getvalue().encode("utf-8")


def cancel_csv(key: str, order_number: str, columns: Mapping[str, str]) -> bytes:
    """A cancel request: a header and one row naming the order."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([columns["order_key"], columns["order_number"]])
    writer.writerow([key, order_number])
    return out.getvalue().encode("utf-8")


def _rows(data: bytes, columns: Mapping[str, str]) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, logical field → value) per data row; header names matched loosely."""
    reader = csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""))
    header = next(reader, None)
    if header is None:
        return
    by_header = {name.strip().lower(): index for index, name in enumerate(header)}
    where = {
        field: by_header[name.strip().lower()]
        for field, name in columns.items()
        if name.strip().lower() in by_header
    }
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        values = {field: row[i].strip() if i < len(row) else "" for field, i in where.items()}
        yield reader.line_num, values


def _header(data: bytes) -> set[str]:
    first = data.decode("utf-8-sig").splitlines()[:1]
    return {name.strip().lower() for name in next(csv.reader(first), [])}


def _missing(present: set[str], columns: Mapping[str, str], needed: tuple[str, ...]) -> list[str]:
    return [columns[field] for field in needed if columns[field].strip().lower() not in present]


def _ship_date(value: str) -> datetime | None:
    if not value:
        return None
    if value.isdigit():
        return datetime.fromtimestamp(int(value), UTC)
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_shipments(
    data: bytes, columns: Mapping[str, str]
) -> tuple[list[ShipmentRow], list[Problem]]:
    """The usable rows of a shipment file and a problem per row that is not usable.

    A bad row never stops the rest: it is reported by line number and skipped.
    """
    try:
        present = _header(data)
    except UnicodeDecodeError:
        return [], [Problem(1, "the file is not UTF-8 text")]
    # A file of voids alone needs no sku or quantity; its rows are checked one by one.
    voids = not _missing(present, columns, ("voided",))
    needed = ("tracking_number",) if voids else ("sku", "quantity", "tracking_number")
    missing = _missing(present, columns, needed)
    if len(_missing(present, columns, ("order_key", "order_number"))) == 2:
        missing.append(f"{columns['order_key']} or {columns['order_number']}")
    if missing:
        return [], [Problem(1, f"the header lacks {', '.join(missing)}")]
    rows: list[ShipmentRow] = []
    problems: list[Problem] = []
    for line, values in _rows(data, columns):
        voided = values.get("voided", "").lower() in VOID_WORDS
        reason = _void_problem(values) if voided else _shipment_problem(values)
        if reason:
            problems.append(Problem(line, reason))
            continue
        if voided:
            rows.append(
                ShipmentRow(
                    line=line,
                    order_key=values.get("order_key", ""),
                    order_number=values.get("order_number", ""),
                    line_key="",
                    sku="",
                    quantity=0,
                    tracking_number=values["tracking_number"],
                    tracking_url="",
                    carrier="",
                    service="",
                    shipped_at=None,
                    voided=True,
                )
            )
            continue
        rows.append(
            ShipmentRow(
                line=line,
                order_key=values.get("order_key", ""),
                order_number=values.get("order_number", ""),
                line_key=values.get("line_key", ""),
                sku=values["sku"],
                quantity=int(values["quantity"]),
                tracking_number=values["tracking_number"],
                tracking_url=values.get("tracking_url", ""),
                carrier=values.get("carrier", ""),
                service=values.get("method", ""),
                shipped_at=_ship_date(values.get("ship_date", "")),
            )
        )
    return rows, problems


def _void_problem(values: Mapping[str, str]) -> str:
    if not values.get("order_key") and not values.get("order_number"):
        return "no order key or order number"
    if not values.get("tracking_number"):
        return "a void without a tracking number"
    return ""


def _shipment_problem(values: Mapping[str, str]) -> str:
    if not values.get("order_key") and not values.get("order_number"):
        return "no order key or order number"
    if not values.get("sku"):
        return "no sku"
    if not values.get("tracking_number"):
        return "no tracking number"
    quantity = values.get("quantity", "")
    if not quantity.isdigit() or int(quantity) < 1:
        return f"quantity {quantity!r} is not a whole number above zero"
    try:
        _ship_date(values.get("ship_date", ""))
    except (ValueError, OverflowError):
        return f"ship date {values.get('ship_date')!r} is not a date"
    return ""


def parse_inventory(
    data: bytes, columns: Mapping[str, str]
) -> tuple[dict[str, int], list[Problem]]:
    """Stock per SKU from an inventory file; a SKU listed twice keeps its last level."""
    try:
        missing = _missing(_header(data), columns, INVENTORY_FIELDS)
    except UnicodeDecodeError:
        return {}, [Problem(1, "the file is not UTF-8 text")]
    if missing:
        return {}, [Problem(1, f"the header lacks {', '.join(missing)}")]
    stock: dict[str, int] = {}
    problems: list[Problem] = []
    for line, values in _rows(data, columns):
        available = values.get("available", "").lstrip("-")
        if not values.get("sku") or not available.isdigit():
            problems.append(Problem(line, "needs a sku and a whole number available"))
            continue
        stock[values["sku"]] = int(values["available"])
    return stock, problems


def parse_cancellations(
    data: bytes, columns: Mapping[str, str]
) -> tuple[list[CancelRow], list[Problem]]:
    """The warehouse's answers to cancel requests, one per row."""
    try:
        present = _header(data)
    except UnicodeDecodeError:
        return [], [Problem(1, "the file is not UTF-8 text")]
    missing = _missing(present, columns, ("cancel_status",))
    if len(_missing(present, columns, ("order_key", "order_number"))) == 2:
        missing.append(f"{columns['order_key']} or {columns['order_number']}")
    if missing:
        return [], [Problem(1, f"the header lacks {', '.join(missing)}")]
    rows: list[CancelRow] = []
    problems: list[Problem] = []
    for line, values in _rows(data, columns):
        status = values.get("cancel_status", "").lower()
        if not values.get("order_key") and not values.get("order_number"):
            problems.append(Problem(line, "no order key or order number"))
        elif not status:
            problems.append(Problem(line, "no cancel status"))
        else:
            rows.append(
                CancelRow(
                    line=line,
                    order_key=values.get("order_key", ""),
                    order_number=values.get("order_number", ""),
                    cancelled=status in CANCELLED_WORDS,
                )
            )
    return rows, problems
