"""Backend for the bridge's own zero-configuration warehouse (``bridge sim warehouse``).

Its API is designed to be the opposite of ShipStation where that teaches the core something:
it rejects duplicate keys (409) instead of upserting, offers a true event feed with a sequence
cursor instead of date windows, cancels synchronously, and reports stock levels.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
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
    LookupHints,
    WarehouseBackend,
)
from bridge.backends.errors import DuplicateOrder, InvalidState, ValidationError
from bridge.backends.http import ApiClient, error_json
from bridge.backends.models import (
    CancelResult,
    ChangePage,
    FulfillmentOrder,
    Line,
    Package,
    RemoteOrder,
    RemoteRef,
    RemoteShipment,
    ShippedLine,
    StockLevel,
    SubmitResult,
)
from bridge.backends.status import SIMULATED_STATUSES, normalize, settle_status
from bridge.remote.errors import TransientError
from bridge.remote.ratelimit import RateLimiter

MAX_EVENTS_PAGE = 100
# Our clock and the warehouse's may disagree; a bulk lookup's window starts this much earlier.
CLOCK_SKEW = timedelta(minutes=10)


class SimulatedConfig(BackendConfig):
    base_url: BaseUrl = "http://127.0.0.1:8766"
    api_key: SecretStr = SecretStr("sim-key")
    timeout: float = Field(default=10.0, gt=0)


def _parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _shipment(data: dict[str, Any]) -> RemoteShipment:
    return RemoteShipment(
        remote_id=str(data["id"]),
        shipped_at=_parse_time(data.get("shipped_at")),
        carrier=data.get("carrier") or "",
        service=data.get("service") or "",
        voided=bool(data.get("voided")),
        packages=[
            Package(
                package_id=str(pkg["id"]),
                tracking_number=pkg.get("tracking_number") or "",
                tracking_url=pkg.get("tracking_url") or "",
                weight_oz=pkg.get("weight_oz"),
            )
            for pkg in data.get("packages") or []
        ],
        lines=[
            ShippedLine(
                line_key=str(line.get("line_key") or ""),
                sku=line.get("sku") or "",
                quantity=int(line.get("quantity") or 0),
            )
            for line in data.get("lines") or []
        ],
    )


def remote_order(data: dict[str, Any]) -> RemoteOrder:
    """A native ORDER snapshot in the bridge's vocabulary; it is complete, so coverage applies."""
    shipments = [_shipment(item) for item in data.get("shipments") or []]
    lines = [
        Line(
            line_key=str(line.get("line_key") or index),
            sku=line.get("sku") or "",
            name=line.get("name") or "",
            quantity=int(line.get("quantity") or 0),
            unit_price=float(line.get("unit_price") or 0),
        )
        for index, line in enumerate(data.get("lines") or [])
    ]
    raw = data.get("status") or ""
    return RemoteOrder(
        ref=RemoteRef(remote_id=str(data["id"]), key=str(data.get("external_key") or "")),
        status=settle_status(normalize(SIMULATED_STATUSES, raw), lines, shipments),
        raw_status=raw,
        order_number=str(data.get("order_number") or ""),
        updated_at=_parse_time(data.get("updated_at")),
        shipments=shipments,
    )


class SimulatedBackend(WarehouseBackend):
    name = "simulated"
    config_model = SimulatedConfig
    config: SimulatedConfig

    def __init__(
        self,
        config: SimulatedConfig,
        *,
        session: requests.Session | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        super().__init__(config, session=session, limiter=limiter)
        self.api = ApiClient(
            config.base_url,
            service="simulated warehouse",
            timeout=config.timeout,
            headers={"Authorization": f"Bearer {config.api_key.get_secret_value()}"},
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
            max_page_size=MAX_EVENTS_PAGE,
            bulk_submit_max=0,
            multi_package=True,
            partial_shipments=True,
            acknowledge=False,
            inventory=True,
            rate_limit=None,
        )

    def submit(self, order: FulfillmentOrder, key: str) -> SubmitResult:
        body = {"external_key": key, **order.to_dict()}
        response = self.api.write("POST", "/v1/orders", body, passthrough=(409, 422, 400))
        data = error_json(response)
        if response.status_code == 409:
            existing = remote_order(data["order"]) if data.get("order") else None
            raise DuplicateOrder(f"the warehouse already has an order under key {key}", existing)
        if response.status_code in (400, 422):
            fields = data.get("fields") or {}
            detail = "; ".join(f"{name}: {why}" for name, why in fields.items()) or "no reason"
            raise ValidationError(
                f"the warehouse refused order {order.order_number} ({detail})", fields
            )
        if "order" not in data:
            raise TransientError("the warehouse accepted the order but sent no order back")
        return SubmitResult(ref=remote_order(data["order"]).ref, created=True)

    def find_by_key(self, key: str, order_number: str | None = None) -> RemoteOrder | None:
        orders = self.api.read("/v1/orders", {"external_key": key}).get("orders") or []
        matches = [remote_order(item) for item in orders if item.get("external_key") == key]
        return matches[0] if matches else None

    def find_many(
        self, keys: Sequence[str], hints: LookupHints | None = None
    ) -> dict[str, RemoteOrder]:
        """Page through the orders created since the batch's first row and keep ours; without
        that bound, one lookup per key (the default)."""
        if hints is None or hints.created_after is None:
            return super().find_many(keys, hints)
        wanted = set(keys)
        found: dict[str, RemoteOrder] = {}
        if not wanted:
            return found
        for order in self._created(hints.created_after - CLOCK_SKEW, None):
            if order.ref.key in wanted:
                found.setdefault(order.ref.key, order)
                if len(found) == len(wanted):
                    break
        return found

    def list_orders(self, since: datetime, until: datetime) -> Iterator[RemoteOrder]:
        """Orders created in the window, in creation order; each a complete snapshot."""
        return self._created(since, until)

    def _created(self, since: datetime, until: datetime | None) -> Iterator[RemoteOrder]:
        params: dict[str, Any] = {"created_since": since.isoformat(), "limit": MAX_EVENTS_PAGE}
        if until is not None:
            params["created_until"] = until.isoformat()
        page = 1
        while True:
            data = self.api.read("/v1/orders", {**params, "page": page})
            yield from (remote_order(item) for item in data.get("orders") or [])
            if not data.get("has_more"):
                return
            page += 1

    def get(self, ref: RemoteRef) -> RemoteOrder:
        return remote_order(self.api.read(f"/v1/orders/{ref.remote_id}")["order"])

    def changes_since(self, cursor: str | None, limit: int = 100) -> ChangePage:
        """Read the event log after ``cursor`` (the last ``seq`` seen, as text).

        Events carry full order snapshots, so only the newest snapshot per order is returned.
        """
        after = int(cursor) if cursor else 0
        size = max(1, min(limit, MAX_EVENTS_PAGE))
        data = self.api.read("/v1/events", {"after": after, "limit": size})
        latest: dict[str, RemoteOrder] = {}
        for event in data.get("events") or []:
            order = remote_order(event["order"])
            latest.pop(order.ref.remote_id, None)
            latest[order.ref.remote_id] = order
            after = max(after, int(event["seq"]))
        return ChangePage(
            orders=list(latest.values()),
            next_cursor=str(after),
            has_more=bool(data.get("has_more")),
        )

    def cancel(self, ref: RemoteRef) -> CancelResult:
        response = self.api.write(
            "POST", f"/v1/orders/{ref.remote_id}/cancel", {}, passthrough=(409,)
        )
        data = error_json(response)
        if response.status_code == 409:
            if data.get("error") == "too_late":
                return CancelResult(state="too_late", detail="a package has already shipped")
            raise InvalidState(f"the warehouse refused to cancel order {ref.remote_id}")
        return CancelResult(state="cancelled", detail=f"order {ref.remote_id} cancelled")

    def healthcheck(self) -> None:
        self.api.read("/v1/health")
        # /v1/health answers without a key; this read proves the key is accepted.
        self.api.read("/v1/orders", {"external_key": "healthcheck"})

    def inventory(self) -> list[StockLevel]:
        items = self.api.read("/v1/inventory").get("items") or []
        return [StockLevel(sku=str(i["sku"]), available=int(i["available"])) for i in items]

    def close(self) -> None:
        self.api.close()
