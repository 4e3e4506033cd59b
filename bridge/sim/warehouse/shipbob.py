"""ShipBob's REST API (date-versioned paths: ``/2026-01/order``) as a warehouse intake uses it.

Faithful where the bridge can trip: bearer tokens; order calls that need a ``shipbob_channel_id``
header naming a channel the token has; ``reference_id`` unique in the account, a second create
answered 422 "Duplicate reference ID"; order lists paged with ``Page``/``Limit`` (at most 250)
and the ``total-pages`` headers, filtered by ``IDs`` and ``ReferenceIds`` (comma-separated),
creation date (``StartDate``/``EndDate``, ISO 8601, both ends included), ``HasTracking`` and
``IsTrackingUploaded``; several shipments per order, each with one tracking number and its own
status (Processing, On Hold, Exception, Completed, Cancelled); the batch call that marks tracking
uploaded; a whole-order cancel answering per shipment; inventory levels; and its rate limit:
429 with ``x-retry-after`` and ``x-remaining-calls`` on every answer.

Unshipped units show as one open shipment (its status follows the order's hold, if any), with
an id of its own that the shipments made when units leave never reuse.
"""

from __future__ import annotations

import hmac
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, jsonify, request

from bridge.sim.warehouse.faults import RateDecision
from bridge.sim.warehouse.http import SimContext, paginate
from bridge.sim.warehouse.store import PackageSpec, Shipment, StatusPolicy, StoredOrder

API_VERSIONS = ("1.0", "2.0", "2025-07", "2026-01", "2026-07")
CHANNEL_ID = 4242
CHANNEL_NAME = "Simulated Store"
CHANNEL_HEADER = "shipbob_channel_id"
OPEN_SHIPMENT_BASE = 9_000_000
MAX_LIMIT = 250
HELD = "On Hold"
EXCEPTION = "Exception"
POLICY = StatusPolicy(
    unshipped="Processing",
    partial="PartiallyFulfilled",
    shipped="Fulfilled",
    cancelled="Cancelled",
    updatable=frozenset(),
    auto_shippable=frozenset({"Processing", "PartiallyFulfilled"}),
)
_COUNTRY_LENGTH = 2


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _problem(status: int, message: str, **extra: Any) -> tuple[Response, int]:
    return jsonify({"statusCode": status, "message": message, **extra}), status


class Refused(Exception):
    """A refusal in ShipBob's ``{statusCode, message}`` shape."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _flag(name: str) -> bool | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    return raw.strip().lower() in ("true", "1")


def _ids(name: str) -> set[str] | None:
    raw = request.args.get(name)
    if not raw:
        return None
    return {part.strip() for part in raw.split(",") if part.strip()}


def _moment(name: str) -> datetime | None:
    """A date filter; unreadable ones are refused, as ShipBob refuses them, rather than ignored."""
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        parsed = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        raise Refused(400, f"{name} must be an ISO 8601 date") from None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class ShipBobApi:
    """Routes and renderings of the "shipbob" kind."""

    policy = POLICY
    default_max_page_size = MAX_LIMIT

    def __init__(self, ctx: SimContext) -> None:
        self.ctx = ctx
        self.uploaded: set[int] = set()  # shipment ids whose tracking the merchant has taken
        ctx.store.listeners.append(self._on_change)

    def _on_change(self, kind: str, order: StoredOrder, shipment: Shipment | None) -> None:
        # A cancelled label changes the shipment's tracking: the merchant must hear of it, so it
        # is listed as not uploaded again. Runs under the store lock.
        if kind == "shipment.voided" and shipment is not None:
            self.uploaded.discard(shipment.id)

    # --- refusals ---------------------------------------------------------------------------------

    def authenticate(self) -> str | None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return None
        valid = hmac.compare_digest(token.strip().encode(), self.ctx.api_key.encode())
        return self.ctx.api_key if valid else None

    def unauthorized(self) -> Response:
        response = jsonify({"statusCode": 401, "message": "Unauthorized"})
        response.status_code = 401
        response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
        return response

    def rate_headers(self, decision: RateDecision) -> dict[str, str]:
        headers = {"x-remaining-calls": str(max(decision.remaining, 0))}
        if not decision.allowed:
            headers["x-retry-after"] = str(max(1, decision.reset_seconds))
        return headers

    def rate_limited(self, decision: RateDecision) -> Response:
        response = jsonify({"statusCode": 429, "message": "Too many requests"})
        response.status_code = 429
        return response

    def server_error(self, status: int) -> Response:
        response = jsonify({"statusCode": status, "message": "An unexpected error occurred"})
        response.status_code = status
        return response

    # --- facade hooks -----------------------------------------------------------------------------

    def group_packages(self, specs: list[PackageSpec]) -> list[list[PackageSpec]]:
        return [[spec] for spec in specs]  # one tracking number per ShipBob shipment

    def shipment_ref(self, shipment: Shipment) -> str:
        return str(shipment.id)

    def parse_shipment_ref(self, ref: str) -> int:
        return int(ref)

    # --- routes -----------------------------------------------------------------------------------

    def register(self, app: Flask) -> None:
        rules = (
            ("/channel", self.list_channels, "GET"),
            ("/order", self.create_order, "POST"),
            ("/order", self.list_orders, "GET"),
            ("/order/<int:order_id>", self.get_order, "GET"),
            ("/order/<int:order_id>/shipment", self.list_order_shipments, "GET"),
            ("/order/<int:order_id>:cancel", self.cancel_order, "POST"),
            ("/shipment:batchUpdateTrackingUpload", self.mark_uploaded, "POST"),
            ("/inventory-level", self.inventory_levels, "GET"),
        )
        for version in API_VERSIONS:
            for path, view, method in rules:
                app.add_url_rule(
                    f"/{version}{path}",
                    endpoint=f"{version}{path}:{method}",
                    view_func=view,
                    methods=[method],
                )
        app.register_error_handler(Refused, lambda error: _problem(error.status, error.message))

    def list_channels(self) -> Response:
        return jsonify(
            [
                {
                    "id": CHANNEL_ID,
                    "name": CHANNEL_NAME,
                    "application_name": "SMA",
                    "scopes": ["orders_read", "orders_write", "inventory_read"],
                }
            ]
        )

    @staticmethod
    def _channel() -> tuple[Response, int] | None:
        """Order writes need the channel header, naming a channel of this token."""
        raw = request.headers.get(CHANNEL_HEADER)
        if raw is None:
            return _problem(400, f"The {CHANNEL_HEADER} header is required")
        if raw.strip() != str(CHANNEL_ID):
            return _problem(403, f"No access to channel {raw.strip()[:20]}")
        return None

    def create_order(self) -> Response | tuple[Response, int]:
        refused = self._channel()
        if refused is not None:
            return refused
        body = request.get_json(silent=True)
        fields = self._validate(body)
        if fields:
            return jsonify(fields), 400
        store = self.ctx.store
        address = body["recipient"]["address"]
        if store.poisoned(address.get("address1")):
            return self.server_error(store.poison_status), store.poison_status
        with store.lock:
            key = str(body["reference_id"])
            if store.by_key(key) is not None:
                return _problem(
                    422, "Duplicate reference ID", errors={"reference_id": ["Duplicate"]}
                )
            if store.refuses(address.get("address1")):
                return jsonify({"recipient.address.address1": ["Address is not valid"]}), 400
            lines = [
                {
                    "line_key": product.get("external_line_id"),
                    "sku": product.get("reference_id"),
                    "name": product.get("name"),
                    "quantity": product.get("quantity"),
                    "unit_price": product.get("unit_price"),
                }
                for product in body["products"]
            ]
            number = str(body.get("order_number") or key)
            order = store.add(key, number, lines, body, POLICY.unshipped)
            rendered = self.render_order(order)
        self.ctx.faults.hang_after_store(request.path)
        return jsonify(rendered), 201

    @staticmethod
    def _validate(body: Any) -> dict[str, list[str]]:
        if not isinstance(body, dict):
            return {"order": ["A JSON object is required"]}
        fields: dict[str, list[str]] = {}
        for name in ("reference_id", "shipping_method"):
            value = body.get(name)
            if not isinstance(value, str) or not value.strip():
                fields[name] = [f"The {name} field is required"]
        recipient = body.get("recipient")
        address = recipient.get("address") if isinstance(recipient, dict) else None
        if not isinstance(recipient, dict) or not str(recipient.get("name") or "").strip():
            fields["recipient.name"] = ["The recipient name is required"]
        if not isinstance(address, dict):
            fields["recipient.address"] = ["The recipient address is required"]
        else:
            for name in ("address1", "city", "country"):
                if not str(address.get(name) or "").strip():
                    fields[f"recipient.address.{name}"] = [f"The {name} field is required"]
            country = str(address.get("country") or "")
            if country and len(country) != _COUNTRY_LENGTH:
                fields["recipient.address.country"] = ["Use a two-letter ISO country code"]
        products = body.get("products")
        if not isinstance(products, list) or not products:
            fields["products"] = ["At least one product is required"]
        else:
            for index, product in enumerate(products):
                if not isinstance(product, dict):
                    fields[f"products[{index}]"] = ["A product object is required"]
                    continue
                if not str(product.get("reference_id") or "").strip():
                    fields[f"products[{index}].reference_id"] = ["The SKU is required"]
                quantity = product.get("quantity")
                if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
                    fields[f"products[{index}].quantity"] = ["Quantity must be at least 1"]
        return fields

    def _paging(self) -> tuple[int, int]:
        highest = min(MAX_LIMIT, self.ctx.max_page_size)
        try:
            page = int(request.args.get("Page", 1))
            limit = int(request.args.get("Limit", 50))
        except ValueError:
            raise Refused(400, "Page and Limit must be whole numbers") from None
        if page < 1 or not 1 <= limit <= highest:
            raise Refused(400, f"Page must be 1 or more and Limit between 1 and {highest}")
        return page, limit

    def list_orders(self) -> Response | tuple[Response, int]:
        page, limit = self._paging()
        ids, references = _ids("IDs"), _ids("ReferenceIds")
        has_tracking, uploaded = _flag("HasTracking"), _flag("IsTrackingUploaded")
        start, end = _moment("StartDate"), _moment("EndDate")
        newest_first = request.args.get("SortOrder", "Newest").lower() == "newest"
        with self.ctx.store.lock:
            orders = [
                order
                for order in self.ctx.store.orders()
                if (ids is None or str(order.id) in ids)
                and (references is None or order.key in references)
                and (start is None or order.created_at >= start)
                and (end is None or order.created_at <= end)
                and self._tracking_matches(order, has_tracking, uploaded)
            ]
            orders.sort(key=lambda order: order.id, reverse=newest_first)
            result = paginate(orders, page, limit)
            body = [self.render_order(order) for order in result.items]
        response = jsonify(body)
        response.headers["total-count"] = str(result.total)
        response.headers["total-pages"] = str(result.pages)
        response.headers["page-number"] = str(result.page)
        if result.page < result.pages:
            query = request.args.to_dict() | {"Page": str(result.page + 1)}
            response.headers["next-page"] = (
                request.path + "?" + "&".join(f"{k}={v}" for k, v in query.items())
            )
        return response

    def _tracking_matches(
        self, order: StoredOrder, has_tracking: bool | None, uploaded: bool | None
    ) -> bool:
        tracked = order.shipments  # every stored shipment has tracking, a cancelled one too
        if has_tracking is not None and bool(tracked) != has_tracking:
            return False
        if uploaded is None:
            return True
        return any((s.id in self.uploaded) == uploaded for s in tracked)

    def get_order(self, order_id: int) -> Response | tuple[Response, int]:
        with self.ctx.store.lock:
            order = self.ctx.store.get(order_id)
            if order is None:
                return _problem(404, f"Order {order_id} not found")
            return jsonify(self.render_order(order))

    def list_order_shipments(self, order_id: int) -> Response | tuple[Response, int]:
        with self.ctx.store.lock:
            order = self.ctx.store.get(order_id)
            if order is None:
                return _problem(404, f"Order {order_id} not found")
            return jsonify(self.render_order(order)["shipments"])

    def cancel_order(self, order_id: int) -> Response | tuple[Response, int]:
        refused = self._channel()
        if refused is not None:
            return refused
        store = self.ctx.store
        with store.lock:
            order = store.get(order_id)
            if order is None:
                return _problem(404, f"Order {order_id} not found")
            results = [
                {
                    "action": "Cancel",
                    "is_success": False,
                    "reason": "Shipment is already Completed",
                    "shipment_id": shipment.id,
                }
                for shipment in order.shipments
                if not shipment.voided
            ]
            if order.remaining() or not order.has_shipped():
                already = order.status == POLICY.cancelled
                store.cancel(order)
                results.append(
                    {
                        "action": "Cancel",
                        "is_success": True,
                        "reason": "Shipment was already cancelled" if already else "",
                        "shipment_id": OPEN_SHIPMENT_BASE + order.id,
                    }
                )
            return jsonify(
                {
                    "order_id": order.id,
                    "order": self.render_order(order),
                    "canceled_shipment_results": results,
                }
            )

    def mark_uploaded(self) -> Response | tuple[Response, int]:
        body = request.get_json(silent=True)
        ids = body.get("shipment_ids") if isinstance(body, dict) else None
        flag = body.get("is_tracking_uploaded", True) if isinstance(body, dict) else None
        if not isinstance(ids, list) or not all(isinstance(i, int) for i in ids):
            return jsonify({"shipment_ids": ["A list of shipment ids is required"]}), 400
        if not isinstance(flag, bool):
            return jsonify({"is_tracking_uploaded": ["true or false is required"]}), 400
        store = self.ctx.store
        with store.lock:
            unknown = [i for i in ids if store.shipment(i) is None]
            if unknown:
                return jsonify({"shipment_ids": [f"Unknown shipment ids: {unknown[:10]}"]}), 400
            if flag:
                self.uploaded.update(ids)
            else:
                self.uploaded.difference_update(ids)
        return jsonify({})

    def inventory_levels(self) -> Response | tuple[Response, int]:
        page, limit = self._paging()
        with self.ctx.store.lock:
            levels = sorted(self.ctx.store.inventory.items())
        result = paginate(levels, page, limit)
        items = [
            {
                "inventory_id": 5000 + index,
                "sku": sku,
                "name": sku,
                "total_fulfillable_quantity": available,
                "total_onhand_quantity": available,
                "total_committed_quantity": 0,
            }
            for index, (sku, available) in enumerate(result.items, start=(page - 1) * limit)
        ]
        next_page = f"{request.path}?Page={page + 1}&Limit={limit}" if page < result.pages else None
        return jsonify({"items": items, "next": next_page, "prev": None})

    # --- renderings -------------------------------------------------------------------------------

    def render_order(self, order: StoredOrder) -> dict[str, Any]:
        body = order.body
        shipments = [self._shipment_json(order, shipment) for shipment in order.shipments]
        if order.remaining() or not order.shipments:
            shipments.append(self._open_shipment_json(order))
        return {
            "id": order.id,
            "created_date": _iso(order.created_at),
            "purchase_date": None,
            "reference_id": order.key,
            "order_number": order.number,
            "status": order.status,
            "type": body.get("type") or "DTC",
            "channel": {"id": CHANNEL_ID, "name": CHANNEL_NAME},
            "shipping_method": body.get("shipping_method"),
            "recipient": body.get("recipient"),
            "products": [
                {
                    "id": line.item_id,
                    "reference_id": line.sku,
                    "name": line.name,
                    "quantity": line.quantity,
                    "unit_price": line.unit_price,
                    "external_line_id": line.line_key,
                }
                for line in order.lines
            ],
            "tags": body.get("tags") or [],
            "gift_message": body.get("gift_message"),
            "shipments": shipments,
        }

    def _open_status(self, order: StoredOrder) -> str:
        if order.status in (POLICY.cancelled, HELD, EXCEPTION):
            return order.status
        return "Processing"

    def _open_shipment_json(self, order: StoredOrder) -> dict[str, Any]:
        names = {line.key: line for line in order.lines}
        units = order.remaining() or [(line, line.quantity) for line in order.lines]
        return {
            "id": OPEN_SHIPMENT_BASE + order.id,
            "order_id": order.id,
            "reference_id": order.key,
            "created_date": _iso(order.created_at),
            "last_update_at": _iso(order.updated_at),
            "status": self._open_status(order),
            "status_details": [],
            "location": {"id": 1, "name": "Simulated (IL)"},
            "tracking": None,
            "is_tracking_uploaded": False,
            "products": [
                self._product_json(names[line.key].item_id, line.line_key, line.sku, line.name, n)
                for line, n in units
            ],
            "measurements": None,
            "ship_option": order.body.get("shipping_method"),
        }

    @staticmethod
    def _product_json(
        item_id: int, line_key: str | None, sku: str, name: str, quantity: int
    ) -> dict[str, Any]:
        return {
            "id": item_id,
            "reference_id": sku,
            "name": name,
            "external_line_id": line_key,
            "inventory_items": [{"id": item_id, "name": name, "quantity": quantity}],
        }

    def _shipment_json(self, order: StoredOrder, shipment: Shipment) -> dict[str, Any]:
        package = shipment.packages[0]
        names = {line.key: line for line in order.lines}
        return {
            "id": shipment.id,
            "order_id": order.id,
            "reference_id": order.key,
            "created_date": _iso(shipment.created_at),
            "last_update_at": _iso(shipment.voided_at or shipment.shipped_at),
            "actual_fulfillment_date": _iso(shipment.shipped_at),
            "status": "Cancelled" if shipment.voided else "Completed",
            "status_details": [],
            "location": {"id": 1, "name": "Simulated (IL)"},
            "tracking": {
                "carrier": shipment.carrier,
                "carrier_service": shipment.service,
                "tracking_number": package.tracking_number,
                "tracking_url": package.tracking_url,
                "shipping_date": _iso(shipment.shipped_at),
                "bol": None,
                "pro_number": None,
                "scac": None,
            },
            "is_tracking_uploaded": shipment.id in self.uploaded,
            "products": [
                self._product_json(
                    names[line.key].item_id,
                    line.line_key,
                    line.sku,
                    names[line.key].name,
                    line.quantity,
                )
                for line in shipment.lines()
            ],
            "measurements": {"total_weight_oz": package.weight_oz},
            "ship_option": order.body.get("shipping_method"),
        }
