"""ShipBob backend (date-versioned REST API, bearer token); docs/backends.md#shipbob.

What shapes this module:

* ``reference_id`` is our idempotency key and ShipBob refuses a second order with it (HTTP 422,
  "duplicate reference"). Such a refusal means the order is already there, so ``submit`` looks
  it up by ``ReferenceIds`` and returns it instead of failing.
* Order calls carry a ``shipbob_channel_id`` header. When the config names no channel, the one
  the token may write orders to is looked up once with ``GET /channel`` and kept per instance.
* Status lives on shipments (Processing, On Hold, Exception, Completed, Cancelled), several per
  order; each shipment carries one tracking number, so it becomes one package here.
* The change feed is ShipBob's own acknowledgement cursor: orders with tracking that we have not
  yet marked uploaded. ``acknowledge`` marks them, and the core calls it only once Order Desk has
  the shipment, so a crash between the two only makes the feed repeat what the core dedupes.
* The order list filters by many ``ReferenceIds`` at once and by creation date
  (``StartDate``/``EndDate``), and each order arrives with all its shipments: a bulk lookup and
  an audit's listing cost pages, not one call per order.
* 150 requests a minute per user and application; a 429 says how long to wait in
  ``x-retry-after`` and every answer counts down ``x-remaining-calls``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

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
    RateSpec,
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
    StockLevel,
    SubmitResult,
)
from bridge.backends.status import settle_status, shipbob_order_status, shipbob_shipment_status
from bridge.remote.errors import AuthError, RateLimited, TransientError
from bridge.remote.ratelimit import LocalLeakyBucket, RateLimiter

SERVICE = "ShipBob"
MAX_PAGE_SIZE = 250
ACK_CHUNK = 100
# Keys per ``ReferenceIds`` filter: our keys are ~20 characters, so a query stays near 2 KB,
# well inside what proxies accept in a URL.
REFERENCE_CHUNK = 100
RATE_PER_MINUTE = 150
CHANNEL_HEADER = "shipbob_channel_id"
REMAINING_HEADER = "x-remaining-calls"
WRITE_SCOPE = "orders_write"
_TOO_LATE_WORDS = ("complete", "shipped", "picked", "packed", "fulfilled", "label")


class ShipBobConfig(BackendConfig):
    """One ShipBob account (a personal access token), as a store's backend config names it."""

    base_url: BaseUrl = "https://api.shipbob.com"
    token: SecretStr
    channel_id: int | None = None
    api_version: str = Field(default="2026-01", pattern=r"^(\d+\.\d+|\d{4}-\d{2})$")


def parse_time(value: Any) -> datetime | None:
    """A ShipBob timestamp (ISO 8601, UTC, sometimes with a ``Z``) as an aware datetime."""
    if not value:
        return None
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def api_time(moment: datetime, *, round_up: bool = False) -> str:
    """A moment as ShipBob's date filters take it: ISO 8601 in UTC to the second.

    ``round_up`` moves a fraction of a second to the next second, so the end of a window
    truncated to seconds still holds an order created in its last moments.
    """
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    whole = aware.astimezone(UTC).replace(microsecond=0)
    if round_up and whole < aware:
        whole += timedelta(seconds=1)
    return whole.isoformat().replace("+00:00", "Z")


def _shipped_quantity(product: dict[str, Any]) -> int:
    items = [item for item in product.get("inventory_items") or [] if item]
    if items:
        return sum(int(item.get("quantity") or 0) for item in items)
    return int(product.get("quantity") or 0)


def tracked_shipment(data: dict[str, Any]) -> RemoteShipment | None:
    """A ShipBob shipment with tracking as one shipment of one package; None without tracking.

    A shipment cancelled after its label was made is reported voided, so the core retracts the
    tracking it may have posted.
    """
    tracking = data.get("tracking") or {}
    number = str(tracking.get("tracking_number") or "")
    if not number:
        return None
    shipment_id = str(data["id"])
    measurements = data.get("measurements") or {}
    weight = measurements.get("total_weight_oz")
    return RemoteShipment(
        remote_id=shipment_id,
        shipped_at=parse_time(tracking.get("shipping_date") or data.get("actual_fulfillment_date")),
        carrier=str(tracking.get("carrier") or ""),
        service=str(tracking.get("carrier_service") or data.get("ship_option") or ""),
        voided=shipbob_shipment_status(str(data.get("status") or "")) is NormalizedStatus.CANCELLED,
        packages=[
            Package(
                package_id=f"sb-{shipment_id}",
                tracking_number=number,
                tracking_url=str(tracking.get("tracking_url") or ""),
                weight_oz=None if weight in (None, "") else float(weight),
            )
        ],
        lines=[
            ShippedLine(
                line_key=str(product.get("external_line_id") or ""),
                sku=str(product.get("reference_id") or product.get("sku") or ""),
                quantity=_shipped_quantity(product),
            )
            for product in data.get("products") or []
            if product
        ],
    )


def remote_order(data: dict[str, Any], *, unacknowledged_only: bool = False) -> RemoteOrder:
    """A ShipBob order; its status always comes from all its shipments and lines.

    ``unacknowledged_only`` (the feed) leaves out shipments whose tracking we already marked
    uploaded: the order is listed again for a new one, and the old ones are settled.
    """
    raw_shipments = [item for item in data.get("shipments") or [] if item]
    shipments = [s for s in (tracked_shipment(item) for item in raw_shipments) if s is not None]
    status_of = shipments
    if unacknowledged_only:
        done = {str(item["id"]) for item in raw_shipments if item.get("is_tracking_uploaded")}
        shipments = [s for s in shipments if s.remote_id not in done]
    lines = [
        Line(
            line_key=str(product.get("external_line_id") or product.get("reference_id") or index),
            sku=str(product.get("reference_id") or product.get("sku") or ""),
            name=str(product.get("name") or ""),
            quantity=int(product.get("quantity") or 0),
            unit_price=float(product.get("unit_price") or 0),
        )
        for index, product in enumerate(data.get("products") or [])
        if product
    ]
    statuses = [str(item.get("status") or "") for item in raw_shipments]
    if not statuses and str(data.get("status") or "").lower() == "cancelled":
        statuses = ["Cancelled"]
    moments = [parse_time(item.get("last_update_at")) for item in raw_shipments]
    moments.append(parse_time(data.get("created_date")))
    return RemoteOrder(
        ref=RemoteRef(remote_id=str(data["id"]), key=str(data.get("reference_id") or "")),
        status=settle_status(shipbob_order_status(statuses), lines, status_of),
        raw_status=", ".join(statuses) or str(data.get("status") or ""),
        order_number=str(data.get("order_number") or ""),
        updated_at=max((m for m in moments if m is not None), default=None),
        shipments=shipments,
    )


def _refusal(response: requests.Response, what: str) -> ValidationError:
    """A 400/422 in ShipBob's words: a map of field to messages, or ``{message}``."""
    body = error_json(response)
    message = str(body.get("message") or body.get("title") or "")
    fields = body.get("errors") if isinstance(body.get("errors"), dict) else None
    if fields is None and not message:
        fields = {k: v for k, v in body.items() if k not in ("statusCode", "status", "type")}
    detail = message or "; ".join(f"{k}: {v}" for k, v in (fields or {}).items()) or "no reason"
    return ValidationError(f"ShipBob refused {what}: {detail}", fields)


def _is_duplicate(response: requests.Response) -> bool:
    return response.status_code == 422 and "duplicate" in response.text.lower()


class _Cursor:
    """The feed's position: a page of the not-yet-acknowledged orders.

    The set shrinks as we acknowledge, so a page number is only a hint within one pass; a pass
    that skips an order because the pages shifted finds it on the next, since ShipBob keeps
    listing it until it is acknowledged.
    """

    @staticmethod
    def parse(text: str | None) -> int:
        if not text:
            return 1
        try:
            page = int(json.loads(text)["page"])
        except (ValueError, TypeError, KeyError):
            raise ValidationError("unreadable ShipBob cursor; reset it to start over") from None
        return max(page, 1)

    @staticmethod
    def dump(page: int) -> str:
        return json.dumps({"v": 1, "page": page})


class ShipBobBackend(WarehouseBackend):
    name = "shipbob"
    config_model = ShipBobConfig
    config: ShipBobConfig
    # Seconds to wait for an answer; not in the store config, whose keys are a contract.
    timeout_seconds: ClassVar[float] = 30.0
    # Orders a listing page asks for (ShipBob's most); tests lower it to span pages cheaply.
    page_size: ClassVar[int] = MAX_PAGE_SIZE

    def __init__(
        self,
        config: ShipBobConfig,
        *,
        session: requests.Session | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        super().__init__(config, session=session, limiter=limiter)
        self._limiter = limiter or LocalLeakyBucket(
            RATE_PER_MINUTE, RATE_PER_MINUTE / 60.0, name="shipbob"
        )
        self._root = self._client(session, {})
        self._orders: ApiClient | None = None
        self._channel_id = config.channel_id

    def _client(self, session: requests.Session | None, extra: dict[str, str]) -> ApiClient:
        token = self.config.token.get_secret_value()
        return ApiClient(
            f"{self.config.base_url}/{self.config.api_version}",
            service=SERVICE,
            timeout=self.timeout_seconds,
            headers={"Authorization": f"Bearer {token}", **extra},
            session=session,
            limiter=self._limiter,
            remaining_header=REMAINING_HEADER,
            credential="token",
        )

    @classmethod
    def capabilities(cls) -> Capabilities:
        return Capabilities(
            idempotency=Idempotency.REJECTS_DUPLICATE,
            cancel=CancelSupport.SYNC,
            change_feed=ChangeFeed.UNACKED,
            cursor_overlap=timedelta(0),
            max_page_size=MAX_PAGE_SIZE,
            bulk_submit_max=1,
            multi_package=True,
            partial_shipments=True,
            acknowledge=True,
            inventory=True,
            rate_limit=RateSpec(requests=RATE_PER_MINUTE, per_seconds=60.0),
        )

    # --- channel ----------------------------------------------------------------------------

    def _channels(self) -> list[dict[str, Any]]:
        data = self._root.read("/channel")
        items = data.get("items") if isinstance(data, dict) else data
        return [item for item in items or [] if isinstance(item, dict)]

    def channel_id(self) -> int:
        """The configured channel, or the first one the token may create orders in."""
        if self._channel_id is None:
            self._channel_id = self._choose(self._channels())
        return self._channel_id

    @staticmethod
    def _choose(channels: list[dict[str, Any]]) -> int:
        writable = [c for c in channels if WRITE_SCOPE in (c.get("scopes") or [])]
        chosen = (writable or channels)[:1]
        if not chosen:
            raise InvalidState(
                "ShipBob lists no channel for this token; set channel_id in the backend config"
            )
        return int(chosen[0]["id"])

    @property
    def api(self) -> ApiClient:
        """The client for order calls: it carries the channel header ShipBob requires."""
        if self._orders is None:
            self._orders = self._client(
                self._root.session, {CHANNEL_HEADER: str(self.channel_id())}
            )
        return self._orders

    # --- outbound ---------------------------------------------------------------------------

    @staticmethod
    def order_body(order: FulfillmentOrder, key: str) -> dict[str, Any]:
        ship_to = order.ship_to
        tags = [{"name": name, "value": value} for name, value in sorted(order.metadata.items())]
        if order.notes:
            tags.append({"name": "notes", "value": order.notes})
        return {
            "reference_id": key,
            "order_number": order.order_number,
            "type": "DTC",
            "shipping_method": order.shipping_method or "Standard",
            "recipient": {
                "name": ship_to.name,
                "email": ship_to.email or None,
                "phone_number": ship_to.phone or None,
                "address": {
                    "address1": ship_to.address1,
                    "address2": " ".join(p for p in (ship_to.address2, ship_to.address3) if p)
                    or None,
                    "company_name": ship_to.company or None,
                    "city": ship_to.city,
                    "state": ship_to.region or None,
                    "zip_code": ship_to.postal_code or None,
                    "country": ship_to.country,
                },
            },
            "products": [
                {
                    "reference_id": line.sku,
                    "name": line.name or line.sku,
                    "quantity": line.quantity,
                    "unit_price": line.unit_price,
                    "external_line_id": line.line_key,
                }
                for line in order.lines
            ],
            "tags": tags,
            "gift_message": order.gift_message or None,
        }

    def submit(self, order: FulfillmentOrder, key: str) -> SubmitResult:
        response = self.api.write(
            "POST", "/order", self.order_body(order, key), passthrough=(400, 422)
        )
        if _is_duplicate(response):
            existing = self.find_by_key(key)
            if existing is None:
                raise DuplicateOrder(
                    f"ShipBob already has reference {key} but does not list it in this channel"
                )
            return SubmitResult(ref=existing.ref, created=False)
        if response.status_code >= 400:
            raise _refusal(response, f"order {order.order_number}")
        data = error_json(response)
        if "id" not in data:
            raise TransientError("ShipBob accepted the order but sent no order id back")
        return SubmitResult(ref=RemoteRef(remote_id=str(data["id"]), key=key), created=True)

    def cancel(self, ref: RemoteRef) -> CancelResult:
        """Cancel the whole order; ShipBob answers per shipment and may cancel only some."""
        path = f"/order/{ref.remote_id}:cancel"
        response = self.api.write("POST", path, {}, passthrough=(400, 409, 422))
        results = [r for r in error_json(response).get("canceled_shipment_results") or [] if r]
        if response.status_code >= 400 or not results:
            return self._cancel_verdict(self.get(ref), response)
        done = [r for r in results if r.get("is_success")]
        failed = [r for r in results if not r.get("is_success")]
        reasons = "; ".join(str(r.get("reason") or "no reason") for r in failed)
        if not failed:
            return CancelResult(state="cancelled", detail=f"order {ref.remote_id} cancelled")
        late = any(w in reasons.lower() for w in _TOO_LATE_WORDS)
        if done:
            return CancelResult(
                state="too_late",
                detail=f"{len(done)} shipment(s) cancelled, {len(failed)} not: {reasons}",
            )
        return CancelResult(state="too_late" if late else "rejected", detail=reasons)

    @staticmethod
    def _cancel_verdict(order: RemoteOrder, response: requests.Response) -> CancelResult:
        if order.status is NormalizedStatus.CANCELLED:
            return CancelResult(state="cancelled", detail="the order was already cancelled")
        if any(not s.voided for s in order.shipments):
            return CancelResult(state="too_late", detail="some packages have already shipped")
        reason = str(error_json(response).get("message") or f"HTTP {response.status_code}")
        return CancelResult(state="rejected", detail=f"ShipBob did not cancel: {reason}")

    def acknowledge(self, shipments: Sequence[RemoteShipment]) -> None:
        """Mark shipments' tracking as uploaded so the feed stops listing them."""
        ids = sorted({int(s.remote_id) for s in shipments if s.remote_id.isdigit()})
        for start in range(0, len(ids), ACK_CHUNK):
            body = {"shipment_ids": ids[start : start + ACK_CHUNK], "is_tracking_uploaded": True}
            response = self.api.write(
                "POST", "/shipment:batchUpdateTrackingUpload", body, passthrough=(400, 422)
            )
            if response.status_code >= 400:
                raise _refusal(response, "marking tracking as uploaded")

    # --- inbound ----------------------------------------------------------------------------

    def _orders_page(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        data = self.api.read("/order", params)
        items = data.get("items") if isinstance(data, dict) else data
        return [item for item in items or [] if isinstance(item, dict)]

    def get(self, ref: RemoteRef) -> RemoteOrder:
        return remote_order(self.api.read(f"/order/{ref.remote_id}"))

    def _listing(self, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Every order a filtered listing holds, oldest first, page by page; a short page is
        the last. Orders created meanwhile join the end, so no page shifts under the reader."""
        size = self.page_size
        page = 1
        while True:
            items = self._orders_page(
                {**params, "SortOrder": "Oldest", "Page": page, "Limit": size}
            )
            yield from items
            if len(items) < size:
                return
            page += 1

    def find_by_key(self, key: str, order_number: str | None = None) -> RemoteOrder | None:
        """ShipBob filters by ``reference_id`` itself, so ``order_number`` is not needed."""
        return self.find_many([key]).get(key)

    def find_many(
        self, keys: Sequence[str], hints: LookupHints | None = None
    ) -> dict[str, RemoteOrder]:
        """``GET /order?ReferenceIds=a,b,...``: one call for up to 100 keys, each order with
        all its shipments, and no further page once every key of the group is found. ShipBob
        filters by our key itself, so ``hints`` are not needed; bridge keys never hold the
        comma that separates them."""
        wanted = list(dict.fromkeys(keys))
        chunk = max(1, min(REFERENCE_CHUNK, self.page_size))
        found: dict[str, RemoteOrder] = {}
        for start in range(0, len(wanted), chunk):
            group = wanted[start : start + chunk]
            missing = set(group)
            for data in self._listing({"ReferenceIds": ",".join(group)}):
                key = str(data.get("reference_id") or "")
                if key in missing:
                    found[key] = remote_order(data)
                    missing.discard(key)
                    if not missing:
                        break  # a reference is unique in the account: no page can add more
        return found

    def list_orders(self, since: datetime, until: datetime) -> Iterator[RemoteOrder]:
        """``GET /order?StartDate=&EndDate=`` by creation date, 250 a page: each order comes
        with every shipment it has, whenever made, so a week is a few dozen calls."""
        params = {"StartDate": api_time(since), "EndDate": api_time(until, round_up=True)}
        for data in self._listing(params):
            yield remote_order(data)

    def changes_since(self, cursor: str | None, limit: int = 100) -> ChangePage:
        """One page of orders holding tracking we have not acknowledged yet.

        A full page means there may be more; a short one ends the pass and the cursor goes back
        to the first page, since acknowledged orders drop out of the list by themselves.
        """
        page = _Cursor.parse(cursor)
        size = max(1, min(limit, MAX_PAGE_SIZE))
        params = {
            "HasTracking": "true",
            "IsTrackingUploaded": "false",
            "SortOrder": "Oldest",
            "Page": page,
            "Limit": size,
        }
        items = self._orders_page(params)
        more = len(items) >= size
        return ChangePage(
            orders=[remote_order(item, unacknowledged_only=True) for item in items],
            next_cursor=_Cursor.dump(page + 1 if more else 1),
            has_more=more,
        )

    def _inventory_pages(self) -> Iterator[dict[str, Any]]:
        page = 1
        while True:
            data = self._root.read("/inventory-level", {"Page": page, "Limit": MAX_PAGE_SIZE})
            items = data.get("items") if isinstance(data, dict) else data
            rows = [item for item in items or [] if isinstance(item, dict)]
            yield from rows
            if len(rows) < MAX_PAGE_SIZE:
                return
            page += 1

    def inventory(self) -> list[StockLevel]:
        """What ShipBob can still fulfil per SKU, summed over its inventory items."""
        levels: dict[str, int] = {}
        for item in self._inventory_pages():
            sku = str(item.get("sku") or "")
            if sku:
                levels[sku] = levels.get(sku, 0) + int(item.get("total_fulfillable_quantity") or 0)
        return [StockLevel(sku=sku, available=count) for sku, count in sorted(levels.items())]

    def healthcheck(self) -> None:
        try:
            channels = self._channels()
        except AuthError:
            raise AuthError(
                "ShipBob refused the token; check the token in the backend config"
            ) from None
        except (TransientError, RateLimited) as exc:
            raise TransientError(f"ShipBob is not answering properly: {exc.message}") from None
        if self._channel_id is None:
            self._channel_id = self._choose(channels)
        elif all(str(c.get("id")) != str(self._channel_id) for c in channels):
            raise InvalidState(
                f"ShipBob has no channel {self._channel_id} for this token; "
                "check channel_id in the backend config"
            )

    def close(self) -> None:
        if self._orders is not None:
            self._orders.close()
        self._root.close()
