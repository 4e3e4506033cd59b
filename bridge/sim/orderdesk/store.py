"""The data and rules of one simulated Order Desk store, without HTTP and without locking.

The simulator holds one lock around every call into a ``StoreState``; the Flask views turn an
``ApiError`` into Order Desk's envelope. Keeping the rules here lets the Python control API
(``OrderDeskSimulator.create_order`` and friends) and the HTTP API share one implementation.

Where Order Desk's behaviour is undocumented (docs/orderdesk.md#the-simulator) the choices are:

* unknown order, shipment or inventory item: HTTP 404 with ``"Order Not Found"`` and the like;
* malformed input (missing fields, both folder addressing modes, note too long): HTTP 400;
* a repeated shipment (same ``tracking_number`` and ``carrier_code`` on the order): HTTP 200 with
  ``status: "error"``, ``"Shipment Not Added"``, as the docs show;
* ``/batch-shipments`` refuses more than ``MAX_BATCH_SHIPMENTS`` items (production integrators chunk
  at 100; the real limit is unknown);
* date filters on ``/orders`` compare in UTC, the time zone the orders are stored in;
* folder ids are the same in every simulated store, so tests can name them.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
DEFAULT_FOLDERS: dict[int, str] = {
    21654: "New",
    21655: "Prepared",
    21656: "In Process",
    21657: "Closed",
    21658: "Canceled",
}
MAX_NOTE_CHARS = 1800
MAX_BATCH_SHIPMENTS = 100
DEFAULT_LIST_LIMIT = 50
MAX_LIST_LIMIT = 500

_ADDRESS_FILTERS = tuple(
    f"{kind}_{name}"
    for kind in ("customer", "shipping")
    for name in ("first_name", "last_name", "company", "address1", "phone")
)
_EXACT_FILTERS = ("source_id", "source_name", "email", "customer_id")
_SHIPMENT_FIELDS = ("tracking_number", "carrier_code", "shipment_method", "status", "tracking_url")
_TRACKING_URLS = {
    "ups": "https://www.ups.com/track?tracknum={}",
    "usps": "https://tools.usps.com/go/TrackConfirmAction?tLabels={}",
    "fedex": "https://www.fedex.com/fedextrack/?trknbr={}",
    "dhl": "https://www.dhl.com/en/express/tracking.html?AWB={}",
}
_INVENTORY_FIELDS = (
    "name",
    "code",
    "price",
    "cost",
    "weight",
    "stock",
    "location",
    "update_source",
)


class ApiError(Exception):
    """A refusal the API answers with ``status: "error"`` and this message and HTTP status."""

    def __init__(self, message: str, http_status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.http_status = http_status


class NotFound(ApiError, LookupError):
    """Unknown order, shipment or inventory item; a ``LookupError`` for Python callers."""

    def __init__(self, message: str) -> None:
        super().__init__(message, 404)


def now_text() -> str:
    return datetime.now(UTC).strftime(DATE_FORMAT)


def order_key(value: Any) -> str:
    """Order ids arrive as ints, floats or strings; the store keys them as plain digit strings."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _number(value: Any) -> float:
    try:
        return float(str(value).replace(",", "").strip() or 0)
    except ValueError:
        return 0.0


def _money(value: float) -> float:
    return round(value, 2)


def _loose_number(value: Any) -> str:
    """Order Desk returns shipment weights and costs as strings (``"3.55"``)."""
    number = _number(value)
    return str(int(number)) if number.is_integer() else str(number)


def _empty_map(value: Any) -> Any:
    """PHP encodes an empty map as ``[]``; the simulator answers the same way."""
    return [] if value in (None, "", {}, []) else value


def _has_name(address: Any) -> bool:
    if not isinstance(address, dict):
        return False
    return any(
        str(address.get(key) or "").strip() for key in ("first_name", "last_name", "company")
    )


def _day_bounds(value: str, *, end: bool) -> str:
    """A bare date filter covers that whole day."""
    value = value.strip()
    if len(value) == 10:
        return f"{value} 23:59:59" if end else f"{value} 00:00:00"
    return value


def _field(order: Mapping[str, Any], name: str) -> Any:
    if name == "date_modified":
        name = "date_updated"
    if name in order:
        return order[name]
    kind, _, rest = name.partition("_")
    address = order.get(kind)
    if kind in ("customer", "shipping") and isinstance(address, dict):
        return address.get(rest, "")
    return ""


def _sort_key(value: Any) -> tuple[int, float, str]:
    try:
        return (0, float(value), "")
    except (TypeError, ValueError):
        return (1, 0.0, str(value).lower())


def _page(params: Mapping[str, str], default_limit: int) -> tuple[int, int]:
    try:
        limit = int(params.get("limit") or default_limit)
        offset = int(params.get("offset") or 0)
    except ValueError:
        raise ApiError("limit and offset must be whole numbers") from None
    return max(1, min(limit, MAX_LIST_LIMIT)), max(0, offset)


@dataclass
class Ids:
    """Id sequences shared by all stores of one simulator, as Order Desk's ids are global."""

    orders: itertools.count = field(default_factory=lambda: itertools.count(100001))
    items: itertools.count = field(default_factory=lambda: itertools.count(500001))
    shipments: itertools.count = field(default_factory=lambda: itertools.count(700001))
    inventory: itertools.count = field(default_factory=lambda: itertools.count(2501))


@dataclass
class StoreState:
    store_id: str
    api_key: str = field(repr=False)
    name: str
    folders: dict[int, str]
    ids: Ids
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    history: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    inventory: dict[int, dict[str, Any]] = field(default_factory=dict)

    # -- store and folders -------------------------------------------------------------------

    def info(self) -> dict[str, Any]:
        return {
            "id": int(self.store_id) if self.store_id.isdigit() else self.store_id,
            "name": self.name,
            "settings": {
                "app_version": "2",
                "locale_code": "en_US",
                "timezone": "America/Los_Angeles",
                "store_country": "US",
                "date_format": "m/d/Y",
                "short_date_format": "n/j",
                "orders_per_page": "50",
                "normalize_capitalization": "0",
                "auto_update_stock_count": "0",
                "auto_create_inventory_items": "0",
            },
            "folders": {str(folder_id): name for folder_id, name in self.folders.items()},
        }

    def folder_id_named(self, name: str) -> int:
        for folder_id, folder_name in self.folders.items():
            if folder_name == name:
                return folder_id
        raise ApiError(f"Folder Not Found: {name}")

    def folder_name(self, folder_id: Any) -> str:
        try:
            return self.folders.get(int(folder_id), "")
        except (TypeError, ValueError):
            return ""

    # -- orders ------------------------------------------------------------------------------

    def add_order(
        self,
        order: Mapping[str, Any],
        *,
        folder_id: int | None = None,
        date_added: str | None = None,
        validate: bool = False,
    ) -> dict[str, Any]:
        """Store a new order under a fresh internal id and return the stored record."""
        if validate:
            self._validate_order(order)
        order_id = str(next(self.ids.orders))
        stored = self._normalized(order, order_id)
        stored["folder_id"] = self._initial_folder(order, folder_id, strict=validate)
        stored["date_added"] = date_added or now_text()
        stored["date_updated"] = stored["date_added"]
        stored["order_shipments"] = []
        self.orders[order_id] = stored
        self.history[order_id] = []
        return stored

    def get_order(self, order_id: Any) -> dict[str, Any]:
        order = self.orders.get(order_key(order_id))
        if order is None:
            raise NotFound("Order Not Found")
        return order

    def order_with_history(self, order_id: Any) -> dict[str, Any]:
        order = dict(self.get_order(order_id))
        order["order_history"] = list(self.history.get(order["id"], []))
        return order

    def replace_order(self, order_id: Any, body: Mapping[str, Any]) -> dict[str, Any]:
        """Full replacement: whatever is left out is blanked; id, folder and shipments stay."""
        current = self.get_order(order_id)
        self._validate_order(body)
        stored = self._normalized(body, current["id"])
        for kept in ("folder_id", "date_added", "order_shipments"):
            stored[kept] = current[kept]
        stored["date_updated"] = now_text()
        self.orders[current["id"]] = stored
        return stored

    def delete_order(self, order_id: Any) -> str:
        order = self.get_order(order_id)
        del self.orders[order["id"]]
        self.history.pop(order["id"], None)
        return order["id"]

    def list_orders(self, params: Mapping[str, str]) -> dict[str, Any]:
        orders = list(self.orders.values())
        if params.get("folder_id"):
            try:
                wanted = {int(part) for part in params["folder_id"].split(",") if part.strip()}
            except ValueError:
                raise ApiError("folder_id must be a comma-separated list of ids") from None
            orders = [order for order in orders if int(order["folder_id"]) in wanted]
        if params.get("folder_name"):
            folder_id = self.folder_id_named(params["folder_name"])
            orders = [order for order in orders if int(order["folder_id"]) == folder_id]
        for name in _EXACT_FILTERS:
            if params.get(name):
                orders = [o for o in orders if str(o.get(name) or "") == params[name]]
        for name in _ADDRESS_FILTERS:
            if params.get(name):
                wanted_text = params[name].strip().lower()
                orders = [o for o in orders if str(_field(o, name)).strip().lower() == wanted_text]
        for prefix, column in (("search", "date_added"), ("modified", "date_updated")):
            if start := params.get(f"{prefix}_start_date"):
                bound = _day_bounds(start, end=False)
                orders = [order for order in orders if order[column] >= bound]
            if end := params.get(f"{prefix}_end_date"):
                bound = _day_bounds(end, end=True)
                orders = [order for order in orders if order[column] <= bound]

        order_by = params.get("order_by") or "date_added"
        descending = (params.get("order") or "DESC").upper() != "ASC"
        orders.sort(
            key=lambda o: (_sort_key(_field(o, order_by)), int(o["id"])), reverse=descending
        )
        limit, offset = _page(params, DEFAULT_LIST_LIMIT)
        page = orders[offset : offset + limit]
        if params.get("get_order_history") == "1":
            page = [self.order_with_history(order["id"]) for order in page]
        return {
            "total_records": len(orders),
            "records_returned": len(page),
            "offset": offset,
            "limit": limit,
            "orders": page,
        }

    def move_orders(self, body: Mapping[str, Any]) -> tuple[str, list[dict[str, Any]]]:
        ids = body.get("order_id_list")
        if isinstance(ids, (str, int)):
            ids = [ids]
        if not isinstance(ids, list) or not ids:
            raise ApiError("order_id_list is required")
        has_id = body.get("destination_folder_id") not in (None, "")
        has_name = body.get("destination_folder_name") not in (None, "")
        if has_id == has_name:
            raise ApiError("Send destination_folder_id or destination_folder_name, not both")
        if has_id:
            try:
                folder_id = int(body["destination_folder_id"])
            except (TypeError, ValueError):
                raise ApiError("destination_folder_id must be a folder id") from None
            if folder_id not in self.folders:
                raise ApiError(f"Folder Not Found: {folder_id}")
        else:
            folder_id = self.folder_id_named(str(body["destination_folder_name"]))
        folder_name = self.folders[folder_id]

        results = []
        for raw_id in ids:
            order = self.orders.get(order_key(raw_id))
            if order is None:
                results.append({"order_id": raw_id, "message": "Order Not Found"})
                continue
            original = int(order["folder_id"])
            order["folder_id"] = folder_id
            order["date_updated"] = now_text()
            self._note(
                order["id"],
                f"Order moved from {self.folders.get(original, original)} to {folder_name}",
                "API",
            )
            results.append(
                {
                    "order_id": raw_id,
                    "message": f"Order Moved to {folder_name} Folder",
                    "original_folder_id": original,
                }
            )
        moved = sum(1 for result in results if "original_folder_id" in result)
        return f"{moved} Orders Moved", results

    def add_history(self, order_id: Any, note: Any, source_name: Any = None) -> dict[str, Any]:
        order = self.get_order(order_id)
        if not isinstance(note, str) or not note.strip():
            raise ApiError("note is required")
        if len(note) > MAX_NOTE_CHARS:
            raise ApiError(f"note is longer than {MAX_NOTE_CHARS} characters")
        self._note(order["id"], note, str(source_name or "API"))
        order["date_updated"] = now_text()
        return self.order_with_history(order["id"])

    # -- shipments ---------------------------------------------------------------------------

    def shipment(self, order_id: Any, shipment_id: Any) -> dict[str, Any]:
        for shipment in self.get_order(order_id)["order_shipments"]:
            if shipment["id"] == order_key(shipment_id):
                return shipment
        raise NotFound("Shipment Not Found")

    def add_shipment(self, order_id: Any, body: Mapping[str, Any]) -> dict[str, Any]:
        """Record one shipment; a repeat of the same tracking number and carrier is refused."""
        order = self.get_order(order_id)
        if not isinstance(body, Mapping):
            raise ApiError("Shipment Not Added")
        tracking = str(body.get("tracking_number") or "").strip()
        if not tracking:
            raise ApiError("tracking_number is required")
        carrier = str(body.get("carrier_code") or "").strip()
        for existing in order["order_shipments"]:
            if existing["tracking_number"] == tracking and existing["carrier_code"] == carrier:
                raise ApiError("Shipment Not Added", 200)
        items = body.get("order_items")
        shipment = {
            "id": str(next(self.ids.shipments)),
            "order_id": order["id"],
            "store_id": self.store_id,
            "tracking_number": tracking,
            "carrier_code": carrier,
            "shipment_method": str(body.get("shipment_method") or ""),
            "weight": _loose_number(body.get("weight")),
            "cost": _loose_number(body.get("cost")),
            "status": str(body.get("status") or ""),
            "tracking_url": str(body.get("tracking_url") or "") or _tracking_url(carrier, tracking),
            "label_format": "",
            "label_image": "",
            "print_status": "0",
            "order_items": items if isinstance(items, list) and items else "",
            "cart_shipment_id": "",
            "label_shipment_id": "",
            "date_shipped": str(body.get("date_shipped") or now_text()[:10]),
            "date_added": now_text(),
        }
        order["order_shipments"].append(shipment)
        order["date_updated"] = now_text()
        return shipment

    def update_shipment(
        self, order_id: Any, shipment_id: Any, body: Mapping[str, Any]
    ) -> dict[str, Any]:
        shipment = self.shipment(order_id, shipment_id)
        if not str(body.get("tracking_number") or "").strip():
            raise ApiError("tracking_number is required")
        for name in _SHIPMENT_FIELDS:
            if name in body:
                shipment[name] = str(body[name] or "")
        for name in ("weight", "cost"):
            if name in body:
                shipment[name] = _loose_number(body[name])
        self.get_order(order_id)["date_updated"] = now_text()
        return shipment

    def delete_shipment(self, order_id: Any, shipment_id: Any) -> str:
        order = self.get_order(order_id)
        shipment = self.shipment(order_id, shipment_id)
        order["order_shipments"].remove(shipment)
        order["date_updated"] = now_text()
        return shipment["id"]

    def batch_shipments(self, items: Any) -> list[dict[str, Any]]:
        if not isinstance(items, list):
            raise ApiError("Send a JSON array of shipments")
        if len(items) > MAX_BATCH_SHIPMENTS:
            raise ApiError(f"At most {MAX_BATCH_SHIPMENTS} shipments per request")
        results = []
        for item in items:
            raw_id = item.get("order_id") if isinstance(item, Mapping) else None
            try:
                shipment = self.add_shipment(raw_id, item)
            except ApiError as exc:
                message = exc.message if isinstance(exc, NotFound) else "Shipment Not Added"
                results.append({"status": "error", "message": message, "order_id": raw_id})
                continue
            results.append(
                {
                    "status": "success",
                    "message": "Shipment Added",
                    "shipment_id": shipment["id"],
                    "order_id": raw_id,
                }
            )
        return results

    # -- inventory ---------------------------------------------------------------------------

    def list_inventory(self, params: Mapping[str, str]) -> dict[str, Any]:
        items = sorted(self.inventory.values(), key=lambda item: item["id"])
        if params.get("code"):
            items = [item for item in items if item["code"] == params["code"]]
        limit, offset = _page(params, DEFAULT_LIST_LIMIT)
        page = items[offset : offset + limit]
        return {
            "records_returned": len(page),
            "total_records": str(len(items)),
            "inventory_items": page,
        }

    def inventory_item(self, item_id: Any) -> dict[str, Any]:
        try:
            item = self.inventory.get(int(item_id))
        except (TypeError, ValueError):
            item = None
        if item is None:
            raise NotFound("Inventory Item Not Found")
        return item

    def add_inventory(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self._validate_inventory(body)
        if any(item["code"] == str(body["code"]) for item in self.inventory.values()):
            raise ApiError(f"Inventory Item Not Added: code {body['code']} already exists")
        item_id = next(self.ids.inventory)
        stamp = now_text()
        item = {"id": item_id, **self._inventory_fields(body), "date_added": stamp}
        item["date_updated"] = stamp
        self.inventory[item_id] = item
        return item

    def replace_inventory(self, item_id: Any, body: Mapping[str, Any]) -> dict[str, Any]:
        """Like Order Desk: every field is replaced, an omitted one is blanked."""
        item = self.inventory_item(item_id)
        self._validate_inventory(body)
        item.update(self._inventory_fields(body))
        item["date_updated"] = now_text()
        return item

    def delete_inventory(self, item_id: Any) -> int:
        item = self.inventory_item(item_id)
        del self.inventory[item["id"]]
        return item["id"]

    def batch_inventory(self, items: Any) -> list[dict[str, Any]]:
        """Update each item found by ``id`` or else ``code``; only the fields sent change."""
        if not isinstance(items, list):
            raise ApiError("Send a JSON array of inventory items")
        results = []
        for entry in items:
            entry = entry if isinstance(entry, Mapping) else {}
            found = self._find_inventory(entry)
            if found is None:
                results.append(
                    {
                        "status": "error",
                        "message": "Inventory Item Not Found",
                        "id": entry.get("id"),
                        "code": entry.get("code"),
                    }
                )
                continue
            for name in (*_INVENTORY_FIELDS, "metadata"):
                if name in entry and name != "code":
                    found[name] = entry[name]
            found["date_updated"] = now_text()
            results.append(
                {
                    "status": "success",
                    "message": "Inventory Item Updated",
                    "id": found["id"],
                    "code": found["code"],
                }
            )
        return results

    # -- helpers -----------------------------------------------------------------------------

    def _normalized(self, order: Mapping[str, Any], order_id: str) -> dict[str, Any]:
        stored = copy.deepcopy(dict(order))
        stored["id"] = order_id
        if not str(stored.get("source_id") or "").strip():
            stored["source_id"] = order_id
        stored["source_name"] = stored.get("source_name") or "Order Desk"
        stored["payment_status"] = stored.get("payment_status") or "Captured"
        # Order Desk copies a missing address from the other one (present-but-empty stays empty).
        if not stored.get("shipping") and isinstance(stored.get("customer"), dict):
            stored["shipping"] = dict(stored["customer"])
        if not stored.get("customer") and isinstance(stored.get("shipping"), dict):
            stored["customer"] = dict(stored["shipping"])
        items = stored.get("order_items")
        items = items if isinstance(items, list) else []
        stored["order_items"] = [self._item(item) for item in items if isinstance(item, dict)]
        for name in ("checkout_data", "order_metadata"):
            stored[name] = _empty_map(stored.get(name))
        stored.setdefault("discount_list", [])
        stored.setdefault("order_notes", [])
        self._fill_totals(stored)
        return stored

    def _item(self, item: dict[str, Any]) -> dict[str, Any]:
        item = dict(item)
        if not str(item.get("id") or "").strip():
            item["id"] = str(next(self.ids.items))
        item.setdefault("quantity", 1)
        item.setdefault("price", 0)
        item["delivery_type"] = item.get("delivery_type") or "ship"
        for name in ("variation_list", "metadata"):
            item[name] = _empty_map(item.get(name))
        return item

    @staticmethod
    def _fill_totals(order: dict[str, Any]) -> None:
        """Totals are read-only in Order Desk: computed when the sender left them out."""
        items = order["order_items"]
        product = sum(_number(i.get("price")) * _number(i.get("quantity")) for i in items)
        order.setdefault("quantity_total", int(sum(_number(i.get("quantity")) for i in items)))
        order.setdefault(
            "weight_total",
            _money(sum(_number(i.get("weight")) * _number(i.get("quantity")) for i in items)),
        )
        order.setdefault("product_total", _money(product))
        for name in ("shipping_total", "handling_total", "tax_total", "discount_total"):
            order.setdefault(name, 0)
        order.setdefault(
            "order_total",
            _money(
                product
                + _number(order["shipping_total"])
                + _number(order["handling_total"])
                + _number(order["tax_total"])
                - _number(order["discount_total"])
            ),
        )
        order.setdefault("processor_balance", order["order_total"])

    def _initial_folder(
        self, order: Mapping[str, Any], folder_id: int | None, *, strict: bool
    ) -> int:
        if folder_id is not None:
            return folder_id
        given = order.get("folder_id")
        if given not in (None, ""):
            try:
                if int(given) in self.folders:
                    return int(given)
            except (TypeError, ValueError):
                pass
            if strict:
                raise ApiError(f"Folder Not Found: {given}")
        return next(iter(self.folders))

    @staticmethod
    def _validate_order(order: Any) -> None:
        if not isinstance(order, Mapping):
            raise ApiError("Send the order as a JSON object")
        items = order.get("order_items")
        if not isinstance(items, list) or not items:
            raise ApiError("Order Not Created: order_items are required")
        if not (_has_name(order.get("customer")) or _has_name(order.get("shipping"))):
            raise ApiError("Order Not Created: a name or company is required")

    def _note(self, order_id: str, note: str, source_name: str) -> None:
        self.history[order_id].append(
            {"source_name": source_name, "note": note, "date_added": now_text()}
        )

    @staticmethod
    def _validate_inventory(body: Any) -> None:
        if not isinstance(body, Mapping):
            raise ApiError("Send the inventory item as a JSON object")
        if not str(body.get("name") or "").strip() or not str(body.get("code") or "").strip():
            raise ApiError("Inventory items need a name and a code")

    @staticmethod
    def _inventory_fields(body: Mapping[str, Any]) -> dict[str, Any]:
        fields: dict[str, Any] = {name: body.get(name, "") for name in _INVENTORY_FIELDS}
        fields["code"] = str(fields["code"])
        fields["stock"] = body.get("stock", 0)
        fields["metadata"] = _empty_map(body.get("metadata"))
        return fields

    def _find_inventory(self, entry: Mapping[str, Any]) -> dict[str, Any] | None:
        if entry.get("id") not in (None, ""):
            try:
                return self.inventory.get(int(entry["id"]))
            except (TypeError, ValueError):
                return None
        code = str(entry.get("code") or "")
        return next(
            (item for item in self.inventory.values() if code and item["code"] == code), None
        )


def _tracking_url(carrier: str, tracking: str) -> str:
    """Order Desk guesses a tracking URL from the carrier when none is sent."""
    template = _TRACKING_URLS.get(carrier.lower())
    return template.format(tracking) if template and tracking.lower() != "n/a" else ""
