"""The Flask plumbing both API kinds share: auth, rate limit, faults, request log, paging.

Each kind supplies its routes and its own words for refusals (ShipStation's ``{"Message": ...}``
versus our ``{"error": ...}``); this module applies them in the order a real service does:
authenticate, count against the credential's window, then misbehave as configured. The ``/_sim/``
control routes skip all of it, so a test or ``bridge dev`` can always steer the simulator.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from flask import Blueprint, Flask, Response, g, request

from bridge.sim.warehouse.faults import Faults, FixedWindowLimiter, RateDecision, RequestLog
from bridge.sim.warehouse.store import (
    PackageSpec,
    Shipment,
    StatusPolicy,
    StoredOrder,
    WarehouseStore,
)

CONTROL_PREFIX = "/_sim/"
T = TypeVar("T")


@dataclass
class SimContext:
    """What every request handler may touch; the lock lives in ``store``."""

    store: WarehouseStore
    faults: Faults
    log: RequestLog
    limiter: FixedWindowLimiter | None
    max_page_size: int
    api_key: str
    api_secret: str


class ApiKind(Protocol):
    policy: StatusPolicy

    def register(self, app: Flask) -> None: ...
    def authenticate(self) -> str | None: ...
    def unauthorized(self) -> Response: ...
    def rate_limited(self, decision: RateDecision) -> Response: ...
    def rate_headers(self, decision: RateDecision) -> dict[str, str]: ...
    def server_error(self, status: int) -> Response: ...
    def render_order(self, order: StoredOrder) -> dict[str, Any]: ...
    def group_packages(self, specs: list[PackageSpec]) -> list[list[PackageSpec]]: ...
    def shipment_ref(self, shipment: Shipment) -> str: ...
    def parse_shipment_ref(self, ref: str) -> int: ...


def build_app(ctx: SimContext, kind: ApiKind, control: Blueprint) -> Flask:
    app = Flask(f"warehouse-sim-{type(kind).__name__}")
    app.json.sort_keys = False  # type: ignore[attr-defined]

    @app.before_request
    def _gate() -> Response | None:
        if request.path.startswith(CONTROL_PREFIX):
            return None
        credential = kind.authenticate()
        if credential is None:
            return kind.unauthorized()
        if ctx.limiter is not None:
            g.rate = ctx.limiter.hit(credential)
            if not g.rate.allowed:
                return kind.rate_limited(g.rate)
        throttled = ctx.faults.throttled_for()
        if throttled:
            limit = ctx.limiter.limit if ctx.limiter is not None else 1
            g.rate = RateDecision(False, limit, 0, throttled)
            return kind.rate_limited(g.rate)
        status = ctx.faults.before_request(request.path)
        return None if status is None else kind.server_error(status)

    @app.after_request
    def _record(response: Response) -> Response:
        if request.path.startswith(CONTROL_PREFIX):
            return response
        rate = g.get("rate")
        if rate is not None:
            response.headers.update(kind.rate_headers(rate))
        ctx.log.add(request.method, request.path, response.status_code)
        return response

    kind.register(app)
    app.register_blueprint(control)
    return app


@dataclass(frozen=True)
class Page:
    items: list[Any]
    total: int
    page: int
    pages: int


def paginate(items: Sequence[T], page: int, page_size: int) -> Page:
    """1-based pages; a page past the end is empty but still reports the true totals."""
    start = (page - 1) * page_size
    return Page(
        list(items[start : start + page_size]),
        len(items),
        page,
        math.ceil(len(items) / page_size) if items else 0,
    )
