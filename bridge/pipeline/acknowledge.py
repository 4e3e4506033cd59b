"""Tell the warehouse which shipments Order Desk has, for backends whose feed lists the rest.

A warehouse with an acknowledgement feed (ShipBob's "tracking uploaded" flag, a file drop's
archive) keeps listing a shipment until it is acknowledged, and forgets it afterwards. So a
shipment is acknowledged only once every package of it is in Order Desk (or voided): too early
would lose it for good if the post then failed. Two steps acknowledge: the shipment step right
after Order Desk took the packages, and the poll for packages the feed lists again although
they are already posted (an acknowledgement lost to a crash or a warehouse error). A failed
acknowledgement is logged and left to the next poll, never retried in a loop here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import structlog
from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from bridge.backends.base import WarehouseBackend
from bridge.backends.models import Package, RemoteOrder, RemoteShipment
from bridge.db import session_scope
from bridge.models import Order, Shipment
from bridge.remote.errors import RemoteError
from bridge.stores.context import StoreContext

log = structlog.get_logger(__name__)

Pair = tuple[int, str]  # (our order row id, the warehouse's shipment id)


def _complete(session: Session, pairs: Iterable[Pair]) -> list[RemoteShipment]:
    """The warehouse shipments among ``pairs`` whose every package is posted or voided."""
    wanted = sorted(set(pairs))
    if not wanted:
        return []
    rows = session.execute(
        select(
            Shipment.order_id,
            Shipment.remote_shipment_id,
            Shipment.package_id,
            Shipment.posted_at.is_not(None) | Shipment.voided,
        ).where(tuple_(Shipment.order_id, Shipment.remote_shipment_id).in_(wanted))
    ).all()
    grouped: dict[Pair, list[str]] = {}
    waiting: set[Pair] = set()
    for order_id, remote_id, package_id, done in rows:
        grouped.setdefault((order_id, remote_id), []).append(package_id)
        if not done:
            waiting.add((order_id, remote_id))
    return [
        RemoteShipment(
            remote_id=remote_id,
            packages=[Package(package_id=package_id) for package_id in sorted(package_ids)],
        )
        for (order_id, remote_id), package_ids in sorted(grouped.items())
        if (order_id, remote_id) not in waiting
    ]


def posted_shipments(shipment_row_ids: Sequence[int]) -> list[RemoteShipment]:
    """The warehouse shipments of these just-posted rows that Order Desk now has whole."""
    if not shipment_row_ids:
        return []
    with session_scope() as session:
        pairs = session.execute(
            select(Shipment.order_id, Shipment.remote_shipment_id).where(
                Shipment.id.in_(shipment_row_ids)
            )
        ).all()
        return _complete(session, [(order_id, remote_id) for order_id, remote_id in pairs])


def already_posted(
    session: Session, store_id: int, remote_orders: Sequence[RemoteOrder]
) -> list[RemoteShipment]:
    """Shipments of a feed page (already merged in ``session``) the warehouse may forget: those
    Order Desk already has whole, and voided ones, whose void the merge has just recorded (a
    retraction from Order Desk then follows from our rows, not from the feed)."""
    keys = {remote.ref.key for remote in remote_orders}
    if not keys:
        return []
    order_ids = dict(
        session.execute(
            select(Order.idempotency_key, Order.id).where(
                Order.store_id == store_id, Order.idempotency_key.in_(keys)
            )
        ).all()
    )
    ours = [remote for remote in remote_orders if remote.ref.key in order_ids]
    voided = [shipment for remote in ours for shipment in remote.shipments if shipment.voided]
    pairs = [
        (order_ids[remote.ref.key], shipment.remote_id)
        for remote in ours
        for shipment in remote.shipments
        if not shipment.voided
    ]
    if not pairs:
        return voided
    posted = set(
        session.execute(
            select(Shipment.order_id, Shipment.remote_shipment_id).where(
                tuple_(Shipment.order_id, Shipment.remote_shipment_id).in_(sorted(set(pairs))),
                Shipment.posted_at.is_not(None),
            )
        ).all()
    )
    return voided + _complete(session, [pair for pair in pairs if pair in posted])


def send(backend: WarehouseBackend, shipments: Sequence[RemoteShipment], store: str) -> int:
    """Acknowledge ``shipments``; return how many were, 0 after a failure (logged)."""
    if not shipments or not backend.capabilities().acknowledge:
        return 0
    try:
        backend.acknowledge(shipments)
    except RemoteError as exc:
        log.warning("acknowledge_failed", store=store, shipments=len(shipments), error=str(exc))
        return 0
    log.info("acknowledged", store=store, shipments=len(shipments))
    return len(shipments)


def after_post(context: StoreContext, shipment_row_ids: Sequence[int]) -> int:
    """The shipment step's half: acknowledge what Order Desk just took, when the backend asks."""
    if not shipment_row_ids or not context.capabilities.acknowledge:
        return 0
    shipments = posted_shipments(shipment_row_ids)
    if not shipments:
        return 0
    with context.backend() as backend:
        return send(backend, shipments, context.orderdesk_store_id)
