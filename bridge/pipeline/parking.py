"""Make a parked order visible to the merchant in Order Desk.

An order the bridge will not send (no ship-to, refused by the warehouse) is ``rejected`` here;
the merchant learns why from a history note, and finds it in the store's error folder when one
is configured.
"""

from __future__ import annotations

from bridge.db import session_scope
from bridge.history import EventKind, record
from bridge.models import Order
from bridge.pipeline import notes
from bridge.remote.ratelimit import Priority
from bridge.states import OrderState
from bridge.stores.context import StoreContext


def park_in_orderdesk(order_id: int) -> None:
    """A history note with the reason, then the move to the error folder if the store has one."""
    with session_scope() as session:
        order = session.get(Order, order_id)
        if order is None:
            return
        store_id = order.store_id
    context = StoreContext.load(store_id)
    with context.orderdesk_step(Priority.FOLDERS) as client:
        notes.write(client, order_id, notes.NoteKind.PARKED)
        with session_scope() as session:
            order = session.get_one(Order, order_id)
            if order.state != OrderState.REJECTED.value or not context.error_folder:
                return
            od_id = order.orderdesk_order_id
        folder = client.folder_id(context.error_folder)
        [result] = client.move_orders([od_id], folder_id=folder)
    with session_scope() as session:
        order = session.get_one(Order, order_id)
        record(
            session,
            order,
            EventKind.ORDERDESK_MOVE,
            f'moved to "{context.error_folder}"'
            if result.ok
            else f"move refused: {result.message}",
        )
