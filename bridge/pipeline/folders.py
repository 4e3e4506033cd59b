"""Move a store's submitted orders to its "In Process" folder in Order Desk.

One ``move-orders`` call takes up to 100 orders and every call spends a token of the store's
request bucket, so the orders of a burst are moved together: submit coalesces its triggers into
one delayed run per store, and a lease per store keeps two workers from moving the same rows.
Shipments wait for the move (the merchant's folder rules expect that order), so a move that
landed asks for the store's shipments to be posted.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select

from bridge.db import session_scope
from bridge.history import EventKind, record, transition
from bridge.jobs import coalesce, followups, leases, queues
from bridge.models import Order
from bridge.orderdesk.records import MoveResult
from bridge.pipeline import naive
from bridge.remote.ratelimit import Priority
from bridge.states import OrderState
from bridge.stores.context import StoreContext

# One ``move-orders`` call per round, recorded before the next: a task that gives its slot back
# for tokens (``OverBudget``) loses no move already made.
PER_CALL = 100
MAX_ORDERS = 1000


def move_in_process(store_id: int) -> int:
    """Move every submitted order of the store to its "In Process" folder; return how many."""
    moved = 0
    coalesce.starting(queues.MOVE_IN_PROCESS, store_id)
    with leases.held(f"move-in-process:{store_id}", ttl=300) as mine:
        if not mine:
            return 0
        context = StoreContext.load(store_id)
        with context.orderdesk_step(Priority.FOLDERS) as client:
            per_call = naive.per_call(PER_CALL)
            for _ in range(MAX_ORDERS // per_call):
                with session_scope() as session:
                    rows = session.execute(
                        select(Order.id, Order.orderdesk_order_id)
                        .where(
                            Order.store_id == store_id,
                            Order.state == OrderState.SUBMITTED.value,
                        )
                        .order_by(Order.id)
                        .limit(per_call)
                    ).all()
                if not rows:
                    break
                folder = client.folder_id(context.in_process_folder)
                results = client.move_orders(
                    [od_id for _, od_id in rows], folder_id=folder, chunk_size=per_call
                )
                by_od_id = {od_id: row_id for row_id, od_id in rows}
                done = _record_moves(context, by_od_id, results)
                moved += done
                if done == 0:
                    break
    return moved


def _record_moves(
    context: StoreContext, by_od_id: dict[str, int], results: Iterable[MoveResult]
) -> int:
    done = 0
    with session_scope() as session:
        # Locked in id order (as every step that locks several orders does), then re-checked.
        orders = {
            order.id: order
            for order in session.scalars(
                select(Order)
                .where(Order.id.in_(by_od_id.values()))
                .order_by(Order.id)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        }
        for result in results:
            order = orders.get(by_od_id[result.order_id])
            if order is None or order.state != OrderState.SUBMITTED.value:
                continue
            if result.ok:
                transition(
                    session,
                    order,
                    OrderState.IN_PROCESS,
                    f'moved to "{context.in_process_folder}" in Order Desk',
                )
                done += 1
            else:
                order.last_error = f"move to {context.in_process_folder} refused: {result.message}"
                record(session, order, EventKind.ERROR, order.last_error)
        if done:
            # Shipments that waited for these moves can go now.
            followups.later(session, queues.POST_SHIPMENTS, context.id)
    return done
