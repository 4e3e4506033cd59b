"""ShipStation API v1 ("Legacy"), as far as a warehouse intake uses it.

Faithful where the bridge can trip: Basic auth, upsert by ``orderKey`` that refuses to touch
shipped or cancelled orders, ``createorders`` answering per order inside a 200, Pacific
timestamps and filters, one shipment row per label (so a multi-package order has several),
labels voided in place, externally shipped orders visible only under ``/fulfillments``, and
``pageSize`` above the maximum silently clamped. Error bodies follow ASP.NET Web API's
``{"Message", "ModelState"}`` shape, which is what ShipStation returns.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import uuid4

from flask import Flask, Response, jsonify, request

from bridge.sim.warehouse.faults import RateDecision
from bridge.sim.warehouse.http import SimContext, paginate
from bridge.sim.warehouse.pacific import format_pacific, parse_pacific
from bridge.sim.warehouse.store import PackageSpec, Shipment, StatusPolicy, StoredOrder
from bridge.sim.warehouse.tracking import CARRIERS

OPEN_STATUSES = frozenset(
    {"awaiting_payment", "awaiting_shipment", "on_hold", "pending_fulfillment"}
)
CREATABLE_STATUSES = OPEN_STATUSES | {"cancelled"}
POLICY = StatusPolicy(
    unshipped="awaiting_shipment",
    partial="awaiting_shipment",  # ShipStation keeps a partly shipped order awaiting shipment
    shipped="shipped",
    cancelled="cancelled",
    updatable=OPEN_STATUSES,
    auto_shippable=frozenset({"awaiting_shipment"}),
)
MAX_BULK_ORDERS = 100
INVALID = "The request is invalid."
_ADDRESS_FIELDS = (
    "name",
    "company",
    "street1",
    "street2",
    "street3",
    "city",
    "state",
    "postalCode",
    "country",
    "phone",
    "residential",
)
_ITEM_FIELDS = (
    "lineItemKey",
    "sku",
    "name",
    "imageUrl",
    "weight",
    "quantity",
    "unitPrice",
    "taxAmount",
    "shippingAmount",
    "warehouseLocation",
    "options",
    "productId",
    "fulfillmentSku",
    "adjustment",
    "upc",
)
_ORDER_ECHO_FIELDS = (
    "paymentDate",
    "shipByDate",
    "customerUsername",
    "customerEmail",
    "orderTotal",
    "amountPaid",
    "taxAmount",
    "shippingAmount",
    "customerNotes",
    "internalNotes",
    "gift",
    "giftMessage",
    "paymentMethod",
    "requestedShippingService",
    "carrierCode",
    "serviceCode",
    "packageCode",
    "confirmation",
    "holdUntilDate",
    "weight",
    "dimensions",
    "insuranceOptions",
    "internationalOptions",
    "advancedOptions",
    "tagIds",
)


class Refused(Exception):
    """A 400 in ShipStation's words."""

    def __init__(self, message: str, model_state: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.model_state = model_state

    def body(self) -> dict[str, Any]:
        if self.model_state is None:
            return {"Message": self.message}
        return {"Message": self.message, "ModelState": self.model_state}

    def summary(self) -> str:
        details = [m for messages in (self.model_state or {}).values() for m in messages]
        return " ".join([self.message, *details]) if details else self.message


def _address(raw: Any) -> dict[str, Any]:
    source = raw if isinstance(raw, dict) else {}
    address = {name: source.get(name) for name in _ADDRESS_FIELDS}
    address["addressVerified"] = "Address not yet validated"
    return address


def _int_arg(name: str) -> int | None:
    raw = request.args.get(name)
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except ValueError:
        raise Refused(INVALID, {name: [f"The value '{raw}' is not valid for Int32."]}) from None


def _date_arg(name: str) -> datetime | None:
    raw = request.args.get(name)
    if raw in (None, ""):
        return None
    try:
        return parse_pacific(raw)
    except ValueError:
        raise Refused(INVALID, {name: [f"The value '{raw}' is not valid for DateTime."]}) from None


def _within(moment: datetime | None, start: datetime | None, end: datetime | None) -> bool:
    if start is None and end is None:
        return True
    if moment is None:
        return False
    return (start is None or moment >= start) and (end is None or moment <= end)


class ShipStationApi:
    """Routes and renderings of the "shipstation" kind."""

    policy = POLICY
    default_max_page_size = 500

    def __init__(self, ctx: SimContext) -> None:
        self.ctx = ctx

    # --- refusals (used by the shared plumbing) --------------------------------------------------

    def authenticate(self) -> str | None:
        auth = request.authorization
        if auth is None or auth.type != "basic":
            return None
        user_ok = hmac.compare_digest((auth.username or "").encode(), self.ctx.api_key.encode())
        secret_ok = hmac.compare_digest(
            (auth.password or "").encode(), self.ctx.api_secret.encode()
        )
        return self.ctx.api_key if user_ok and secret_ok else None

    def unauthorized(self) -> Response:
        response = jsonify({"Message": "Authorization has been denied for this request."})
        response.status_code = 401
        response.headers["WWW-Authenticate"] = 'Basic realm="ShipStation"'
        return response

    def rate_headers(self, decision: RateDecision) -> dict[str, str]:
        return {
            "X-Rate-Limit-Limit": str(decision.limit),
            "X-Rate-Limit-Remaining": str(decision.remaining),
            "X-Rate-Limit-Reset": str(decision.reset_seconds),
        }

    def rate_limited(self, decision: RateDecision) -> Response:
        response = jsonify({"message": "Too Many Requests"})
        response.status_code = 429
        return response

    def server_error(self, status: int) -> Response:
        response = jsonify({"Message": "An error has occurred."})
        response.status_code = status
        return response

    # --- facade hooks -----------------------------------------------------------------------------

    def group_packages(self, specs: list[PackageSpec]) -> list[list[PackageSpec]]:
        return [[spec] for spec in specs]  # one label, hence one shipment, per package

    def shipment_ref(self, shipment: Shipment) -> str:
        return str(shipment.id)

    def parse_shipment_ref(self, ref: str) -> int:
        return int(ref)

    # --- routes -----------------------------------------------------------------------------------

    def register(self, app: Flask) -> None:
        app.add_url_rule("/orders/createorder", view_func=self.create_order, methods=["POST"])
        app.add_url_rule("/orders/createorders", view_func=self.create_orders, methods=["POST"])
        app.add_url_rule("/orders", view_func=self.list_orders, methods=["GET"])
        app.add_url_rule("/orders/<int:order_id>", view_func=self.get_order, methods=["GET"])
        app.add_url_rule("/shipments", view_func=self.list_shipments, methods=["GET"])
        app.add_url_rule("/fulfillments", view_func=self.list_fulfillments, methods=["GET"])
        app.add_url_rule("/carriers", view_func=self.list_carriers, methods=["GET"])
        app.register_error_handler(Refused, self._refused)

    @staticmethod
    def _refused(error: Refused) -> tuple[Response, int]:
        return jsonify(error.body()), 400

    def create_order(self) -> Response:
        order = self._upsert(request.get_json(silent=True))
        with self.ctx.store.lock:
            body = self.render_order(order)
        self.ctx.faults.hang_after_store(request.path)
        return jsonify(body)

    def create_orders(self) -> Response:
        orders = request.get_json(silent=True)
        if not isinstance(orders, list):
            raise Refused(INVALID, {"apiOrders": ["An array of orders is required."]})
        if len(orders) > MAX_BULK_ORDERS:
            raise Refused(INVALID, {"apiOrders": [f"At most {MAX_BULK_ORDERS} orders per call."]})
        results = [self._bulk_result(raw) for raw in orders]
        self.ctx.faults.hang_after_store(request.path)
        return jsonify({"hasErrors": any(not r["success"] for r in results), "results": results})

    def _bulk_result(self, raw: Any) -> dict[str, Any]:
        source = raw if isinstance(raw, dict) else {}
        try:
            order = self._upsert(raw)
        except Refused as error:
            return {
                "orderId": 0,
                "orderNumber": source.get("orderNumber"),
                "orderKey": source.get("orderKey"),
                "success": False,
                "errorMessage": error.summary(),
            }
        return {
            "orderId": order.id,
            "orderNumber": order.number,
            "orderKey": order.key,
            "success": True,
            "errorMessage": None,
        }

    def _upsert(self, body: Any) -> StoredOrder:
        self._validate(body)
        key = str(body.get("orderKey") or uuid4().hex)
        status = body["orderStatus"]
        number = str(body["orderNumber"])
        lines = [
            {
                "line_key": item.get("lineItemKey"),
                "sku": item.get("sku"),
                "name": item.get("name"),
                "quantity": item.get("quantity") or 0,
                "unit_price": item.get("unitPrice"),
            }
            for item in body.get("items") or []
        ]
        store = self.ctx.store
        with store.lock:
            existing = store.by_key(key)
            if existing is not None and existing.status not in OPEN_STATUSES:
                raise Refused(
                    f"The order with orderKey '{key}' cannot be updated because its status is "
                    f"'{existing.status}'. Only orders awaiting payment, awaiting shipment, "
                    "pending fulfillment or on hold can be updated."
                )
            if store.refuses((body.get("shipTo") or {}).get("street1")):
                raise Refused(
                    INVALID,
                    {"apiOrder.shipTo.street1": ["The address is not deliverable."]},
                )
            stored = {**body, "orderKey": key}
            if existing is None:
                return store.add(key, number, lines, stored, status)
            return store.replace(existing, number, lines, stored, status)

    @staticmethod
    def _validate(body: Any) -> None:
        if not isinstance(body, dict):
            raise Refused(INVALID, {"apiOrder": ["An order object is required."]})
        errors: dict[str, list[str]] = {}
        number = body.get("orderNumber")
        if number in (None, "") or not isinstance(number, str | int):
            errors["apiOrder.orderNumber"] = ["The orderNumber field is required."]
        elif len(str(number)) > 50:
            errors["apiOrder.orderNumber"] = ["orderNumber cannot be longer than 50 characters."]
        order_date = body.get("orderDate")
        try:
            parse_pacific(str(order_date))
        except ValueError:
            errors["apiOrder.orderDate"] = ["The orderDate field is required (a date)."]
        if body.get("orderStatus") not in CREATABLE_STATUSES:
            errors["apiOrder.orderStatus"] = [
                f"orderStatus must be one of {', '.join(sorted(CREATABLE_STATUSES))}."
            ]
        for name in ("billTo", "shipTo"):
            if not isinstance(body.get(name), dict):
                errors[f"apiOrder.{name}"] = [f"The {name} field is required."]
        country = (
            (body.get("shipTo") or {}).get("country")
            if isinstance(body.get("shipTo"), dict)
            else None
        )
        if country not in (None, "") and (not isinstance(country, str) or len(country) != 2):
            errors["apiOrder.shipTo.country"] = ["country must be a two-letter ISO code."]
        items = body.get("items") or []
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            errors["apiOrder.items"] = ["items must be an array of objects."]
        else:
            for index, item in enumerate(items):
                quantity = item.get("quantity", 0)
                if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 0:
                    errors[f"apiOrder.items[{index}].quantity"] = [
                        "quantity must be a whole number, zero or more."
                    ]
        if errors:
            raise Refused(INVALID, errors)

    def get_order(self, order_id: int) -> Response | tuple[Response, int]:
        with self.ctx.store.lock:
            order = self.ctx.store.get(order_id)
            if order is None:
                return jsonify({"Message": f"Order {order_id} not found."}), 404
            return jsonify(self.render_order(order))

    def list_orders(self) -> Response:
        number = request.args.get("orderNumber")
        status = request.args.get("orderStatus")
        windows = {
            name: (_date_arg(f"{name}Start"), _date_arg(f"{name}End"))
            for name in ("createDate", "modifyDate", "orderDate")
        }
        page, page_size = self._paging()
        with self.ctx.store.lock:
            orders = [
                order
                for order in self.ctx.store.orders()
                # ShipStation's orderNumber filter is a "starts with" search.
                if (not number or order.number.lower().startswith(number.lower()))
                and (not status or order.status == status)
                and all(
                    _within(self._order_moment(order, name), *window)
                    for name, window in windows.items()
                )
            ]
            self._sort(
                orders,
                {"OrderDate": "orderDate", "ModifyDate": "modifyDate", "CreateDate": "createDate"},
                self._order_moment,
            )
            result = paginate(orders, page, page_size)
            return jsonify(
                {
                    "orders": [self.render_order(o) for o in result.items],
                    "total": result.total,
                    "page": result.page,
                    "pages": result.pages,
                }
            )

    @staticmethod
    def _order_moment(order: StoredOrder, name: str) -> datetime | None:
        if name == "createDate":
            return order.created_at
        if name == "modifyDate":
            return order.updated_at
        return parse_pacific(str(order.body["orderDate"]))

    def list_shipments(self) -> Response:
        include_items = request.args.get("includeShipmentItems", "").lower() in ("true", "1")
        return self._list_labels(
            external=False, render=lambda o, s: self._shipment_json(o, s, include_items)
        )

    def list_fulfillments(self) -> Response:
        return self._list_labels(external=True, render=self._fulfillment_json)

    def _list_labels(
        self, *, external: bool, render: Callable[[StoredOrder, Shipment], dict[str, Any]]
    ) -> Response:
        """Shared filters of /shipments and /fulfillments; each row is one label."""
        number = request.args.get("orderNumber")
        order_id = _int_arg("orderId")
        own_id = _int_arg("fulfillmentId" if external else "shipmentId")
        tracking = request.args.get("trackingNumber")
        windows = {
            "created_at": (_date_arg("createDateStart"), _date_arg("createDateEnd")),
            "shipped_at": (_date_arg("shipDateStart"), _date_arg("shipDateEnd")),
            "voided_at": (_date_arg("voidDateStart"), _date_arg("voidDateEnd")),
        }
        page, page_size = self._paging()
        store = self.ctx.store
        with store.lock:
            rows = [
                (store.get(s.order_id), s)
                for s in store.shipments()
                if s.external == external
                and (order_id is None or s.order_id == order_id)
                and (own_id is None or s.id == own_id)
                and (not tracking or s.packages[0].tracking_number == tracking)
                and all(_within(getattr(s, name), *window) for name, window in windows.items())
            ]
            pairs = [
                (o, s) for o, s in rows if o is not None and (not number or o.number == number)
            ]
            self._sort(
                pairs,
                {"ShipDate": "shipped_at", "CreateDate": "created_at"},
                lambda pair, name: getattr(pair[1], name),
            )
            result = paginate(pairs, page, page_size)
            key = "fulfillments" if external else "shipments"
            return jsonify(
                {
                    key: [render(o, s) for o, s in result.items],
                    "total": result.total,
                    "page": result.page,
                    "pages": result.pages,
                }
            )

    def list_carriers(self) -> Response:
        return jsonify(
            [
                {
                    "name": c.name,
                    "code": c.code,
                    "accountNumber": None,
                    "requiresFundedAccount": False,
                    "balance": 0.0,
                    "nickname": None,
                    "shippingProviderId": index + 1,
                    "primary": index == 0,
                }
                for index, c in enumerate(CARRIERS.values())
            ]
        )

    def _paging(self) -> tuple[int, int]:
        page, page_size = _int_arg("page"), _int_arg("pageSize")
        page = 1 if page is None else page
        page_size = 100 if page_size is None else page_size
        if page < 1 or page_size < 1:
            raise Refused(INVALID, {"page": ["page and pageSize must be 1 or more."]})
        return page, min(page_size, self.ctx.max_page_size)

    @staticmethod
    def _sort(items: list[Any], fields: dict[str, str], moment: Callable[[Any, str], Any]) -> None:
        sort_by = request.args.get("sortBy")
        descending = request.args.get("sortDir", "ASC").upper() == "DESC"
        name = fields.get(sort_by or "")
        if name is not None:
            items.sort(key=lambda item: moment(item, name))
        if descending:
            items.reverse()

    # --- renderings -------------------------------------------------------------------------------

    def render_order(self, order: StoredOrder) -> dict[str, Any]:
        body = order.body
        items = []
        for line, raw in zip(order.lines, body.get("items") or [], strict=False):
            item = {name: raw.get(name) for name in _ITEM_FIELDS}
            item["orderItemId"] = line.item_id
            item["createDate"] = format_pacific(order.created_at)
            item["modifyDate"] = format_pacific(order.updated_at)
            items.append(item)
        live = [s for s in order.shipments if not s.voided]
        rendered: dict[str, Any] = {
            "orderId": order.id,
            "orderNumber": order.number,
            "orderKey": order.key,
            "orderDate": format_pacific(parse_pacific(str(body["orderDate"]))),
            "createDate": format_pacific(order.created_at),
            "modifyDate": format_pacific(order.updated_at),
            "orderStatus": order.status,
            "customerId": None,
            "billTo": _address(body.get("billTo")),
            "shipTo": _address(body.get("shipTo")),
            "items": items,
            "shipDate": format_pacific(max(s.shipped_at for s in live)) if live else None,
            "userId": None,
            "externallyFulfilled": any(s.external for s in live),
            "externallyFulfilledBy": "Simulated 3PL" if any(s.external for s in live) else None,
        }
        rendered.update({name: body.get(name) for name in _ORDER_ECHO_FIELDS})
        return rendered

    def _shipment_json(
        self, order: StoredOrder, shipment: Shipment, include_items: bool
    ) -> dict[str, Any]:
        package = shipment.packages[0]
        names = {line.key: line for line in order.lines}
        items = [
            {
                "orderItemId": names[line.key].item_id,
                "lineItemKey": line.line_key,
                "sku": line.sku,
                "name": names[line.key].name,
                "quantity": line.quantity,
                "unitPrice": names[line.key].unit_price,
            }
            for line in shipment.lines()
        ]
        return {
            "shipmentId": shipment.id,
            "orderId": order.id,
            "orderKey": order.key,
            "userId": None,
            "customerEmail": order.body.get("customerEmail"),
            "orderNumber": order.number,
            "createDate": format_pacific(shipment.created_at),
            "shipDate": format_pacific(shipment.shipped_at),
            "shipmentCost": 8.5,
            "insuranceCost": 0.0,
            "trackingNumber": package.tracking_number,
            "isReturnLabel": False,
            "batchNumber": None,
            "carrierCode": shipment.carrier,
            "serviceCode": shipment.service,
            "packageCode": "package",
            "confirmation": "none",
            "warehouseId": None,
            "voided": shipment.voided,
            "voidDate": format_pacific(shipment.voided_at),
            "marketplaceNotified": False,
            "notifyErrorMessage": None,
            "shipTo": _address(order.body.get("shipTo")),
            "weight": {"value": package.weight_oz, "units": "ounces", "WeightUnits": 1},
            "dimensions": None,
            "insuranceOptions": None,
            "advancedOptions": None,
            "shipmentItems": items if include_items else None,
            "labelData": None,
            "formData": None,
        }

    def _fulfillment_json(self, order: StoredOrder, shipment: Shipment) -> dict[str, Any]:
        return {
            "fulfillmentId": shipment.id,
            "orderId": order.id,
            "orderNumber": order.number,
            "userId": None,
            "customerEmail": order.body.get("customerEmail"),
            "trackingNumber": shipment.packages[0].tracking_number,
            "createDate": format_pacific(shipment.created_at),
            "shipDate": format_pacific(shipment.shipped_at),
            "voidDate": format_pacific(shipment.voided_at),
            "deliveryDate": None,
            "carrierCode": shipment.carrier,
            "fulfillmentProviderCode": "simulated_3pl",
            "fulfillmentServiceCode": shipment.service,
            "fulfillmentFee": 0.0,
            "voidRequested": False,
            "voided": shipment.voided,
            "marketplaceNotified": False,
            "notifyErrorMessage": None,
            "shipTo": _address(order.body.get("shipTo")),
        }
