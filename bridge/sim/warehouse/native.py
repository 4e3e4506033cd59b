"""The "simulated" kind: our own zero-configuration warehouse API that ``bridge dev`` uses.

It is deliberately the opposite of ShipStation where the bridge must cope with both: bearer auth,
duplicates REJECTED with 409 (carrying the existing order, so the client can adopt it), field
errors as 422, and an append-only event feed with a strictly increasing ``seq`` as the change
cursor instead of date windows. One shipment may hold several packages.
"""

from __future__ import annotations

import hmac
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, jsonify, request

from bridge.sim.warehouse.faults import RateDecision
from bridge.sim.warehouse.http import SimContext
from bridge.sim.warehouse.store import PackageSpec, Shipment, StatusPolicy, StoredOrder

POLICY = StatusPolicy(
    unshipped="received",
    partial="partially_shipped",
    shipped="shipped",
    cancelled="cancelled",
    updatable=frozenset(),
    auto_shippable=frozenset({"received", "picking", "packed", "partially_shipped"}),
)
_SHIP_TO_FIELDS = (
    "name",
    "company",
    "address1",
    "address2",
    "address3",
    "city",
    "region",
    "postal_code",
    "country",
    "phone",
    "email",
)


def _iso(moment: datetime | None) -> str | None:
    return (
        None if moment is None else moment.isoformat(timespec="microseconds").replace("+00:00", "Z")
    )


def _iso_arg(name: str) -> datetime | None:
    raw = request.args.get(name)
    if not raw:
        return None
    moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _error(status: int, body: dict[str, Any]) -> tuple[Response, int]:
    return jsonify(body), status


class NativeApi:
    """Routes, renderings and the event feed of the "simulated" kind."""

    policy = POLICY
    default_max_page_size = 100

    def __init__(self, ctx: SimContext) -> None:
        self.ctx = ctx
        self.events: list[dict[str, Any]] = []
        ctx.store.listeners.append(self._record_event)

    def _record_event(self, kind: str, order: StoredOrder, shipment: Shipment | None) -> None:
        # Runs under the store lock, so seq follows the order in which changes happened.
        self.events.append(
            {
                "seq": len(self.events) + 1,
                "type": kind,
                "at": _iso(order.updated_at),
                "order": self.render_order(order),
            }
        )

    # --- refusals ---------------------------------------------------------------------------------

    def authenticate(self) -> str | None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return None
        valid = hmac.compare_digest(token.strip().encode(), self.ctx.api_key.encode())
        return self.ctx.api_key if valid else None

    def unauthorized(self) -> Response:
        response = jsonify({"error": "unauthorized"})
        response.status_code = 401
        response.headers["WWW-Authenticate"] = "Bearer"
        return response

    def rate_headers(self, decision: RateDecision) -> dict[str, str]:
        return {} if decision.allowed else {"Retry-After": str(max(1, decision.reset_seconds))}

    def rate_limited(self, decision: RateDecision) -> Response:
        response = jsonify({"error": "rate_limited"})
        response.status_code = 429
        return response

    def server_error(self, status: int) -> Response:
        response = jsonify({"error": "internal"})
        response.status_code = status
        return response

    # --- facade hooks -----------------------------------------------------------------------------

    def group_packages(self, specs: list[PackageSpec]) -> list[list[PackageSpec]]:
        return [specs]  # one shipment carrying every package

    def shipment_ref(self, shipment: Shipment) -> str:
        return f"sh_{shipment.id:06d}"

    def parse_shipment_ref(self, ref: str) -> int:
        return int(ref.removeprefix("sh_"))

    # --- routes -----------------------------------------------------------------------------------

    def register(self, app: Flask) -> None:
        app.add_url_rule("/v1/health", view_func=self.health, methods=["GET"])
        app.add_url_rule("/v1/orders", view_func=self.create_order, methods=["POST"])
        app.add_url_rule("/v1/orders", view_func=self.list_orders, methods=["GET"])
        app.add_url_rule("/v1/orders/<order_ref>", view_func=self.get_order, methods=["GET"])
        app.add_url_rule(
            "/v1/orders/<order_ref>/cancel", view_func=self.cancel_order, methods=["POST"]
        )
        app.add_url_rule("/v1/events", view_func=self.list_events, methods=["GET"])
        app.add_url_rule("/v1/inventory", view_func=self.inventory, methods=["GET"])

    def health(self) -> Response:
        return jsonify({"ok": True})

    def create_order(self) -> Response | tuple[Response, int]:
        body = request.get_json(silent=True)
        fields = self._validate(body)
        if fields:
            return _error(422, {"error": "validation", "fields": fields})
        store = self.ctx.store
        if store.poisoned(body["ship_to"].get("address1")):
            return _error(store.poison_status, {"error": "internal error"})
        with store.lock:
            existing = store.by_key(body["external_key"])
            if existing is not None:
                return _error(409, {"error": "duplicate", "order": self.render_order(existing)})
            if store.refuses(body["ship_to"].get("address1")):
                return _error(
                    422,
                    {
                        "error": "validation",
                        "fields": {"ship_to.address1": "address not deliverable"},
                    },
                )
            order = store.add(
                body["external_key"],
                str(body["order_number"]),
                body["lines"],
                body,
                POLICY.unshipped,
            )
            rendered = self.render_order(order)
        self.ctx.faults.hang_after_store(request.path)
        return _error(201, {"order": rendered})

    @staticmethod
    def _validate(body: Any) -> dict[str, str]:
        if not isinstance(body, dict):
            return {"body": "must be a JSON object"}
        fields: dict[str, str] = {}
        for name in ("external_key", "order_number"):
            value = body.get(name)
            if not isinstance(value, str) or not value.strip():
                fields[name] = "required"
            elif len(value) > 100:
                fields[name] = "at most 100 characters"
        ship_to = body.get("ship_to")
        if not isinstance(ship_to, dict):
            fields["ship_to"] = "required"
        else:
            for name in ("name", "address1", "city", "country"):
                if not isinstance(ship_to.get(name), str) or not ship_to[name].strip():
                    fields[f"ship_to.{name}"] = "required"
            country = ship_to.get("country")
            if isinstance(country, str) and country.strip() and len(country) != 2:
                fields["ship_to.country"] = "ISO 3166-1 alpha-2 code expected"
        lines = body.get("lines")
        if not isinstance(lines, list) or not lines:
            fields["lines"] = "at least one line required"
        else:
            for index, line in enumerate(lines):
                if not isinstance(line, dict):
                    fields[f"lines[{index}]"] = "must be an object"
                    continue
                if not isinstance(line.get("sku"), str) or not line["sku"].strip():
                    fields[f"lines[{index}].sku"] = "required"
                quantity = line.get("quantity")
                if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
                    fields[f"lines[{index}].quantity"] = "a whole number of at least 1"
        metadata = body.get("metadata")
        if metadata is not None and not isinstance(metadata, dict):
            fields["metadata"] = "must be an object"
        return fields

    def list_orders(self) -> Response | tuple[Response, int]:
        """By key or number (all matches), or a page of the orders created in a window.

        ``created_since`` / ``created_until`` (ISO 8601) with ``page`` (from 1) and ``limit``
        list in creation order, ``has_more`` saying whether another page follows.
        """
        key = request.args.get("external_key")
        number = request.args.get("order_number")
        try:
            since = _iso_arg("created_since")
            until = _iso_arg("created_until")
            page = int(request.args.get("page", 1))
            limit = int(request.args.get("limit", self.ctx.max_page_size))
        except ValueError:
            return _error(
                400, {"error": "validation", "fields": {"page": "bad page, limit or date"}}
            )
        if page < 1 or not 1 <= limit <= self.ctx.max_page_size:
            return _error(
                400,
                {
                    "error": "validation",
                    "fields": {"limit": f"must be between 1 and {self.ctx.max_page_size}"},
                },
            )
        paged = "page" in request.args or since is not None or until is not None
        with self.ctx.store.lock:
            matches = [
                order
                for order in self.ctx.store.orders()
                if (key is None or order.key == key)
                and (number is None or order.number == number)
                and (since is None or order.created_at >= since)
                and (until is None or order.created_at <= until)
            ]
            if not paged:
                return jsonify({"orders": [self.render_order(order) for order in matches]})
            matches.sort(key=lambda order: (order.created_at, order.id))
            start = (page - 1) * limit
            chunk = matches[start : start + limit]
            return jsonify(
                {
                    "orders": [self.render_order(order) for order in chunk],
                    "page": page,
                    "has_more": len(matches) > start + limit,
                }
            )

    def _find(self, order_ref: str) -> StoredOrder | None:
        number = order_ref.removeprefix("wo_")
        return self.ctx.store.get(int(number)) if number.isdigit() else None

    def get_order(self, order_ref: str) -> Response | tuple[Response, int]:
        with self.ctx.store.lock:
            order = self._find(order_ref)
            if order is None:
                return _error(404, {"error": "not_found"})
            return jsonify({"order": self.render_order(order)})

    def cancel_order(self, order_ref: str) -> Response | tuple[Response, int]:
        store = self.ctx.store
        with store.lock:
            order = self._find(order_ref)
            if order is None:
                return _error(404, {"error": "not_found"})
            if order.has_shipped():
                return _error(409, {"error": "too_late", "order": self.render_order(order)})
            return jsonify({"order": self.render_order(store.cancel(order))})

    def list_events(self) -> Response | tuple[Response, int]:
        try:
            after = int(request.args.get("after", 0))
            limit = int(request.args.get("limit", self.ctx.max_page_size))
        except ValueError:
            return _error(
                400, {"error": "validation", "fields": {"after": "after and limit are integers"}}
            )
        if not 1 <= limit <= self.ctx.max_page_size:
            return _error(
                400,
                {
                    "error": "validation",
                    "fields": {"limit": f"must be between 1 and {self.ctx.max_page_size}"},
                },
            )
        with self.ctx.store.lock:
            start = max(after, 0)
            page = self.events[start : start + limit]
            has_more = len(self.events) > start + len(page)
        last_seq = page[-1]["seq"] if page else max(after, 0)
        return jsonify({"events": page, "last_seq": last_seq, "has_more": has_more})

    def inventory(self) -> Response:
        with self.ctx.store.lock:
            items = [
                {"sku": sku, "available": available}
                for sku, available in sorted(self.ctx.store.inventory.items())
            ]
        return jsonify({"items": items})

    # --- renderings -------------------------------------------------------------------------------

    def render_order(self, order: StoredOrder) -> dict[str, Any]:
        body = order.body
        ship_to = body.get("ship_to") or {}
        return {
            "id": f"wo_{order.id:06d}",
            "external_key": order.key,
            "order_number": order.number,
            "status": order.status,
            "created_at": _iso(order.created_at),
            "updated_at": _iso(order.updated_at),
            "lines": [
                {
                    "line_key": line.line_key or line.key,
                    "sku": line.sku,
                    "name": line.name,
                    "quantity": line.quantity,
                    "unit_price": line.unit_price,
                }
                for line in order.lines
            ],
            "ship_to": {name: ship_to.get(name) for name in _SHIP_TO_FIELDS},
            "shipping_method": body.get("shipping_method"),
            "gift_message": body.get("gift_message"),
            "notes": body.get("notes"),
            "metadata": body.get("metadata") or {},
            "shipments": [self._shipment_json(s) for s in order.shipments],
        }

    @staticmethod
    def _shipment_json(shipment: Shipment) -> dict[str, Any]:
        return {
            "id": f"sh_{shipment.id:06d}",
            "shipped_at": _iso(shipment.shipped_at),
            "carrier": shipment.carrier,
            "service": shipment.service,
            "voided": shipment.voided,
            "packages": [
                {
                    "id": f"pk_{package.id:06d}",
                    "tracking_number": package.tracking_number,
                    "tracking_url": package.tracking_url,
                    "weight_oz": package.weight_oz,
                }
                for package in shipment.packages
            ],
            "lines": [
                {"line_key": line.line_key or line.key, "sku": line.sku, "quantity": line.quantity}
                for line in shipment.lines()
            ],
        }
