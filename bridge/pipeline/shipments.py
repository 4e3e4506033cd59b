"""Post the warehouse's packages to Order Desk, and take back the ones whose label was voided.

Per store, packages go out in ``batch-shipments`` calls of up to 100 (every call spends a token
of the store's request bucket); a lease per store keeps two workers from posting the same rows.
Once Order Desk has the units, the order moves to ``partially_shipped`` or ``shipped``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from bridge.backends.coverage import coverage_status
from bridge.backends.fulfillment import Unfulfillable, to_fulfillment_order
from bridge.backends.models import NormalizedStatus, RemoteShipment, ShippedLine
from bridge.db import session_scope
from bridge.history import EventKind, record, transition
from bridge.jobs import leases
from bridge.metrics import SHIPMENTS_POSTED
from bridge.models import Order, Shipment, utcnow
from bridge.orderdesk.client import OrderDeskClient
from bridge.orderdesk.payload import Order as OrderDeskOrder
from bridge.orderdesk.records import ShipmentIn, ShipmentItem, ShipmentResult
from bridge.pipeline import acknowledge, naive
from bridge.pipeline.labels import carrier_code, shipment_method
from bridge.remote.ratelimit import Priority
from bridge.settings import get_settings
from bridge.states import OrderState, can_move
from bridge.stores.context import StoreContext

# One ``batch-shipments`` call per round, recorded before the next: a task that gives its slot
# back for tokens (``OverBudget``) leaves no posted package unrecorded.
PER_CALL = 100
MAX_PACKAGES = 1000
# Orders whose shipments may be posted: moved to "In Process" first, so the merchant's folder
# rules see the orders in the order Order Desk expects. A shipped order may still get a package:
# the replacement label after a void.
POSTABLE_STATES = (
    OrderState.IN_PROCESS.value,
    OrderState.PARTIALLY_SHIPPED.value,
    OrderState.SHIPPED.value,
    OrderState.CANCEL_REQUESTED.value,
)


def still_to_post(*columns: Any) -> Select[Any]:
    """``columns`` of the packages still to post: of a postable order, not posted, not voided,
    attempts left. The shipment step posts them; the sweeper looks for stores that have some."""
    return (
        select(*columns)
        .select_from(Shipment)
        .join(Order, Shipment.order_id == Order.id)
        .where(
            Order.state.in_(POSTABLE_STATES),
            Shipment.posted_at.is_(None),
            Shipment.voided.is_(False),
            Shipment.attempts < get_settings().max_attempts,
        )
    )


def _shipment_in(shipment: Shipment, od_order_id: str) -> ShipmentIn:
    items = [
        ShipmentItem(code=line["sku"], quantity=int(line["quantity"]))
        for line in shipment.lines
        if line.get("sku") and int(line.get("quantity") or 0) > 0
    ]
    return ShipmentIn(
        order_id=od_order_id,
        tracking_number=shipment.tracking_number,
        carrier_code=carrier_code(shipment.carrier),
        shipment_method=shipment_method(shipment.carrier, shipment.service),
        weight=round(shipment.weight_oz / 16, 3) if shipment.weight_oz else None,
        tracking_url=shipment.tracking_url,
        order_items=items or None,
    )


def post_shipments(store_id: int) -> int:
    """Post every unposted package of the store's moved orders; return how many landed.

    Then, for a warehouse whose feed lists what was not acknowledged, acknowledge the shipments
    Order Desk now holds whole (``acknowledge``): only after Order Desk answered for them.
    """
    posted = 0
    landed_ids: list[int] = []
    with leases.held(f"post-shipments:{store_id}", ttl=300) as mine:
        if not mine:
            return 0
        context = StoreContext.load(store_id)
        with context.orderdesk_step(Priority.SHIPMENTS) as client:
            per_call = naive.per_call(PER_CALL)
            for _ in range(MAX_PACKAGES // per_call):
                with session_scope() as session:
                    rows = session.execute(
                        still_to_post(Shipment, Order.orderdesk_order_id)
                        .where(Order.store_id == store_id)
                        .order_by(Shipment.id)
                        .limit(per_call)
                    ).all()
                if not rows:
                    break
                results = client.batch_shipments(
                    [_shipment_in(s, od) for s, od in rows], chunk_size=per_call
                )
                landed = _record_posts([s.id for s, _ in rows], results)
                landed_ids.extend(s.id for (s, _), r in zip(rows, results, strict=True) if r.ok)
                posted += landed
                if landed == 0:
                    break
            _retract_voided(context, client)
        acknowledge.after_post(context, landed_ids)
    return posted


def _record_posts(shipment_ids: list[int], results: list[ShipmentResult]) -> int:
    landed = 0
    touched: set[int] = set()
    now = utcnow()
    with session_scope() as session:
        # The orders are locked first, in id order, so the shipping state below is decided on
        # what they are now, not on what they were when the batch was read.
        orders = {
            order.id: order
            for order in session.scalars(
                select(Order)
                .where(Order.id.in_(select(Shipment.order_id).where(Shipment.id.in_(shipment_ids))))
                .order_by(Order.id)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        }
        for shipment_id, result in zip(shipment_ids, results, strict=True):
            shipment = session.get(Shipment, shipment_id, with_for_update=True)
            if shipment.posted_at is not None:
                continue
            touched.add(shipment.order_id)
            if result.ok:
                shipment.posted_at = now
                shipment.orderdesk_shipment_id = result.shipment_id
                shipment.last_error = None
                landed += 1
                SHIPMENTS_POSTED.inc()
                how = " (already there)" if result.already_existed or result.reconciled else ""
                record(
                    session,
                    shipment.order,
                    EventKind.SHIPMENT_POSTED,
                    f"package {shipment.tracking_number} ({shipment.carrier}) "
                    f"posted to Order Desk{how}",
                    package_id=shipment.package_id,
                    orderdesk_shipment_id=result.shipment_id,
                )
            else:
                shipment.attempts += 1
                shipment.last_error = result.message
                record(
                    session,
                    shipment.order,
                    EventKind.ERROR,
                    f"Order Desk refused package {shipment.tracking_number}: {result.message}",
                    package_id=shipment.package_id,
                )
        for order_id in touched:
            _advance_shipping_state(session, orders[order_id])
    return landed


def _advance_shipping_state(session: Session, order: Order) -> None:
    """Move the order to partially_shipped / shipped by the units Order Desk now has."""
    posted = [s for s in order.shipments if s.posted_at is not None and not s.voided]
    if not posted:
        return
    try:
        ordered = to_fulfillment_order(OrderDeskOrder.model_validate(order.payload)).lines
    except Unfulfillable:
        return
    by_remote: dict[str, RemoteShipment] = {}
    for row in posted:
        by_remote.setdefault(
            row.remote_shipment_id,
            RemoteShipment(
                remote_id=row.remote_shipment_id,
                shipped_at=row.shipped_at,
                carrier=row.carrier,
                service=row.service,
                voided=False,
                packages=[],
                lines=[ShippedLine.model_validate(line) for line in row.lines],
            ),
        )
    status = coverage_status(ordered, list(by_remote.values()))
    target = {
        NormalizedStatus.SHIPPED: OrderState.SHIPPED,
        NormalizedStatus.PARTIALLY_SHIPPED: OrderState.PARTIALLY_SHIPPED,
    }.get(status)
    if target is not None and can_move(order.state, target):
        transition(session, order, target, f"{len(posted)} package(s) in Order Desk")


def _retract_voided(context: StoreContext, client: OrderDeskClient) -> None:
    """A label voided after we posted it: delete that shipment from Order Desk."""
    with session_scope() as session:
        rows = session.execute(
            select(Shipment.id, Shipment.orderdesk_shipment_id, Order.orderdesk_order_id)
            .join(Order, Shipment.order_id == Order.id)
            .where(
                Order.store_id == context.id,
                Shipment.voided.is_(True),
                Shipment.posted_at.is_not(None),
                Shipment.retracted_at.is_(None),
                Shipment.orderdesk_shipment_id.is_not(None),
            )
        ).all()
    for shipment_id, od_shipment_id, od_order_id in rows:
        client.delete_shipment(od_order_id, od_shipment_id)
        with session_scope() as session:
            shipment = session.get(Shipment, shipment_id)
            shipment.retracted_at = utcnow()
            record(
                session,
                shipment.order,
                EventKind.SHIPMENT_RETRACTED,
                f"label {shipment.tracking_number} was voided; shipment removed from Order Desk",
            )
