"""The HTTP face of the Order Desk simulator: REST API v2 under ``/api/v2``.

Every request is authenticated with ``ORDERDESK-STORE-ID`` and ``ORDERDESK-API-KEY``, passes the
faults and the store's leaky bucket, and is answered in Order Desk's envelope (``status``,
``message``, ``execution_time``) with ``X-Tokens-Remaining``. Bad credentials get HTTP 401: the real
code is undocumented, and 401 is what a client most plausibly has to handle.
``X-HTTP-Method-Override`` is honoured because Order Desk's own samples update with it.
"""

from __future__ import annotations

import json
import time
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from flask import Blueprint, Response, g, request

from bridge.sim.orderdesk.store import ApiError, StoreState, now_text

API_PREFIX = "/api/v2"
AUTH_FAILED = "Invalid API key or store id"
WRITE_METHODS = frozenset({"POST", "PUT", "DELETE"})
ALL_METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH"]


@dataclass(frozen=True)
class Verdict:
    """What the gate decided for one request before the endpoint runs."""

    tokens_remaining: int
    refusal: tuple[int, str, dict[str, str]] | None = None
    hang_seconds: float = 0.0


class Gate(Protocol):
    """What the API needs from the simulator: its lock, credentials, admission and the log.

    Declared here so the blueprint depends on no simulator class; ``OrderDeskSimulator`` is one.
    """

    @property
    def lock(self) -> AbstractContextManager[Any]: ...

    def authenticate(self, store_id: str | None, api_key: str) -> StoreState | None: ...

    def admit(self, store_id: str, method: str, path: str) -> Verdict: ...

    def pause(self, seconds: float) -> None: ...

    def record_request(
        self, method: str, path: str, store_id: str | None, status: int, tokens: int | None
    ) -> None: ...


def reply(
    message: str, http_status: int = 200, status: str = "success", **payload: Any
) -> Response:
    """Order Desk's envelope, timed from the start of the request."""
    started = g.get("started", time.perf_counter())
    body = {
        "status": status,
        "message": message,
        **payload,
        "execution_time": f"{time.perf_counter() - started:.4f} seconds",
    }
    return Response(json.dumps(body), status=http_status, mimetype="application/json")


def refuse(message: str, http_status: int = 400, **payload: Any) -> Response:
    return reply(message, http_status, status="error", **payload)


def _body() -> Any:
    if not request.get_data():
        return {}
    body = request.get_json(silent=True, force=True)
    if body is None:
        raise ApiError("The request body is not valid JSON")
    return body


def _object() -> dict[str, Any]:
    body = _body()
    if not isinstance(body, dict):
        raise ApiError("Send a JSON object")
    return body


def build_api(sim: Gate) -> Blueprint:
    """The ``/api/v2`` blueprint bound to one simulator's state."""
    api = Blueprint("orderdesk_api", __name__, url_prefix=API_PREFIX)

    def store() -> StoreState:
        return g.store

    @api.before_request
    def admit() -> Response | None:
        g.started = time.perf_counter()
        g.path = request.path[len(API_PREFIX) :] or "/"
        g.store_id = request.headers.get("ORDERDESK-STORE-ID", "").strip() or None
        g.tokens = None
        g.hang = 0.0
        found = sim.authenticate(g.store_id, request.headers.get("ORDERDESK-API-KEY", ""))
        if found is None:
            return refuse(AUTH_FAILED, 401)
        g.store = found
        verdict = sim.admit(found.store_id, request.method, g.path)
        g.tokens = verdict.tokens_remaining
        g.hang = verdict.hang_seconds
        if verdict.refusal is not None:
            http_status, message, headers = verdict.refusal
            response = refuse(message, http_status)
            response.headers.update(headers)
            return response
        return None

    @api.after_request
    def finish(response: Response) -> Response:
        if g.get("tokens") is not None:
            response.headers["X-Tokens-Remaining"] = str(g.tokens)
        if g.get("hang"):
            # The write is applied; now outlast the client's timeout so the outcome is ambiguous.
            sim.pause(g.hang)
        sim.record_request(
            request.method,
            g.get("path", request.path),
            g.get("store_id"),
            response.status_code,
            g.get("tokens"),
        )
        return response

    @api.errorhandler(ApiError)
    def api_error(exc: ApiError) -> Response:
        return refuse(exc.message, exc.http_status)

    @api.get("/test")
    def test() -> Response:
        return reply("Connection Successful", current_date_time=now_text())

    @api.get("/store")
    def store_settings() -> Response:
        with sim.lock:
            return reply("Execution took 0 seconds", store=store().info())

    @api.get("/orders")
    def list_orders() -> Response:
        with sim.lock:
            page = store().list_orders(request.args.to_dict())
            return reply("Execution took 0 seconds", **page)

    @api.post("/orders")
    def create_order() -> Response:
        body = _object()
        with sim.lock:
            order = store().add_order(body, validate=True)
            return reply("Order Created", order=order)

    @api.get("/orders/<order_id>")
    def get_order(order_id: str) -> Response:
        with sim.lock:
            return reply("Execution took 0 seconds", order=store().get_order(order_id))

    @api.put("/orders/<order_id>")
    def replace_order(order_id: str) -> Response:
        body = _object()
        with sim.lock:
            order = store().replace_order(order_id, body)
            return reply("Order Updated", order=order)

    @api.delete("/orders/<order_id>")
    def delete_order(order_id: str) -> Response:
        with sim.lock:
            deleted = store().delete_order(order_id)
            return reply(f"Order {deleted} Deleted")

    @api.post("/move-orders")
    def move_orders() -> Response:
        body = _object()
        with sim.lock:
            message, results = store().move_orders(body)
            return reply(message, results=results)

    @api.post("/orders/<order_id>/order-history")
    def add_history(order_id: str) -> Response:
        body = _object()
        with sim.lock:
            order = store().add_history(order_id, body.get("note"), body.get("source_name"))
            return reply("History Added", total_records=len(order["order_history"]), order=order)

    @api.get("/orders/<order_id>/shipments")
    def list_shipments(order_id: str) -> Response:
        with sim.lock:
            shipments = list(store().get_order(order_id)["order_shipments"])
            return reply(
                "Execution took 0 seconds", total_records=len(shipments), shipments=shipments
            )

    @api.post("/orders/<order_id>/shipments")
    def add_shipment(order_id: str) -> Response:
        body = _object()
        with sim.lock:
            store().add_shipment(order_id, body)
            # Like the documented sample, the answer does not carry the new shipment's id.
            return reply("Shipment Added")

    @api.get("/orders/<order_id>/shipments/<shipment_id>")
    def get_shipment(order_id: str, shipment_id: str) -> Response:
        with sim.lock:
            return reply(
                "Execution took 0 seconds", shipment=store().shipment(order_id, shipment_id)
            )

    @api.put("/orders/<order_id>/shipments/<shipment_id>")
    def update_shipment(order_id: str, shipment_id: str) -> Response:
        body = _object()
        with sim.lock:
            shipment = store().update_shipment(order_id, shipment_id, body)
            return reply("Shipment Updated", shipment=shipment)

    @api.delete("/orders/<order_id>/shipments/<shipment_id>")
    def delete_shipment(order_id: str, shipment_id: str) -> Response:
        with sim.lock:
            deleted = store().delete_shipment(order_id, shipment_id)
            return reply(f"Shipment {deleted} Deleted")

    @api.post("/batch-shipments")
    def batch_shipments() -> Response:
        body = _body()
        with sim.lock:
            results = store().batch_shipments(body)
            added = sum(1 for result in results if result["status"] == "success")
            return reply(f"{added} Shipments Added", results=results)

    @api.get("/inventory-items")
    def list_inventory() -> Response:
        with sim.lock:
            page = store().list_inventory(request.args.to_dict())
            return reply("Execution took 0 seconds", **page)

    @api.post("/inventory-items")
    def add_inventory() -> Response:
        body = _object()
        with sim.lock:
            item = store().add_inventory(body)
            return reply("Inventory Item Added", inventory_item=item)

    @api.get("/inventory-items/<item_id>")
    def get_inventory(item_id: str) -> Response:
        with sim.lock:
            return reply("Execution took 0 seconds", inventory_item=store().inventory_item(item_id))

    @api.put("/inventory-items/<item_id>")
    def replace_inventory(item_id: str) -> Response:
        body = _object()
        with sim.lock:
            item = store().replace_inventory(item_id, body)
            return reply("Inventory Item Updated", inventory_item=item)

    @api.delete("/inventory-items/<item_id>")
    def delete_inventory(item_id: str) -> Response:
        with sim.lock:
            deleted = store().delete_inventory(item_id)
            return reply(f"Inventory Item {deleted} Deleted")

    @api.put("/batch-inventory-items")
    def batch_inventory() -> Response:
        body = _body()
        with sim.lock:
            results = store().batch_inventory(body)
            updated = sum(1 for result in results if result["status"] == "success")
            return reply(f"{updated} Inventory Items Updated", results=results)

    @api.route("/<path:unknown>", methods=ALL_METHODS)
    def not_found(unknown: str) -> Response:
        return refuse(f"Unknown endpoint {request.method} /{unknown}", 404)

    return api


class MethodOverride:
    """WSGI middleware: ``POST`` with ``X-HTTP-Method-Override: PUT`` is handled as ``PUT``."""

    def __init__(self, app: Any) -> None:
        self._app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        override = environ.get("HTTP_X_HTTP_METHOD_OVERRIDE", "").upper()
        if environ.get("REQUEST_METHOD") == "POST" and override in ("PUT", "DELETE"):
            environ["REQUEST_METHOD"] = override
        return self._app(environ, start_response)
