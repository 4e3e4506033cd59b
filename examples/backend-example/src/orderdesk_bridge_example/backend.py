"""The example warehouse backend: what a third party writes to plug a warehouse into the bridge.

It talks to ``ExampleWarehouse`` (``warehouse.py``), whose API rejects a duplicate key naming
the existing order and serves a change feed by sequence number. The bridge finds the class
through this package's ``orderdesk_bridge.backends`` entry point (``pyproject.toml``).

Everything that is not the warehouse's own comes from the bridge: the config base (secrets
typed ``SecretStr`` are stored encrypted), the HTTP layer (``ApiClient``: limiter, reads
retried, a lost reply on a write raised as ``AmbiguousOutcome``), the normalized models, the
errors, and ``settle_status`` (shipped or partially shipped decided by units).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import requests
from pydantic import Field, SecretStr

from bridge.backends.base import (
    BackendConfig,
    BaseUrl,
    CancelSupport,
    Capabilities,
    ChangeFeed,
    Idempotency,
    WarehouseBackend,
)
from bridge.backends.errors import DuplicateOrder, InvalidState, ValidationError
from bridge.backends.http import ApiClient, error_json
from bridge.backends.models import (
    CancelResult,
    ChangePage,
    FulfillmentOrder,
    Line,
    NormalizedStatus,
    Package,
    RemoteOrder,
    RemoteRef,
    RemoteShipment,
    ShippedLine,
    SubmitResult,
)
from bridge.backends.status import normalize, settle_status
from bridge.remote.ratelimit import RateLimiter

S = NormalizedStatus
STATUSES = {"open": S.ACCEPTED, "shipped": S.SHIPPED, "cancelled": S.CANCELLED}
PAGE_SIZE = 100


class ExampleConfig(BackendConfig):
    base_url: BaseUrl
    token: SecretStr
    timeout: float = Field(default=10.0, gt=0)


def _shipment(data: dict[str, Any]) -> RemoteShipment:
    packages = data.get("packages") or []
    units: dict[str, int] = {}
    for package in packages:
        for line in package.get("lines") or []:
            units[line["line_key"]] = units.get(line["line_key"], 0) + int(line["quantity"])
    return RemoteShipment(
        remote_id=data["id"],
        voided=bool(data.get("voided")),
        packages=[
            Package(package_id=p["id"], tracking_number=p.get("tracking_number") or "")
            for p in packages
        ],
        lines=[ShippedLine(line_key=key, quantity=qty) for key, qty in units.items()],
    )


def remote_order(data: dict[str, Any]) -> RemoteOrder:
    lines = [
        Line(line_key=line["line_key"], sku=line.get("sku") or "", quantity=line["quantity"])
        for line in data.get("lines") or []
    ]
    shipments = [_shipment(item) for item in data.get("shipments") or []]
    raw = data.get("status") or ""
    return RemoteOrder(
        ref=RemoteRef(remote_id=data["id"], key=data["key"]),
        status=settle_status(normalize(STATUSES, raw), lines, shipments),
        raw_status=raw,
        shipments=shipments,
    )


class ExampleBackend(WarehouseBackend):
    name = "example"
    config_model = ExampleConfig
    config: ExampleConfig

    def __init__(
        self,
        config: ExampleConfig,
        *,
        session: requests.Session | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        super().__init__(config, session=session, limiter=limiter)
        self.api = ApiClient(
            config.base_url,
            service="example warehouse",
            timeout=config.timeout,
            headers={"Authorization": f"Bearer {config.token.get_secret_value()}"},
            session=session,
            limiter=limiter,
        )

    @classmethod
    def capabilities(cls) -> Capabilities:
        return Capabilities(
            idempotency=Idempotency.REJECTS_DUPLICATE,
            cancel=CancelSupport.SYNC,
            change_feed=ChangeFeed.EVENTS,
            cursor_overlap=timedelta(0),
            max_page_size=PAGE_SIZE,
            bulk_submit_max=0,
            multi_package=True,
            partial_shipments=True,
            acknowledge=False,
            inventory=False,
            rate_limit=None,
        )

    def submit(self, order: FulfillmentOrder, key: str) -> SubmitResult:
        body = {
            "key": key,
            "number": order.order_number,
            "ship_to": order.ship_to.to_dict(),
            "lines": [line.to_dict() for line in order.lines],
        }
        response = self.api.write("POST", "/orders", body, passthrough=(409, 422))
        data = error_json(response)
        if response.status_code == 409:
            existing = remote_order(data["order"]) if data.get("order") else None
            raise DuplicateOrder(f"the warehouse already has an order under key {key}", existing)
        if response.status_code == 422:
            raise ValidationError(f"the warehouse refused order {order.order_number}")
        return SubmitResult(ref=remote_order(data["order"]).ref, created=True)

    def find_by_key(self, key: str, order_number: str | None = None) -> RemoteOrder | None:
        orders = self.api.read("/orders", {"key": key}).get("orders") or []
        return remote_order(orders[0]) if orders else None

    def get(self, ref: RemoteRef) -> RemoteOrder:
        return remote_order(self.api.read(f"/orders/{ref.remote_id}")["order"])

    def changes_since(self, cursor: str | None, limit: int = 100) -> ChangePage:
        """The cursor is the last sequence number handled; each change carries the order."""
        after = int(cursor) if cursor else 0
        size = max(1, min(limit, PAGE_SIZE))
        data = self.api.read("/changes", {"after": after, "limit": size})
        latest: dict[str, RemoteOrder] = {}
        for change in data.get("changes") or []:
            order = remote_order(change["order"])
            latest[order.ref.remote_id] = order
            after = max(after, int(change["seq"]))
        return ChangePage(
            orders=list(latest.values()), next_cursor=str(after), has_more=bool(data["has_more"])
        )

    def cancel(self, ref: RemoteRef) -> CancelResult:
        response = self.api.write("POST", f"/orders/{ref.remote_id}/cancel", {}, passthrough=(409,))
        if response.status_code == 409:
            if error_json(response).get("error") == "too_late":
                return CancelResult(state="too_late", detail="a package has already shipped")
            raise InvalidState(f"the warehouse refused to cancel order {ref.remote_id}")
        return CancelResult(state="cancelled", detail=f"order {ref.remote_id} cancelled")

    def healthcheck(self) -> None:
        self.api.read("/health")

    def close(self) -> None:
        self.api.close()
