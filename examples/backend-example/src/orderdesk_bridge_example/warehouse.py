"""A tiny warehouse on loopback, enough for the example backend and the conformance kit.

Standard library only (``http.server``), so the example shows the backend, not a framework.
Its API: bearer token; ``POST /orders`` (409 with the existing order for a key it already has);
``GET /orders?key=``; ``GET /orders/<id>``; ``POST /orders/<id>/cancel`` (409 ``too_late``
once something shipped); ``GET /changes?after=&limit=`` (a feed of order ids by sequence
number, each with the order as it is now); ``GET /health``. The floor (``ship``, ``void``)
and the faults (``lose_next_reply``, ``throttle``) are Python methods for the tests.
"""

from __future__ import annotations

import hmac
import itertools
import json
import math
import threading
import time
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


class ExampleWarehouse:
    """Orders by id, a key index, a change log; every change under one lock."""

    def __init__(self, token: str = "example-token", hang_seconds: float = 6.0) -> None:
        self.token = token
        self.hang_seconds = hang_seconds
        self.lock = threading.Lock()
        self.orders: dict[str, dict[str, Any]] = {}
        self.changes: list[str] = []  # order ids; the sequence number is the position + 1
        self._ids = itertools.count(1)
        self._lost_replies = 0
        self._throttled_until = 0.0
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> ExampleWarehouse:
        warehouse = self

        class Handler(_Handler):
            owner = warehouse

        self._stopping.clear()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> ExampleWarehouse:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the warehouse is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # --- the floor ----------------------------------------------------------------------------

    def _changed(self, order: dict[str, Any]) -> None:
        order["status"] = _status(order)
        self.changes.append(order["id"])

    def ship(self, key: str, packages: Sequence[tuple[str, Sequence[tuple[str, int]]]]) -> None:
        """One shipment of ``(tracking_number, ((line_key, quantity), ...))`` packages."""
        with self.lock:
            order = next(o for o in self.orders.values() if o["key"] == key)
            number = len(order["shipments"]) + 1
            order["shipments"].append(
                {
                    "id": f"{order['id']}-s{number}",
                    "voided": False,
                    "packages": [
                        {
                            "id": f"{order['id']}-s{number}-p{index}",
                            "tracking_number": tracking,
                            "lines": [{"line_key": k, "quantity": q} for k, q in lines],
                        }
                        for index, (tracking, lines) in enumerate(packages, start=1)
                    ],
                }
            )
            self._changed(order)

    def void(self, tracking_number: str) -> None:
        with self.lock:
            for order in self.orders.values():
                for shipment in order["shipments"]:
                    tracking = {p["tracking_number"] for p in shipment["packages"]}
                    if tracking_number in tracking:
                        shipment["voided"] = True
                        self._changed(order)
                        return
        raise KeyError(tracking_number)

    def keys_for_number(self, number: str) -> list[str]:
        with self.lock:
            return [o["key"] for o in self.orders.values() if o["number"] == number]

    # --- faults -------------------------------------------------------------------------------

    def lose_next_reply(self) -> None:
        self._lost_replies = 1

    def throttle(self, seconds: float) -> None:
        self._throttled_until = time.monotonic() + seconds

    def clear_faults(self) -> None:
        self._lost_replies, self._throttled_until = 0, 0.0

    # --- the API, called by the handler -------------------------------------------------------

    def handle(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        left = self._throttled_until - time.monotonic()
        if left > 0:
            return 429, {"error": "rate_limited", "retry_after": math.ceil(left)}
        parts = path.strip("/").split("/")
        with self.lock:
            if method == "GET" and parts == ["health"]:
                return 200, {"ok": True}
            if parts == ["orders"] and method == "POST":
                return self._create(body)
            if parts == ["orders"]:
                matches = [o for o in self.orders.values() if o["key"] == query.get("key")]
                return 200, {"orders": matches}
            if parts[0] == "orders" and len(parts) >= 2 and parts[1] in self.orders:
                order = self.orders[parts[1]]
                if parts[2:] == ["cancel"] and method == "POST":
                    return self._cancel(order)
                if len(parts) == 2:
                    return 200, {"order": order}
            if parts == ["changes"]:
                after, limit = int(query.get("after", 0)), int(query.get("limit", 100))
                page = [
                    {"seq": seq, "order": self.orders[order_id]}
                    for seq, order_id in enumerate(
                        self.changes[after : after + limit], start=after + 1
                    )
                ]
                return 200, {"changes": page, "has_more": len(self.changes) > after + limit}
        return 404, {"error": "not_found"}

    def _create(self, body: Any) -> tuple[int, Any]:
        if not isinstance(body, dict) or not body.get("key") or not body.get("lines"):
            return 422, {"error": "key, number and lines are required"}
        existing = next((o for o in self.orders.values() if o["key"] == body["key"]), None)
        if existing is not None:
            return 409, {"error": "duplicate", "order": existing}
        order_id = f"ex-{next(self._ids)}"
        self.orders[order_id] = {
            "id": order_id,
            "key": body["key"],
            "number": str(body.get("number") or ""),
            "lines": body["lines"],
            "ship_to": body.get("ship_to") or {},
            "cancelled": False,
            "shipments": [],
        }
        self._changed(self.orders[order_id])
        return 201, {"order": self.orders[order_id]}

    def _cancel(self, order: dict[str, Any]) -> tuple[int, Any]:
        if any(not s["voided"] for s in order["shipments"]):
            return 409, {"error": "too_late"}
        if not order["cancelled"]:
            order["cancelled"] = True
            self._changed(order)
        return 200, {"order": order}

    def hold_reply(self) -> None:
        """The lost-reply fault: the order is stored, the answer comes too late."""
        if self._lost_replies:
            self._lost_replies -= 1
            self._stopping.wait(self.hang_seconds)


def _status(order: dict[str, Any]) -> str:
    if order["cancelled"]:
        return "cancelled"
    return "shipped" if any(not s["voided"] for s in order["shipments"]) else "open"


class _Handler(BaseHTTPRequestHandler):
    owner: ExampleWarehouse

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def _serve(self, method: str) -> None:
        scheme, _, token = self.headers.get("Authorization", "").partition(" ")
        if scheme != "Bearer" or not hmac.compare_digest(token, self.owner.token):
            self._reply(401, {"error": "unauthorized"})
            return
        url = urlsplit(self.path)
        query = {name: values[0] for name, values in parse_qs(url.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        status, answer = self.owner.handle(method, url.path, query, body)
        if method == "POST" and status == 201:
            self.owner.hold_reply()
        self._reply(status, answer)

    def _reply(self, status: int, answer: Any) -> None:
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if status == 429:
            self.send_header("Retry-After", str(answer["retry_after"]))
        self.end_headers()
        try:
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            return
