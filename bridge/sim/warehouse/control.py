"""``/_sim/`` routes: the simulator's Python API over HTTP, for ``bridge dev`` in another process.

They skip auth, rate limits and faults on purpose: they steer the simulator, they are not part of
the warehouse API being imitated. Bad input answers 400 with ``{"error": ...}``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from flask import Blueprint, Response, jsonify, request

from bridge.sim.warehouse.faults import RequestRecord


class Controls(Protocol):
    """The simulator's Python API these routes expose; ``WarehouseSimulator`` is one."""

    def orders(self) -> list[dict[str, Any]]: ...

    def ship(
        self,
        key: str,
        *,
        packages: list[Mapping[str, Any]] | None = ...,
        partial: bool = ...,
        carrier: str = ...,
        service: str | None = ...,
        external: bool = ...,
    ) -> list[str]: ...

    def void(self, shipment_id: str) -> None: ...

    def set_auto_ship(self, delay: float | None, mode: str = ...) -> None: ...

    set_faults: Callable[..., None]

    def set_inventory(self, sku: str, available: int) -> None: ...

    def throttle(self, seconds: float) -> None: ...

    @property
    def request_log(self) -> list[RequestRecord]: ...

    @property
    def count_429(self) -> int: ...


_FAULT_FIELDS = (
    "latency",
    "error_rate",
    "error_status",
    "timeout_after_store",
    "hang_seconds",
    "paths",
    "seed",
)


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    return body


def control_blueprint(sim: Controls) -> Blueprint:
    routes = Blueprint("sim_control", __name__, url_prefix="/_sim")

    @routes.errorhandler(ValueError)
    @routes.errorhandler(TypeError)
    def _bad_request(error: Exception) -> tuple[Response, int]:
        return jsonify({"error": str(error)}), 400

    @routes.errorhandler(KeyError)
    def _not_found(error: KeyError) -> tuple[Response, int]:
        return jsonify({"error": str(error.args[0] if error.args else error)}), 404

    @routes.get("/orders")
    def orders() -> Response:
        return jsonify({"orders": sim.orders()})

    @routes.post("/orders/<key>/ship")
    def ship(key: str) -> Response:
        body = _body()
        ids = sim.ship(
            key,
            packages=body.get("packages"),
            partial=bool(body.get("partial", False)),
            carrier=body.get("carrier", "ups"),
            service=body.get("service"),
            external=bool(body.get("external", False)),
        )
        return jsonify({"shipment_ids": ids})

    @routes.post("/shipments/<shipment_id>/void")
    def void(shipment_id: str) -> Response:
        sim.void(shipment_id)
        return jsonify({"voided": shipment_id})

    @routes.post("/auto-ship")
    def auto_ship() -> Response:
        body = _body()
        delay = body.get("delay")
        sim.set_auto_ship(None if delay is None else float(delay), body.get("mode", "single"))
        return jsonify({"delay": delay, "mode": body.get("mode", "single")})

    @routes.post("/faults")
    def faults() -> Response:
        body = _body()
        unknown = set(body) - set(_FAULT_FIELDS)
        if unknown:
            raise ValueError(f"unknown fault settings: {', '.join(sorted(unknown))}")
        sim.set_faults(**body)
        return jsonify({"faults": body})

    @routes.post("/throttle")
    def throttle() -> Response:
        seconds = float(_body().get("seconds", 0))
        sim.throttle(seconds)
        return jsonify({"seconds": seconds})

    @routes.post("/inventory")
    def inventory() -> Response:
        body = _body()
        if "sku" not in body or "available" not in body:
            raise ValueError("sku and available are required")
        sim.set_inventory(str(body["sku"]), int(body["available"]))
        return jsonify({"sku": body["sku"], "available": int(body["available"])})

    @routes.get("/requests")
    def requests_log() -> Response:
        records = [
            {"method": r.method, "path": r.path, "status": r.status, "at": r.at.isoformat()}
            for r in sim.request_log
        ]
        return jsonify({"requests": records, "count_429": sim.count_429})

    return routes
