"""ShipStation API v1 ("Legacy") backend; also fits the "ShipStation v1-compatible" intakes.

The quirks handled here (docs/backends.md#shipstation-api-v1):

* ``orderKey`` upserts, so a resubmit with our key updates the same order instead of duplicating
  it; but ShipStation cannot filter orders by key, so ``find_by_key`` searches by order number
  and matches the key itself.
* Labels bought in ShipStation appear under ``/shipments`` (one label = one package); orders
  marked shipped elsewhere appear only under ``/fulfillments``. The change feed reads both, plus
  the labels voided in the window so the core can retract their tracking.
* Every date it sends or accepts is US Pacific wall time without an offset.
* 40 requests a minute per key and secret, shared by every tool using them; the
  ``X-Rate-Limit-*`` headers drive the shared limiter.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import requests
from pydantic import Field, SecretStr

from bridge.backends.base import (
    BackendConfig,
    BaseUrl,
    CancelSupport,
    Capabilities,
    ChangeFeed,
    Idempotency,
    RateSpec,
    SubmitOutcome,
    WarehouseBackend,
)
from bridge.backends.errors import BackendError, InvalidState, NotFound, ValidationError
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
from bridge.backends.status import SHIPSTATION_STATUSES, normalize, settle_status
from bridge.remote.errors import AuthError, RateLimited, RemoteError, TransientError
from bridge.remote.ratelimit import LocalLeakyBucket, RateLimiter

PACIFIC = ZoneInfo("America/Los_Angeles")
MAX_PAGE_SIZE = 500
BULK_MAX = 100
OPEN_STATUSES = {"awaiting_payment", "awaiting_shipment", "on_hold", "pending_fulfillment"}
PHASES = ("shipments", "voids", "fulfillments")
_CACHE_LIMIT = 10_000
_WEIGHT_TO_OZ = {"ounces": 1.0, "pounds": 16.0, "grams": 0.035274, "kilograms": 35.274}


class ShipStationConfig(BackendConfig):
    """Settings of one ShipStation account.

    ``overlap_minutes`` defaults to 24 hours: labels can be created with a back-dated create date
    and ShipStation's search is unreliable on short windows (the AgriTheory connector polls a
    24-hour window for that reason); re-reading a day costs a page or two per poll, while a
    missed label costs a customer their tracking.
    """

    base_url: BaseUrl = "https://ssapi.shipstation.com"
    api_key: SecretStr
    api_secret: SecretStr
    store_id: int | None = None
    rate_limit_per_minute: int = Field(default=40, gt=0)
    overlap_minutes: int = Field(default=24 * 60, ge=0)
    initial_lookback_minutes: int = Field(default=3 * 24 * 60, gt=0)
    timeout: float = Field(default=30.0, gt=0)


def to_pacific_text(moment: datetime) -> str:
    """A UTC moment as ShipStation writes dates: Pacific wall time, no offset, 7 decimals."""
    local = moment.astimezone(PACIFIC).replace(tzinfo=None)
    return local.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0"


def from_pacific_text(value: Any) -> datetime | None:
    """A ShipStation date (Pacific wall time, no offset) as an aware UTC datetime."""
    if not value:
        return None
    text = str(value).strip()
    if "." in text:
        head, _, fraction = text.partition(".")
        text = f"{head}.{fraction[:6]}"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=PACIFIC)
    return parsed.astimezone(UTC)


@dataclass
class _Scan:
    start: str
    end: str
    phase: int = 0
    page: int = 1


@dataclass
class _Cursor:
    """The opaque cursor: the high-watermark of the last full scan and the scan in progress."""

    high_watermark: str | None = None
    scan: _Scan | None = None

    @classmethod
    def parse(cls, text: str | None) -> _Cursor:
        if not text:
            return cls()
        try:
            data = json.loads(text)
            scan = data.get("scan")
            return cls(data.get("hw"), _Scan(**scan) if scan else None)
        except (ValueError, TypeError, AttributeError):
            raise ValidationError("unreadable ShipStation cursor; reset it to start over") from None

    def dump(self) -> str:
        scan = asdict(self.scan) if self.scan else None
        return json.dumps({"v": 1, "hw": self.high_watermark, "scan": scan}, sort_keys=True)


def _weight_oz(weight: Any) -> float | None:
    if not isinstance(weight, dict) or weight.get("value") in (None, ""):
        return None
    factor = _WEIGHT_TO_OZ.get(str(weight.get("units") or "ounces").lower(), 1.0)
    return round(float(weight["value"]) * factor, 2)


def label_shipment(data: dict[str, Any]) -> RemoteShipment:
    """One ShipStation label: one shipment holding exactly one package."""
    package_id = f"ss-{data['shipmentId']}"
    return RemoteShipment(
        remote_id=package_id,
        shipped_at=from_pacific_text(data.get("shipDate") or data.get("createDate")),
        carrier=data.get("carrierCode") or "",
        service=data.get("serviceCode") or "",
        voided=bool(data.get("voided")),
        packages=[
            Package(
                package_id=package_id,
                tracking_number=data.get("trackingNumber") or "",
                weight_oz=_weight_oz(data.get("weight")),
            )
        ],
        lines=[
            ShippedLine(
                line_key=str(item.get("lineItemKey") or ""),
                sku=item.get("sku") or "",
                quantity=int(item.get("quantity") or 0),
            )
            for item in data.get("shipmentItems") or []
            if item
        ],
    )


def fulfillment_shipment(data: dict[str, Any]) -> RemoteShipment:
    """An order marked shipped outside ShipStation; it lists no items, so it covers the order."""
    package_id = f"ssf-{data['fulfillmentId']}"
    return RemoteShipment(
        remote_id=package_id,
        shipped_at=from_pacific_text(data.get("shipDate") or data.get("createDate")),
        carrier=data.get("carrierCode") or data.get("fulfillmentProviderCode") or "",
        voided=bool(data.get("voided")),
        packages=[Package(package_id=package_id, tracking_number=data.get("trackingNumber") or "")],
    )


def _order_lines(order: dict[str, Any]) -> list[Line]:
    return [
        Line(
            line_key=str(item.get("lineItemKey") or index),
            sku=item.get("sku") or "",
            name=item.get("name") or "",
            quantity=int(item.get("quantity") or 0),
            unit_price=float(item.get("unitPrice") or 0),
        )
        for index, item in enumerate(order.get("items") or [])
        if item
    ]


def _refusal(response: requests.Response, what: str) -> BackendError:
    """Turn a 400/422 answer into the error the core acts on."""
    body = error_json(response)
    message = str(body.get("Message") or body.get("message") or body.get("ExceptionMessage") or "")
    fields = body.get("ModelState") or {}
    return classify_message(f"{message} {json.dumps(fields)}" if fields else message, what, fields)


def classify_message(message: str, what: str, fields: dict[str, Any] | None = None) -> BackendError:
    lowered = message.lower()
    if any(word in lowered for word in ("shipped", "cancelled", "canceled", "cannot be updated")):
        return InvalidState(f"ShipStation refused {what}: {message.strip()}")
    return ValidationError(f"ShipStation refused {what}: {message.strip() or 'no reason'}", fields)


# The statuses whose orders createorder may still replace (the rest are shipped or cancelled).
UPDATABLE_STATUSES = frozenset(
    {"awaiting_payment", "awaiting_shipment", "on_hold", "pending_fulfillment"}
)


class ShipStationBackend(WarehouseBackend):
    name = "shipstation"
    config_model = ShipStationConfig
    config: ShipStationConfig

    def __init__(
        self,
        config: ShipStationConfig,
        *,
        session: requests.Session | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        super().__init__(config, session=session, limiter=limiter)
        per_minute = config.rate_limit_per_minute
        self.api = ApiClient(
            config.base_url,
            service="ShipStation",
            timeout=config.timeout,
            auth=(config.api_key.get_secret_value(), config.api_secret.get_secret_value()),
            session=session,
            limiter=limiter or LocalLeakyBucket(per_minute, per_minute / 60.0, name="shipstation"),
        )
        self._order_keys: dict[int, str] = {}
        self._order_numbers: dict[str, str] = {}

    @classmethod
    def capabilities(cls) -> Capabilities:
        return Capabilities(
            idempotency=Idempotency.UPSERT,
            cancel=CancelSupport.SYNC,
            change_feed=ChangeFeed.SHIPPED_SINCE,
            cursor_overlap=timedelta(
                minutes=ShipStationConfig.model_fields["overlap_minutes"].default
            ),
            max_page_size=MAX_PAGE_SIZE,
            bulk_submit_max=BULK_MAX,
            multi_package=True,
            partial_shipments=True,
            acknowledge=False,
            inventory=False,
            rate_limit=RateSpec(requests=40, per_seconds=60.0),
            updates_unshipped=True,
        )

    # --- outbound ---------------------------------------------------------------------------

    def order_body(self, order: FulfillmentOrder, key: str) -> dict[str, Any]:
        """The createorder body; a full replacement, since ShipStation updates replace."""
        ship_to = order.ship_to
        address = {
            "name": ship_to.name,
            "company": ship_to.company or None,
            "street1": ship_to.address1,
            "street2": ship_to.address2 or None,
            "street3": ship_to.address3 or None,
            "city": ship_to.city,
            "state": ship_to.region,
            "postalCode": ship_to.postal_code,
            "country": ship_to.country,
            "phone": ship_to.phone or None,
            "residential": None,
        }
        custom = [f"{name}: {value}" for name, value in sorted(order.metadata.items())][:3]
        advanced: dict[str, Any] = {
            f"customField{index}": text[:100] for index, text in enumerate(custom, start=1)
        }
        if self.config.store_id is not None:
            advanced["storeId"] = self.config.store_id
        return {
            "orderNumber": order.order_number,
            "orderKey": key,
            "orderDate": to_pacific_text(datetime.now(UTC)),
            "orderStatus": "awaiting_shipment",
            "customerEmail": ship_to.email or None,
            "billTo": address,
            "shipTo": address,
            "items": [
                {
                    "lineItemKey": line.line_key,
                    "sku": line.sku,
                    "name": line.name,
                    "quantity": line.quantity,
                    "unitPrice": line.unit_price,
                }
                for line in order.lines
            ],
            "requestedShippingService": order.shipping_method or None,
            "customerNotes": order.notes or None,
            "gift": bool(order.gift_message),
            "giftMessage": order.gift_message or None,
            "advancedOptions": advanced,
        }

    def _remember(self, key: str, order_number: str) -> None:
        if len(self._order_numbers) > _CACHE_LIMIT:
            self._order_numbers.clear()
        self._order_numbers[key] = order_number

    def submit(self, order: FulfillmentOrder, key: str) -> SubmitResult:
        self._remember(key, order.order_number)
        response = self.api.write(
            "POST", "/orders/createorder", self.order_body(order, key), passthrough=(400, 422)
        )
        if response.status_code >= 400:
            raise _refusal(response, f"order {order.order_number}")
        data = error_json(response)
        if "orderId" not in data:
            raise TransientError("ShipStation accepted the order but sent no order id back")
        created = bool(data.get("createDate")) and data.get("createDate") == data.get("modifyDate")
        return SubmitResult(ref=RemoteRef(remote_id=str(data["orderId"]), key=key), created=created)

    def update(self, order: FulfillmentOrder, key: str, ref: RemoteRef) -> RemoteRef:
        """createorder again with the same ``orderKey``: ShipStation replaces the open order.

        An update replaces every field, so the order's current status and date are read first
        and sent back: an order a person put on hold stays on hold. ShipStation refuses (400)
        once the order is shipped or cancelled; that is a ``ValidationError``.
        """
        current = self.api.read(f"/orders/{ref.remote_id}")
        status = str(current.get("orderStatus") or "")
        if status not in UPDATABLE_STATUSES:
            raise ValidationError(
                f"ShipStation cannot update order {order.order_number}: it is {status or 'gone'}"
            )
        body = self.order_body(order, key)
        for name in ("orderStatus", "orderDate"):
            if current.get(name):
                body[name] = current[name]
        self._remember(key, order.order_number)
        response = self.api.write("POST", "/orders/createorder", body, passthrough=(400, 422))
        if response.status_code >= 400:
            raise _refusal(response, f"the update of order {order.order_number}")
        data = error_json(response)
        if "orderId" not in data:
            raise TransientError("ShipStation accepted the update but sent no order id back")
        return RemoteRef(remote_id=str(data["orderId"]), key=key)

    def submit_many(self, items: Sequence[tuple[FulfillmentOrder, str]]) -> list[SubmitOutcome]:
        """``/orders/createorders`` in chunks of 100; one refused order does not sink the rest."""
        outcomes: list[SubmitOutcome] = []
        stop: RemoteError | None = None
        for start in range(0, len(items), BULK_MAX):
            chunk = items[start : start + BULK_MAX]
            if stop is not None:
                outcomes.extend(SubmitOutcome(key, None, stop) for _, key in chunk)
                continue
            try:
                outcomes.extend(self._submit_chunk(chunk))
            except (RateLimited, AuthError) as exc:
                stop = exc
                outcomes.extend(SubmitOutcome(key, None, exc) for _, key in chunk)
            except RemoteError as exc:
                outcomes.extend(SubmitOutcome(key, None, exc) for _, key in chunk)
        return outcomes

    def _submit_chunk(self, chunk: Sequence[tuple[FulfillmentOrder, str]]) -> list[SubmitOutcome]:
        for order, key in chunk:
            self._remember(key, order.order_number)
        bodies = [self.order_body(order, key) for order, key in chunk]
        response = self.api.write("POST", "/orders/createorders", bodies, passthrough=(400, 422))
        if response.status_code >= 400:
            raise _refusal(response, f"a batch of {len(chunk)} orders")
        results = error_json(response).get("results") or []
        by_key = {str(r.get("orderKey")): r for r in results if r and r.get("orderKey")}
        outcomes = []
        for index, (order, key) in enumerate(chunk):
            result = by_key.get(key) or (results[index] if index < len(results) else None)
            if not result:
                error = TransientError(f"ShipStation sent no result for order {order.order_number}")
                outcomes.append(SubmitOutcome(key, None, error))
            elif result.get("success"):
                ref = RemoteRef(remote_id=str(result["orderId"]), key=key)
                outcomes.append(SubmitOutcome(key, ref))
            else:
                message = str(result.get("errorMessage") or "")
                error = classify_message(message, f"order {order.order_number}")
                outcomes.append(SubmitOutcome(key, None, error))
        return outcomes

    def cancel(self, ref: RemoteRef) -> CancelResult:
        """Re-post the open order with ``orderStatus: cancelled``, ShipStation's only cancel."""
        order = self.api.read(f"/orders/{ref.remote_id}")
        verdict = self._cancel_verdict(order)
        if verdict is not None:
            return verdict
        if any(not s.voided for s in self._label_shipments(int(order["orderId"]))):
            return CancelResult(state="too_late", detail="some packages have already shipped")
        body = {**order, "orderStatus": "cancelled"}
        response = self.api.write("POST", "/orders/createorder", body, passthrough=(400, 422))
        if response.status_code >= 400:
            verdict = self._cancel_verdict(self.api.read(f"/orders/{ref.remote_id}"))
            if verdict is not None:
                return verdict
            raise _refusal(response, f"cancelling order {ref.remote_id}")
        status = error_json(response).get("orderStatus")
        if status == "cancelled":
            return CancelResult(state="cancelled", detail=f"order {ref.remote_id} cancelled")
        return CancelResult(state="rejected", detail=f"ShipStation left the order {status}")

    @staticmethod
    def _cancel_verdict(order: dict[str, Any]) -> CancelResult | None:
        status = order.get("orderStatus")
        if status == "shipped":
            return CancelResult(state="too_late", detail="the order has already shipped")
        if status == "cancelled":
            return CancelResult(state="cancelled", detail="the order was already cancelled")
        if status == "rejected_fulfillment":
            return CancelResult(state="cancelled", detail="the warehouse had rejected the order")
        if status not in OPEN_STATUSES:
            return CancelResult(state="rejected", detail=f"cannot cancel an order in {status}")
        return None

    # --- inbound ----------------------------------------------------------------------------

    def _pages(self, path: str, collection: str, params: dict[str, Any]) -> Iterator[dict]:
        page = 1
        while True:
            data = self.api.read(path, {**params, "page": page})
            yield from (item for item in data.get(collection) or [] if item)
            if page >= int(data.get("pages") or 1):
                return
            page += 1

    def _label_shipments(self, order_id: int) -> list[RemoteShipment]:
        params = {"orderId": order_id, "includeShipmentItems": "true", "pageSize": MAX_PAGE_SIZE}
        return [
            label_shipment(item)
            for item in self._pages("/shipments", "shipments", params)
            if not item.get("isReturnLabel")
        ]

    def _snapshot(self, order: dict[str, Any]) -> RemoteOrder:
        """A complete snapshot of one order: its status, labels and fulfillments."""
        order_id = int(order["orderId"])
        self._order_keys[order_id] = str(order.get("orderKey") or "")
        shipments = self._label_shipments(order_id)
        params = {"orderId": order_id, "pageSize": MAX_PAGE_SIZE}
        shipments += [
            fulfillment_shipment(item)
            for item in self._pages("/fulfillments", "fulfillments", params)
        ]
        raw = str(order.get("orderStatus") or "")
        return RemoteOrder(
            ref=RemoteRef(remote_id=str(order_id), key=str(order.get("orderKey") or "")),
            status=settle_status(
                normalize(SHIPSTATION_STATUSES, raw), _order_lines(order), shipments
            ),
            raw_status=raw,
            updated_at=from_pacific_text(order.get("modifyDate")),
            shipments=shipments,
        )

    def get(self, ref: RemoteRef) -> RemoteOrder:
        return self._snapshot(self.api.read(f"/orders/{ref.remote_id}"))

    def find_by_key(self, key: str, order_number: str | None = None) -> RemoteOrder | None:
        """Search by order number (given, or remembered from a submit in this process) and
        match ``orderKey``; without a number, scan orders modified within the lookback."""
        number = order_number or self._order_numbers.get(key)
        if number:
            params: dict[str, Any] = {"orderNumber": number, "pageSize": MAX_PAGE_SIZE}
        else:
            since = datetime.now(UTC) - timedelta(minutes=self.config.initial_lookback_minutes)
            params = {
                "modifyDateStart": to_pacific_text(since),
                "sortBy": "ModifyDate",
                "sortDir": "DESC",
                "pageSize": MAX_PAGE_SIZE,
            }
        for order in self._pages("/orders", "orders", params):
            if order.get("orderKey") == key:
                return self._snapshot(order)
        return None

    def _order_key(self, order_id: int) -> str:
        """``/fulfillments`` names only the order id; one cached order read finds our key."""
        if order_id not in self._order_keys:
            if len(self._order_keys) > _CACHE_LIMIT:
                self._order_keys.clear()
            try:
                order = self.api.read(f"/orders/{order_id}")
            except NotFound:
                return ""
            self._order_keys[order_id] = str(order.get("orderKey") or "")
        return self._order_keys[order_id]

    def changes_since(self, cursor: str | None, limit: int = 100) -> ChangePage:
        """One page of labels created, labels voided, then fulfillments created in a window.

        The window runs from the last high-watermark minus the overlap to the moment the scan
        began, frozen in the cursor so page numbers stay stable while we walk them. Orders come
        back as partial snapshots holding only the shipments on this page: ``shipped`` when one
        is live, ``accepted`` when all were voided. The core merges them and decides shipped vs
        partially shipped by coverage; ``get`` gives the full picture.
        """
        state = _Cursor.parse(cursor)
        if state.scan is None:
            now = datetime.now(UTC)
            if state.high_watermark:
                hw = datetime.fromisoformat(state.high_watermark)
                start = hw - timedelta(minutes=self.config.overlap_minutes)
            else:
                start = now - timedelta(minutes=self.config.initial_lookback_minutes)
            state.scan = _Scan(start=start.isoformat(), end=now.isoformat())
        size = max(1, min(limit, MAX_PAGE_SIZE))
        orders: list[RemoteOrder] = []
        while state.scan is not None and not orders:
            scan = state.scan
            records, pages = self._scan_page(scan, size)
            orders = self._group(PHASES[scan.phase], records)
            if scan.page < pages:
                scan.page += 1
            elif scan.phase + 1 < len(PHASES):
                scan.phase, scan.page = scan.phase + 1, 1
            else:
                state.high_watermark, state.scan = scan.end, None
        return ChangePage(orders=orders, next_cursor=state.dump(), has_more=state.scan is not None)

    def _scan_page(self, scan: _Scan, size: int) -> tuple[list[dict[str, Any]], int]:
        phase = PHASES[scan.phase]
        start = to_pacific_text(datetime.fromisoformat(scan.start))
        end = to_pacific_text(datetime.fromisoformat(scan.end))
        params: dict[str, Any] = {"page": scan.page, "pageSize": size, "sortDir": "ASC"}
        if phase == "voids":
            params |= {"voidDateStart": start, "voidDateEnd": end, "includeShipmentItems": "true"}
        else:
            params |= {"createDateStart": start, "createDateEnd": end, "sortBy": "CreateDate"}
        if phase != "fulfillments":
            params["includeShipmentItems"] = "true"
            if self.config.store_id is not None:
                params["storeId"] = self.config.store_id
        path = "/fulfillments" if phase == "fulfillments" else "/shipments"
        data = self.api.read(path, params)
        records = [item for item in data.get(path.lstrip("/")) or [] if item]
        return records, int(data.get("pages") or 1)

    def _group(self, phase: str, records: list[dict[str, Any]]) -> list[RemoteOrder]:
        grouped: dict[int, list[RemoteShipment]] = {}
        for record in records:
            if record.get("isReturnLabel"):
                continue
            order_id = int(record["orderId"])
            if phase == "fulfillments":
                shipment = fulfillment_shipment(record)
            else:
                shipment = label_shipment(record)
                if record.get("orderKey"):
                    self._order_keys.setdefault(order_id, str(record["orderKey"]))
            grouped.setdefault(order_id, []).append(shipment)
        orders = []
        for order_id, shipments in grouped.items():
            live = any(not shipment.voided for shipment in shipments)
            orders.append(
                RemoteOrder(
                    ref=RemoteRef(remote_id=str(order_id), key=self._order_key(order_id)),
                    status=NormalizedStatus.SHIPPED if live else NormalizedStatus.ACCEPTED,
                    raw_status="shipped" if live else "awaiting_shipment",
                    updated_at=max((s.shipped_at for s in shipments if s.shipped_at), default=None),
                    shipments=shipments,
                )
            )
        return orders

    def healthcheck(self) -> None:
        try:
            self.api.read("/orders", {"pageSize": 1})
        except AuthError:
            raise AuthError(
                "ShipStation refused the API key and secret; check both in the backend config"
            ) from None
        except (TransientError, RateLimited) as exc:
            raise TransientError(f"ShipStation is not answering properly: {exc.message}") from None

    def close(self) -> None:
        self.api.close()
