"""Push what the merchant can still sell to the store's Order Desk inventory items.

Per store and off unless a person turns it on (``bridge stores update --inventory-sync``), for
backends that report stock. The level sent per SKU is the warehouse's available stock minus the
units of this store's orders the warehouse has not received yet (``reserved``), never below 0.
Only levels that differ from the one Order Desk last accepted (``inventory_levels``) are sent, in
batches, so a sync with nothing changed costs no Order Desk call. Items are addressed by SKU
(``code``); Order Desk answers per item, and an item it refuses (an unknown SKU) is counted and
logged, not stored, so it is tried again next time.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from bridge.backends.errors import NotSupported
from bridge.db import session_scope
from bridge.jobs import leases
from bridge.models import InventoryLevel, Store, utcnow
from bridge.orderdesk.records import InventoryUpdate
from bridge.pipeline.reserved import reserved_units
from bridge.remote.ratelimit import Priority
from bridge.stores.context import StoreContext

log = structlog.get_logger(__name__)

# A sync holds its store's lease this long at most; a second one meanwhile steps aside.
LEASE_SECONDS = 600
# How many refused SKUs are named in the log per sync (the rest are only counted).
LOGGED_REFUSALS = 20


@dataclass(frozen=True)
class SyncResult:
    """What one sync did; ``skipped`` names why nothing was looked at (else empty)."""

    sent: int = 0
    unchanged: int = 0
    refused: int = 0
    skipped: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def sellable_levels(session: Session, store_id: int, available: dict[str, int]) -> dict[str, int]:
    """Per SKU the warehouse reports: its available units minus the reserved ones, at least 0."""
    reserved = reserved_units(session, store_id)
    return {sku: max(0, count - reserved.get(sku, 0)) for sku, count in available.items()}


def _last_sent(session: Session, store_id: int) -> dict[str, int]:
    rows = session.execute(
        select(InventoryLevel.sku, InventoryLevel.level).where(InventoryLevel.store_id == store_id)
    )
    return {sku: level for sku, level in rows}


def _remember(store_id: int, accepted: dict[str, int]) -> None:
    if not accepted:
        return
    now = utcnow()
    with session_scope() as session:
        for sku, level in accepted.items():
            row = session.get(InventoryLevel, (store_id, sku))
            if row is None:
                session.add(InventoryLevel(store_id=store_id, sku=sku, level=level, sent_at=now))
            else:
                row.level, row.sent_at = level, now


def _skip_reason(store_id: int) -> str:
    with session_scope() as session:
        store = session.get(Store, store_id)
        if store is None:
            return "no such store"
        if not store.active:
            return "the store is disabled"
        if not store.inventory_sync:
            return "inventory sync is off for this store"
    return ""


def sync_inventory(store_id: int) -> SyncResult:
    """Send the changed sellable levels of one store to Order Desk; report the counts."""
    skipped = _skip_reason(store_id)
    if skipped:
        return SyncResult(skipped=skipped)
    context = StoreContext.load(store_id)
    if not context.capabilities.inventory:
        return SyncResult(skipped=f"the {context.backend_name} backend does not report stock")
    with leases.held(f"inventory:{store_id}", ttl=LEASE_SECONDS) as mine:
        if not mine:
            return SyncResult(skipped="another sync of this store is running")
        try:
            with context.backend_step() as backend:
                stock = backend.inventory()
        except NotSupported as exc:
            return SyncResult(skipped=str(exc))
        available: dict[str, int] = {}
        for item in stock:
            available[item.sku] = available.get(item.sku, 0) + item.available
        with session_scope() as session:
            levels = sellable_levels(session, store_id, available)
            last = _last_sent(session, store_id)
        changed = {sku: level for sku, level in sorted(levels.items()) if last.get(sku) != level}
        result = _send(context, store_id, changed, unchanged=len(levels) - len(changed))
    log.info(
        "inventory_synced",
        store=context.orderdesk_store_id,
        sent=result.sent,
        unchanged=result.unchanged,
        refused=result.refused,
    )
    return result


def _send(
    context: StoreContext, store_id: int, changed: dict[str, int], unchanged: int
) -> SyncResult:
    if not changed:
        return SyncResult(unchanged=unchanged)
    with context.orderdesk_step(Priority.RECONCILE) as client:
        answers = client.batch_update_inventory(
            [InventoryUpdate(code=sku, stock=level) for sku, level in changed.items()]
        )
    accepted: dict[str, int] = {}
    refused = 0
    for (sku, level), answer in zip(changed.items(), answers, strict=True):
        if answer.ok:
            accepted[sku] = level
            continue
        refused += 1
        if refused <= LOGGED_REFUSALS:
            log.warning(
                "inventory_item_refused",
                store=context.orderdesk_store_id,
                sku=sku,
                message=answer.message,
            )
    _remember(store_id, accepted)
    return SyncResult(sent=len(accepted), unchanged=unchanged, refused=refused)
