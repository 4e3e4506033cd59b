"""What a signed order asks of the bridge beyond being stored: a cancellation, or parking.

Both paths ask these; the one-statement accept only takes orders for which both answers are no.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bridge.backends.fulfillment import Unfulfillable, to_fulfillment_order
from bridge.intake.storecache import StoreSnapshot
from bridge.models import Store
from bridge.orderdesk import payload


def is_cancel_request(store: Store | StoreSnapshot, order_json: Mapping[str, Any]) -> bool:
    """An order posted while it sits in the store's cancel folder asks us to cancel it.

    The folder id is resolved through ``orderdesk_folders`` (filled from ``GET /store`` outside
    the request); a payload that names its folder is matched by name as well.
    """
    cancel_folder = (store.cancel_folder or "").strip()
    if not cancel_folder:
        return False
    folder_id = (store.orderdesk_folders or {}).get(cancel_folder)
    posted_id = order_json.get("folder_id")
    if folder_id is not None and posted_id is not None and str(posted_id) == str(folder_id):
        return True
    folder_name = order_json.get("folder_name")
    return isinstance(folder_name, str) and folder_name.strip() == cancel_folder


def why_unfulfillable(order: payload.Order) -> str | None:
    """Why the warehouse could not ship this order as sent, in words for the merchant."""
    try:
        to_fulfillment_order(order)
    except Unfulfillable as exc:
        return exc.reason
    return None
