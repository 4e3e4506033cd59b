"""Does everything agree? Order Desk, the bridge and the warehouse, for one store and window.

Each side can be wrong in its own way: a webhook Order Desk gave up on never reached us, an order
sits in a state nobody will move it out of, a warehouse lost (or never got) an order we marked as
submitted, a package we know about never reached Order Desk. The audit only reads: it asks Order
Desk for the orders added in the window (always a bounded query, as Order Desk asks), compares
them with our rows, and asks the warehouse by idempotency key about the orders we say it has,
up to a cap so a large window cannot hammer it. Order Desk dates are taken as UTC (its help centre
says it stores UTC; older API docs said store time, see docs/orderdesk.md#date-filters).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from bridge.db import session_scope
from bridge.models import Order, Store, utcnow
from bridge.ops.operations import OperationError
from bridge.remote.errors import RemoteError
from bridge.states import OrderState
from bridge.stores.context import StoreContext

MAX_LOOKUPS = 200
STUCK_AFTER = timedelta(hours=1)
# Order Desk retries a failed post for a while and a poll may have just found a package:
# what is younger than this is not yet a problem.
GRACE = timedelta(minutes=5)
OD_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
CLAIMS_SUBMITTED = frozenset(
    {
        OrderState.SUBMITTED,
        OrderState.IN_PROCESS,
        OrderState.PARTIALLY_SHIPPED,
        OrderState.SHIPPED,
    }
)
_RELATIVE = re.compile(r"^(\d+)\s*([dhm])$")
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}

MISSED_WEBHOOK = "missed_webhook"
STUCK = "stuck"
NOT_IN_WAREHOUSE = "not_in_warehouse"
UNPOSTED_SHIPMENT = "unposted_shipment"
CHECK_INCOMPLETE = "check_incomplete"


@dataclass(frozen=True)
class Finding:
    kind: str
    orderdesk_order_id: str
    detail: str
    order_id: int | None = None
    state: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "orderdesk_order_id": self.orderdesk_order_id,
            "order_id": self.order_id,
            "state": self.state,
            "detail": self.detail,
        }


@dataclass
class AuditReport:
    store_id: str
    start: datetime
    end: datetime
    orderdesk_orders: int = 0
    bridge_orders: int = 0
    warehouse_checked: int = 0
    warehouse_unchecked: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def consistent(self) -> bool:
        return not self.findings

    def to_dict(self) -> dict[str, Any]:
        return {
            "store_id": self.store_id,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "consistent": self.consistent,
            "orderdesk_orders": self.orderdesk_orders,
            "bridge_orders": self.bridge_orders,
            "warehouse_checked": self.warehouse_checked,
            "warehouse_unchecked": self.warehouse_unchecked,
            "findings": [finding.to_dict() for finding in self.findings],
        }


def parse_when(text: str, *, now: datetime | None = None) -> datetime:
    """``7d``, ``12h``, ``30m`` (ago), ``YYYY-MM-DD`` or ``YYYY-MM-DD HH:MM[:SS]`` in UTC."""
    now = now or utcnow()
    value = text.strip().lower()
    if match := _RELATIVE.match(value):
        return now - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    for pattern in ("%Y-%m-%d", "%Y-%m-%d %H:%M", OD_TIME_FORMAT, "%Y-%m-%dT%H:%M:%S"):
        try:
            return datetime.strptime(value.upper(), pattern).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise OperationError(
        f"'{text}' is not a time: use 7d, 12h, 30m, YYYY-MM-DD or 'YYYY-MM-DD HH:MM:SS' (UTC)"
    )


def _od_time(value: str) -> datetime | None:
    try:
        return datetime.strptime(value.strip(), OD_TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


def _stuck_reason(order: Order, now: datetime, stuck_after: timedelta) -> str | None:
    state = OrderState(order.state)
    hours = stuck_after.total_seconds() / 3600
    if state is OrderState.FAILED:
        return f"failed: {order.last_error or order.reason or 'no error recorded'}"
    if state is OrderState.REJECTED:
        return f"rejected: {order.reason or 'no reason recorded'}"
    waiting = state in (OrderState.RECEIVED, OrderState.SUBMITTING)
    if waiting and order.updated_at < now - stuck_after:
        return f"{state.value} for more than {hours:g} h"
    return None


def run_audit(
    store_id: str,
    start: datetime,
    end: datetime,
    *,
    now: datetime | None = None,
    max_lookups: int = MAX_LOOKUPS,
    stuck_after: timedelta = STUCK_AFTER,
    grace: timedelta = GRACE,
) -> AuditReport:
    """Compare the three views of ``store_id`` (Order Desk store id) for orders added in
    ``[start, end]``; read-only."""
    now = now or utcnow()
    if start >= end:
        raise OperationError("the audit window is empty: --since must be before --until")
    report = AuditReport(store_id=str(store_id), start=start, end=end)
    with session_scope() as session:
        store = session.scalar(select(Store).where(Store.orderdesk_store_id == str(store_id)))
        if store is None:
            raise OperationError(f"no store with Order Desk store id {store_id}")
        context = StoreContext.from_row(session, store)
        orders = list(
            session.scalars(
                select(Order)
                .options(selectinload(Order.shipments))
                .where(Order.store_id == store.id, Order.created_at.between(start, end))
                .order_by(Order.id.desc())
            )
        )
    report.bridge_orders = len(orders)

    report.findings += _missed_webhooks(context, report, now - grace)
    for order in orders:
        if reason := _stuck_reason(order, now, stuck_after):
            report.findings.append(
                Finding(STUCK, order.orderdesk_order_id, reason, order.id, order.state)
            )
    for order in orders:
        report.findings += _unposted_shipments(order, now - grace)
    claimed = [order for order in orders if OrderState(order.state) in CLAIMS_SUBMITTED]
    report.findings += _unknown_to_warehouse(context, report, claimed, max_lookups)
    return report


def _unposted_shipments(order: Order, settled: datetime) -> list[Finding]:
    findings = []
    for shipment in order.shipments:
        if shipment.posted_at is not None or shipment.voided or shipment.created_at > settled:
            continue
        detail = f"package {shipment.package_id} ({shipment.tracking_number}) not posted"
        if shipment.last_error:
            detail += f": {shipment.last_error}"
        findings.append(
            Finding(UNPOSTED_SHIPMENT, order.orderdesk_order_id, detail, order.id, order.state)
        )
    return findings


def _missed_webhooks(
    context: StoreContext, report: AuditReport, settled: datetime
) -> list[Finding]:
    try:
        with context.orderdesk() as client:
            remote = list(client.list_orders(start=report.start, end=report.end))
    except RemoteError as exc:
        raise OperationError(f"Order Desk could not list the orders: {exc}") from None
    report.orderdesk_orders = len(remote)
    ids = [order.id for order in remote]
    known: set[str] = set()
    with session_scope() as session:
        for index in range(0, len(ids), 1000):
            known.update(
                session.scalars(
                    select(Order.orderdesk_order_id).where(
                        Order.store_id == context.id,
                        Order.orderdesk_order_id.in_(ids[index : index + 1000]),
                    )
                )
            )
    findings = []
    for order in remote:
        added = _od_time(order.date_added)
        if order.id in known or (added is not None and added > settled):
            continue
        number = f" (order {order.source_id})" if order.source_id else ""
        findings.append(
            Finding(
                MISSED_WEBHOOK,
                order.id,
                f"in Order Desk since {order.date_added or '?'}{number}, never received",
            )
        )
    return findings


def _unknown_to_warehouse(
    context: StoreContext, report: AuditReport, claimed: list[Order], max_lookups: int
) -> list[Finding]:
    checked, report.warehouse_unchecked = claimed[:max_lookups], max(0, len(claimed) - max_lookups)
    findings = []
    if not checked:
        return findings
    with context.backend() as backend:
        for order in checked:
            try:
                found = backend.find_by_key(order.idempotency_key, order_number=order.order_number)
            except RemoteError as exc:
                report.warehouse_unchecked += len(checked) - report.warehouse_checked
                findings.append(
                    Finding(
                        CHECK_INCOMPLETE,
                        order.orderdesk_order_id,
                        f"the warehouse did not answer, lookups stopped: {exc}",
                        order.id,
                        order.state,
                    )
                )
                break
            report.warehouse_checked += 1
            if found is None:
                findings.append(
                    Finding(
                        NOT_IN_WAREHOUSE,
                        order.orderdesk_order_id,
                        f"{order.state} in the bridge, but the warehouse has no order under "
                        f"{order.idempotency_key}",
                        order.id,
                        order.state,
                    )
                )
    return findings
