"""Poll a store's warehouse for changes and merge them into our shipment rows.

Polling is the primary path (webhooks from warehouses are hints at best, docs/backends.md).
Each page of the change feed is merged and its cursor saved in one transaction, so a crash
re-reads at most one page. Backends re-read an overlap window, so merging is by package id:
a package seen twice is one row; a package never disappears because a later snapshot omits it;
a voided label is flagged (and retracted from Order Desk by the shipment step).
"""

from __future__ import annotations

from datetime import timedelta

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from bridge.backends.models import NormalizedStatus, RemoteOrder
from bridge.db import session_scope
from bridge.history import EventKind, record, transition
from bridge.jobs import followups, leases, queues
from bridge.models import BackendCursor, Order, Shipment, Store, utcnow
from bridge.pipeline import acknowledge
from bridge.states import OrderState, can_move
from bridge.stores.context import StoreContext

log = structlog.get_logger(__name__)

MAX_PAGES = 50
PAGE_SIZE = 100
# Warehouse statuses a person should hear about when an order enters them.
NOTEWORTHY = {
    NormalizedStatus.HELD,
    NormalizedStatus.EXCEPTION,
    NormalizedStatus.REJECTED,
    NormalizedStatus.UNKNOWN,
}


def cursor_row(session: Session, store_id: int, backend: str) -> BackendCursor:
    """The store's change-feed cursor for ``backend``, created on first use."""
    row = session.scalar(
        select(BackendCursor).where(
            BackendCursor.store_id == store_id, BackendCursor.backend == backend
        )
    )
    if row is None:
        row = BackendCursor(store_id=store_id, backend=backend)
        session.add(row)
        session.flush()
    return row


def poll_warehouse(store_id: int) -> int:
    """Read the store's warehouse change feed to its end; return the number of new packages."""
    new_packages = 0
    with leases.held(f"poll:{store_id}", ttl=600) as mine:
        if not mine:
            return 0
        context = StoreContext.load(store_id)
        with session_scope() as session:
            cursor = cursor_row(session, store_id, context.backend_name).cursor
        try:
            with context.backend_step() as backend:
                for _ in range(MAX_PAGES):
                    page = backend.changes_since(cursor, limit=PAGE_SIZE)
                    with session_scope() as session:
                        new_packages += merge(session, store_id, page.orders)
                        row = cursor_row(session, store_id, context.backend_name)
                        row.cursor = page.next_cursor
                        repeated = (
                            acknowledge.already_posted(session, store_id, page.orders)
                            if context.capabilities.acknowledge
                            else []
                        )
                    # Listed again though Order Desk has them (an acknowledgement was lost), or
                    # voided with the void now recorded: the warehouse may forget them.
                    acknowledge.send(backend, repeated, context.orderdesk_store_id)
                    cursor = page.next_cursor
                    if not page.has_more:
                        break
        finally:
            # Posted together once the feed is read, or once the poll stops early (a failure,
            # the credential's budget spent) with pages already merged: one batch, not one a page.
            if new_packages:
                with session_scope() as session:
                    followups.later(session, queues.POST_SHIPMENTS, store_id)
        now = utcnow()
        with session_scope() as session:
            row = cursor_row(session, store_id, context.backend_name)
            row.last_polled_at = now
            row.next_poll_at = now + timedelta(seconds=context.poll_interval_seconds)
    log.info("polled", store=context.orderdesk_store_id, new_packages=new_packages)
    return new_packages


def merge(session: Session, store_id: int, remote_orders: list[RemoteOrder]) -> int:
    """Fold warehouse snapshots into our rows; return how many packages were new.

    The rows are locked (in id order) before anything is decided from their state: a step that
    changed an order meanwhile is waited for, never overwritten. No SKIP LOCKED here: a skipped
    row would lose this page's packages once the cursor moves on.
    """
    keys = {remote.ref.key for remote in remote_orders}
    orders = {
        order.idempotency_key: order
        for order in session.scalars(
            select(Order)
            .where(Order.store_id == store_id, Order.idempotency_key.in_(keys))
            .order_by(Order.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    }
    new = 0
    for remote in remote_orders:
        order = orders.get(remote.ref.key)
        if order is None:
            log.info("warehouse_order_not_ours", store_row=store_id, key=remote.ref.key)
            continue
        new += _merge_order(session, order, remote)
    return new


def _merge_order(session: Session, order: Order, remote: RemoteOrder) -> int:
    if order.warehouse_ref is None:
        order.warehouse_ref = remote.ref.remote_id
    if remote.status.value != order.warehouse_status:
        if remote.status in NOTEWORTHY:
            record(
                session,
                order,
                EventKind.WAREHOUSE_STATUS,
                f"the warehouse reports {remote.status.value} ({remote.raw_status})",
            )
        order.warehouse_status = remote.status.value
    if remote.status is NormalizedStatus.CANCELLED and can_move(order.state, OrderState.CANCELLED):
        transition(session, order, OrderState.CANCELLED, "the warehouse reports it cancelled")

    known = {row.package_id: row for row in order.shipments}
    new = 0
    for shipment in remote.shipments:
        lines = [line.to_dict() for line in shipment.lines]
        for package in shipment.packages:
            row = known.get(package.package_id)
            if row is None:
                if shipment.voided:
                    continue
                row = Shipment(
                    order=order,
                    package_id=package.package_id,
                    remote_shipment_id=shipment.remote_id,
                    tracking_number=package.tracking_number,
                    carrier=shipment.carrier,
                    service=shipment.service,
                    tracking_url=package.tracking_url,
                    weight_oz=package.weight_oz,
                    lines=lines,
                    shipped_at=shipment.shipped_at,
                )
                session.add(row)
                known[package.package_id] = row
                new += 1
            elif shipment.voided and not row.voided:
                row.voided = True
                record(
                    session,
                    order,
                    EventKind.SHIPMENT_VOIDED,
                    f"the warehouse voided label {row.tracking_number}",
                    package_id=row.package_id,
                )
    return new


def due_stores() -> list[int]:
    """Active stores whose next poll time has come (or that were never polled)."""
    now = utcnow()
    with session_scope() as session:
        stores = session.execute(
            select(Store.id, BackendCursor.next_poll_at)
            .outerjoin(
                BackendCursor,
                (BackendCursor.store_id == Store.id) & (BackendCursor.backend == Store.backend),
            )
            .where(Store.active.is_(True))
        ).all()
    return [store_id for store_id, due in stores if due is None or due <= now]
