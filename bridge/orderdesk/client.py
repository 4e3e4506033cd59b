"""The Order Desk REST API v2 as the bridge uses it: one client object per store.

Reads and idempotent writes (folder moves, absolute stock levels) are retried by the transport.
Shipment creation is not idempotent on our side of the wire, so an unclear outcome is settled by
looking: list the order's shipments and match tracking number + carrier before posting again.
Order Desk itself refuses a repeat of the same package ("Shipment Not Added"), and that answer is
settled the same way, so one package never becomes two shipments however the network behaves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

import requests
import structlog

from bridge.orderdesk.errors import FolderNotFound, Rejected
from bridge.orderdesk.payload import Order, Shipment
from bridge.orderdesk.records import (
    InventoryUpdate,
    ItemResult,
    MoveResult,
    OrderPage,
    ShipmentIn,
    ShipmentItem,
    ShipmentResult,
    StoreInfo,
    as_order_id,
)
from bridge.orderdesk.transport import Timeout, Transport, path_id
from bridge.remote.errors import AmbiguousOutcome, RateLimited, RemoteError, TransientError
from bridge.remote.ratelimit import RateLimiter, orderdesk_limiter
from bridge.settings import get_settings

__all__ = [
    "InventoryUpdate",
    "ItemResult",
    "MoveResult",
    "OrderDeskClient",
    "ShipmentIn",
    "ShipmentItem",
    "ShipmentResult",
    "StoreInfo",
]

log = structlog.get_logger(__name__)

MAX_PAGE_SIZE = 500
# Order Desk allows 2000 characters per note including its own date/user prefix, and asks
# integrators to keep the content under 1800.
MAX_NOTE_CHARS = 1800
# Items per PUT /batch-inventory-items: Order Desk documents no maximum; 100 like its other
# batch calls (docs/orderdesk.md#inventory).
INVENTORY_BATCH_MAX = 100
NOT_ADDED = "shipment not added"


def _date_param(value: datetime | str | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return value.strftime("%Y-%m-%d %H:%M:%S")


def _folders_by_name(raw: Any) -> dict[str, int]:
    # ``{"21654": "New", ...}``, or ``[]`` when a store has none (PHP's empty array).
    folders: dict[str, int] = {}
    if isinstance(raw, dict):
        for folder_id, name in sorted(raw.items(), key=lambda item: int(item[0])):
            folders.setdefault(str(name), int(folder_id))
    return folders


def _result_items(envelope: dict[str, Any] | None) -> list[Any] | None:
    items = envelope.get("results") if envelope else None
    return items if isinstance(items, list) else None


def _item_ok(item: dict[str, Any]) -> bool:
    return str(item.get("status", "")).lower() == "success"


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    if size < 1:
        raise ValueError("chunk_size must be at least 1")
    for start in range(0, len(items), size):
        yield items[start : start + size]


class OrderDeskClient:
    """Order Desk for one store; safe to share between calls, not meant for concurrent threads."""

    def __init__(
        self,
        store_id: str,
        api_key: str,
        base_url: str | None = None,
        *,
        timeout: Timeout | None = None,
        limiter: RateLimiter | None = None,
        session: requests.Session | None = None,
        read_retries: int = 4,
        acquire_timeout: float | None = 120.0,
        folders: dict[str, int] | None = None,
        on_folders: Callable[[dict[str, int]], None] | None = None,
    ) -> None:
        """``folders`` is the folder name → id cache; a caller that keeps one (the store row's,
        which intake reads too) hands it in, and hears each refresh through ``on_folders``.
        ``timeout`` defaults to 5 s to connect and ``BRIDGE_HTTP_TIMEOUT`` to read."""
        self.store_id = str(store_id).strip()
        self._transport = Transport(
            store_id=self.store_id,
            api_key=api_key,
            base_url=base_url or get_settings().orderdesk_api_url,
            timeout=timeout if timeout is not None else (5, get_settings().http_timeout),
            limiter=limiter if limiter is not None else orderdesk_limiter(self.store_id),
            session=session,
            retries=read_retries,
            acquire_timeout=acquire_timeout,
        )
        self._folders = folders if folders is not None else {}
        self._on_folders = on_folders

    @property
    def base_url(self) -> str:
        return self._transport.base_url

    def __repr__(self) -> str:
        return f"OrderDeskClient(store_id={self.store_id!r}, base_url={self.base_url!r})"

    def __enter__(self) -> OrderDeskClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._transport.close()

    def _get(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self._transport.call("GET", path, params=params, idempotent=True)

    # -- store ---------------------------------------------------------------------------------

    def test(self) -> dict[str, Any]:
        """``GET /test``: credentials work and Order Desk answers (returns its envelope)."""
        return self._get("/test")

    def get_store(self) -> StoreInfo:
        store = self._get("/store").get("store") or {}
        settings = store.get("settings") if isinstance(store.get("settings"), dict) else {}
        info = StoreInfo(
            id=str(store.get("id", self.store_id)),
            name=str(store.get("name", "")),
            timezone=str(settings.get("timezone", "")),
            folders=_folders_by_name(store.get("folders")),
        )
        self._folders.clear()
        self._folders.update(info.folders)
        if self._on_folders is not None:
            self._on_folders(dict(info.folders))
        return info

    def folder_id(self, name: str) -> int:
        """The id of a folder by its exact name; a miss refreshes once (folders get created)."""
        if name in self._folders:
            return self._folders[name]
        folders = self.get_store().folders
        if name not in folders:
            raise FolderNotFound(name, list(folders), store_id=self.store_id)
        return folders[name]

    # -- orders --------------------------------------------------------------------------------

    def get_order(self, order_id: str | int) -> Order:
        return Order.model_validate(self.get_order_data(order_id))

    def get_order_data(self, order_id: str | int) -> dict[str, Any]:
        """The order as Order Desk's JSON object, untyped: what a webhook would have posted."""
        envelope = self._get(f"/orders/{path_id(order_id)}")
        return envelope.get("order") or {}

    def list_orders(
        self,
        *,
        start: datetime | str | None = None,
        end: datetime | str | None = None,
        modified_start: datetime | str | None = None,
        modified_end: datetime | str | None = None,
        folder_id: int | str | Iterable[int | str] | None = None,
        folder_name: str | None = None,
        source_id: str | None = None,
        page_size: int = MAX_PAGE_SIZE,
    ) -> Iterator[Order]:
        """Every matching order, following ``offset`` pages lazily.

        Offset paging over a set that changes (orders moving out of a filtered folder while we
        page) can skip records; callers that move what they list should list again until empty.
        Order Desk asks integrators to bound queries by date.
        """
        if isinstance(folder_id, Iterable) and not isinstance(folder_id, str):
            folder_id = ",".join(str(value) for value in folder_id)
        limit = max(1, min(page_size, MAX_PAGE_SIZE))
        params: dict[str, Any] = {
            key: value
            for key, value in {
                "search_start_date": _date_param(start),
                "search_end_date": _date_param(end),
                "modified_start_date": _date_param(modified_start),
                "modified_end_date": _date_param(modified_end),
                "folder_id": folder_id,
                "folder_name": folder_name,
                "source_id": source_id,
            }.items()
            if value not in (None, "")
        }
        offset = 0
        while True:
            envelope = self._get("/orders", {**params, "limit": limit, "offset": offset})
            page = envelope.get("orders") or []
            for raw in page:
                yield Order.model_validate(raw)
            offset += len(page)
            total = int(envelope.get("total_records") or 0)
            if len(page) < limit or offset >= total:
                return

    def order_pages(
        self,
        *,
        folder_ids: Iterable[int | str],
        modified_start: datetime | str,
        added_start: datetime | str | None = None,
        page_size: int = 100,
    ) -> Iterator[OrderPage]:
        """``GET /orders`` in the given folders modified (and added) since a moment, one
        request per page.

        Pages are the raw order objects (every field as Order Desk sent it), oldest change first,
        so orders modified while we page land behind us rather than shifting what is ahead.
        Each page carries the total Order Desk reported, so a caller can tell whether the set
        changed while it paged (an order leaving the folder shifts the rest back by one).
        """
        limit = max(1, min(page_size, MAX_PAGE_SIZE))
        params: dict[str, Any] = {
            "folder_id": ",".join(str(folder) for folder in folder_ids),
            "modified_start_date": _date_param(modified_start),
            "search_start_date": _date_param(added_start),
            "order_by": "date_updated",
            "order": "ASC",
            "limit": limit,
        }
        params = {key: value for key, value in params.items() if value is not None}
        offset = 0
        while True:
            envelope = self._get("/orders", {**params, "offset": offset})
            page = envelope.get("orders") or []
            total = int(envelope.get("total_records") or 0)
            orders = [raw for raw in page if isinstance(raw, dict)]
            yield OrderPage(orders=orders, offset=offset, total=total)
            offset += len(page)
            if len(page) < limit or offset >= total:
                return

    def move_orders(
        self,
        order_ids: Iterable[str | int],
        *,
        folder_id: int | None = None,
        folder_name: str | None = None,
        chunk_size: int = 100,
    ) -> list[MoveResult]:
        """Move orders to one folder, in chunks; one result per id, in input order.

        A name is resolved to its id first (cached), so a typo fails fast with the store's folder
        list instead of once per chunk. Moves are idempotent and retried like reads.
        """
        if (folder_id is None) == (folder_name is None):
            raise ValueError("give exactly one of folder_id and folder_name")
        destination = folder_id if folder_id is not None else self.folder_id(str(folder_name))
        ids = [str(order_id).strip() for order_id in order_ids]
        results: list[MoveResult] = []
        for chunk in _chunks(ids, chunk_size):
            body = {
                "order_id_list": [as_order_id(order_id) for order_id in chunk],
                "destination_folder_id": int(destination),
            }
            try:
                envelope: dict[str, Any] | None = self._transport.call(
                    "POST", "/move-orders", body=body, idempotent=True
                )
            except Rejected as exc:
                # A chunk of only unknown ids fails as a whole, yet still explains each id.
                if _result_items(exc.envelope) is None:
                    raise
                envelope = exc.envelope
            results.extend(self._move_results(chunk, _result_items(envelope) or []))
        return results

    @staticmethod
    def _move_results(chunk: Sequence[str], items: list[Any]) -> list[MoveResult]:
        by_id = {
            str(item.get("order_id")).strip(): item for item in items if isinstance(item, dict)
        }
        results = []
        for order_id in chunk:
            item = by_id.get(order_id)
            if item is None:
                results.append(MoveResult(order_id, False, "missing from Order Desk's answer"))
                continue
            message = str(item.get("message", ""))
            ok = _item_ok(item) if "status" in item else message.lower().startswith("order moved")
            original = item.get("original_folder_id")
            results.append(
                MoveResult(order_id, ok, message, None if original in (None, "") else str(original))
            )
        return results

    def add_history_note(self, order_id: str | int, note: str) -> None:
        """Append a line to the order's history (truncated to Order Desk's guidance).

        Not retried after an ambiguous send: a note posted twice is harmless but clutters the
        merchant's history, and nothing lets us check for it cheaply; the caller decides.
        """
        if len(note) > MAX_NOTE_CHARS:
            note = note[: MAX_NOTE_CHARS - 1] + "…"
        self._transport.call(
            "POST",
            f"/orders/{path_id(order_id)}/order-history",
            body={"note": note},
            idempotent=False,
        )

    # -- shipments -----------------------------------------------------------------------------

    def list_shipments(self, order_id: str | int) -> list[Shipment]:
        envelope = self._get(f"/orders/{path_id(order_id)}/shipments")
        return [Shipment.model_validate(raw) for raw in envelope.get("shipments") or []]

    def delete_shipment(self, order_id: str | int, shipment_id: str | int) -> None:
        """Remove a shipment (a voided label); a repeat is harmless, so it retries like a read."""
        try:
            self._transport.call(
                "DELETE",
                f"/orders/{path_id(order_id)}/shipments/{path_id(shipment_id)}",
                idempotent=True,
            )
        except Rejected as exc:
            # Already gone (an earlier attempt's answer was lost): the goal is reached.
            if getattr(exc, "status_code", None) != 404 and "not found" not in str(exc).lower():
                raise

    def add_shipment(self, order_id: str | int, shipment: ShipmentIn) -> ShipmentResult:
        """Record one package on one order, exactly once.

        Returns ``ok=False`` with Order Desk's message when it refuses the shipment; raises
        ``AmbiguousOutcome`` only if even the second post's fate is unknown and unverifiable.
        """
        order_id = str(order_id).strip()
        if shipment.order_id != order_id:
            raise ValueError(f"shipment is for order {shipment.order_id}, not {order_id}")
        path = f"/orders/{path_id(order_id)}/shipments"
        for attempt in (1, 2):
            try:
                envelope = self._transport.call(
                    "POST", path, body=shipment.body(with_order_id=False), idempotent=False
                )
            except Rejected as exc:
                found = self._find(shipment) if NOT_ADDED in exc.message.lower() else None
                if found is not None:
                    return self._existing(shipment, found, reconciled=attempt > 1)
                return ShipmentResult(order_id, False, None, exc.message)
            except AmbiguousOutcome as exc:
                found = self._find(shipment)
                if found is not None:
                    return self._landed(shipment, found)
                if attempt == 2:
                    raise
                log.warning(
                    "orderdesk.shipment_resend",
                    store_id=self.store_id,
                    order_id=order_id,
                    reason=exc.message,
                )
                continue
            created = envelope.get("shipment")
            shipment_id = created.get("id") if isinstance(created, dict) else None
            return ShipmentResult(
                order_id,
                True,
                None if shipment_id in (None, "") else str(shipment_id),
                str(envelope.get("message", "Shipment Added")),
            )
        raise AssertionError("unreachable")

    def batch_shipments(
        self, shipments: Sequence[ShipmentIn], chunk_size: int = 100
    ) -> list[ShipmentResult]:
        """Post packages with ``POST /batch-shipments``; results are aligned with ``shipments``.

        Each item of Order Desk's ``results`` is checked on its own. Items whose outcome is
        unclear (the whole chunk's answer was lost, or an item is missing from it) are looked up
        on their order and re-posted once, together, only if absent.
        """
        results: list[ShipmentResult | None] = [None] * len(shipments)
        for chunk in _chunks(range(len(shipments)), chunk_size):
            self._post_batch(shipments, list(chunk), results, last_try=False)
        settled = [result for result in results if result is not None]
        assert len(settled) == len(shipments), "every shipment gets a result"
        return settled

    def _post_batch(
        self,
        shipments: Sequence[ShipmentIn],
        indices: list[int],
        results: list[ShipmentResult | None],
        *,
        last_try: bool,
    ) -> None:
        body = [shipments[index].body(with_order_id=True) for index in indices]
        items: list[Any] | None
        try:
            envelope = self._transport.call("POST", "/batch-shipments", body=body, idempotent=False)
            items = _result_items(envelope)
        except AmbiguousOutcome as exc:
            log.warning("orderdesk.batch_unclear", store_id=self.store_id, reason=exc.message)
            items = None
        except Rejected as exc:
            items = _result_items(exc.envelope)
            if items is None:
                raise
        unclear: list[int] = []
        not_added: list[int] = []
        for position, index in enumerate(indices):
            item = items[position] if items is not None and position < len(items) else None
            shipment = shipments[index]
            if not isinstance(item, dict):
                unclear.append(index)
            elif _item_ok(item):
                shipment_id = item.get("shipment_id")
                results[index] = ShipmentResult(
                    shipment.order_id,
                    True,
                    None if shipment_id in (None, "") else str(shipment_id),
                    str(item.get("message", "Shipment Added")),
                )
            elif NOT_ADDED in str(item.get("message", "")).lower():
                not_added.append(index)
            else:
                message = str(item.get("message") or "refused without a message")
                results[index] = ShipmentResult(shipment.order_id, False, None, message)
        if not unclear and not not_added:
            return
        on_file, lookup_errors = self._shipments_of(
            {shipments[i].order_id for i in unclear + not_added}
        )
        resend: list[int] = []
        for index in not_added + unclear:
            shipment = shipments[index]
            found = next(
                (s for s in on_file.get(shipment.order_id, []) if shipment.matches(s)), None
            )
            if found is not None:
                results[index] = (
                    self._existing(shipment, found, reconciled=last_try)
                    if index in not_added
                    else self._landed(shipment, found)
                )
            elif shipment.order_id in lookup_errors:
                message = f"could not verify the shipment: {lookup_errors[shipment.order_id]}"
                results[index] = ShipmentResult(shipment.order_id, False, None, message)
            elif index in not_added:
                results[index] = ShipmentResult(
                    shipment.order_id, False, None, "Shipment Not Added"
                )
            elif last_try:
                message = "outcome unknown after a second post; posting again will be checked"
                results[index] = ShipmentResult(shipment.order_id, False, None, message)
            else:
                resend.append(index)
        if resend:
            self._post_batch(shipments, resend, results, last_try=True)

    def _shipments_of(
        self, order_ids: set[str]
    ) -> tuple[dict[str, list[Shipment]], dict[str, str]]:
        on_file: dict[str, list[Shipment]] = {}
        errors: dict[str, str] = {}
        for order_id in sorted(order_ids):
            try:
                on_file[order_id] = self.list_shipments(order_id)
            except RemoteError as exc:
                errors[order_id] = exc.message
        return on_file, errors

    def _find(self, shipment: ShipmentIn) -> Shipment | None:
        """The matching package on the order; a failed look-up leaves the write's fate unknown."""
        try:
            on_file = self.list_shipments(shipment.order_id)
        except (TransientError, RateLimited) as exc:
            raise AmbiguousOutcome(
                f"shipment {shipment.tracking_number} on order {shipment.order_id} could not be "
                f"verified: {exc.message}",
                service=exc.service,
                path=exc.path,
            ) from exc
        return next((s for s in on_file if shipment.matches(s)), None)

    @staticmethod
    def _existing(shipment: ShipmentIn, found: Shipment, *, reconciled: bool) -> ShipmentResult:
        return ShipmentResult(
            shipment.order_id,
            True,
            found.id or None,
            "already on the order",
            already_existed=True,
            reconciled=reconciled,
        )

    @staticmethod
    def _landed(shipment: ShipmentIn, found: Shipment) -> ShipmentResult:
        return ShipmentResult(
            shipment.order_id,
            True,
            found.id or None,
            "answer lost; found on the order",
            reconciled=True,
        )

    # -- inventory -----------------------------------------------------------------------------

    def batch_update_inventory(
        self,
        items: Sequence[InventoryUpdate | dict[str, Any]],
        chunk_size: int = INVENTORY_BATCH_MAX,
    ) -> list[ItemResult]:
        """Set inventory items with ``PUT /batch-inventory-items``; results align with ``items``.

        Stock levels are absolute, so a repeat cannot double anything: retried like a read.
        """
        updates = [InventoryUpdate.model_validate(item) for item in items]
        results: list[ItemResult] = []
        for chunk in _chunks(updates, chunk_size):
            body = [update.body() for update in chunk]
            try:
                envelope: dict[str, Any] | None = self._transport.call(
                    "PUT", "/batch-inventory-items", body=body, idempotent=True
                )
            except Rejected as exc:
                if _result_items(exc.envelope) is None:
                    raise
                envelope = exc.envelope
            answers = _result_items(envelope) or []
            for position, update in enumerate(chunk):
                item = answers[position] if position < len(answers) else None
                if not isinstance(item, dict):
                    results.append(
                        ItemResult(update.code, False, "missing from Order Desk's answer")
                    )
                    continue
                item_id = item.get("id", update.id)
                results.append(
                    ItemResult(
                        str(item.get("code") or update.code),
                        _item_ok(item),
                        str(item.get("message", "")),
                        None if item_id in (None, "") else str(item_id),
                    )
                )
        return results
