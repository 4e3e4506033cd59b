"""Push the warehouse's stock levels to the store's Order Desk inventory items.

Only for backends that report inventory. Items are addressed by SKU (``code``); Order Desk's
batch update answers per item, and an unknown SKU is reported, not fatal.
"""

from __future__ import annotations

import structlog

from bridge.backends.errors import NotSupported
from bridge.jobs import leases
from bridge.orderdesk.records import InventoryUpdate
from bridge.remote.ratelimit import Priority
from bridge.stores.context import StoreContext

log = structlog.get_logger(__name__)


def sync_inventory(store_id: int) -> int:
    """Return how many SKUs Order Desk accepted (0 when the backend has no inventory)."""
    context = StoreContext.load(store_id)
    if not context.capabilities.inventory:
        return 0
    with leases.held(f"inventory:{store_id}", ttl=600) as mine:
        if not mine:
            return 0
        try:
            with context.backend_step() as backend:
                levels = backend.inventory()
        except NotSupported:
            return 0
        if not levels:
            return 0
        with context.orderdesk_step(Priority.RECONCILE) as client:
            results = client.batch_update_inventory(
                [InventoryUpdate(code=level.sku, stock=level.available) for level in levels]
            )
    refused = [result for result in results if not result.ok]
    for result in refused[:20]:
        log.warning(
            "inventory_item_refused",
            store=context.orderdesk_store_id,
            sku=result.code,
            message=result.message,
        )
    return len(results) - len(refused)
