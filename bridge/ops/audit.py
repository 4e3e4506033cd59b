"""Does everything agree? Order Desk, the bridge and the warehouse, for one store and window.

Each side can be wrong in its own way: a webhook Order Desk gave up on never reached us, an order
sits in a state nobody will move it out of, a warehouse lost (or never got, or got twice) an
order we marked as submitted, a package the warehouse shipped is missing from Order Desk's
shipments (deleted there, or never posted) or is there twice.

The audit only reads, and reads each side by paged listing, so its cost grows with pages, not
orders: Order Desk's orders added in the window with their shipments (``GET /orders``, 500 a
page, always a bounded query, as Order Desk asks), and the warehouse's orders created since the
window began with their shipments (``WarehouseBackend.list_orders``: a few pages for a week at
ShipStation). It then compares what each side actually holds, not only the bridge's rows. A
warehouse that cannot list is asked by key instead (``find_many``), up to a cap. Order Desk
dates are taken as UTC (its help centre says it stores UTC; older API docs said store time, see
docs/orderdesk.md#date-filters).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from bridge.backends.base import LookupHints
from bridge.backends.errors import NotSupported
from bridge.backends.models import RemoteOrder
from bridge.db import session_scope
from bridge.models import Order, Store, utcnow
from bridge.ops.operations import OperationError
from bridge.orderdesk.payload import Order as OrderDeskOrder
from bridge.remote.errors import RemoteError
from bridge.states import OrderState
from bridge.stores.context import StoreContext

# Only for a warehouse that cannot list: at most this many orders are asked about by key.
MAX_LOOKUPS = 200
# The warehouse's clock and ours may disagree: its listing starts this much before the window.
CLOCK_SKEW = timedelta(minutes=10)
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
DUPLICATE_IN_WAREHOUSE = "duplicate_in_warehouse"
SHIPMENT_NOT_IN_ORDERDESK = "shipment_not_in_orderdesk"
SHIPMENT_DUPLICATED = "shipment_duplicated"

# Every key the bridge submits under starts so (bridge/intake/rows.py); other orders at the
# warehouse are matched to ours by order number, under this prefix, which no key can have.
BRIDGE_KEY_PREFIX = "od-"
FOREIGN = "\0number:"

# Told how many records of a side ("orderdesk", "warehouse") have been read so far.
Progress = Callable[[str, int], None]


def _no_progress(side: str, read: int) -> None:
    """The default: nobody is watching."""


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
    warehouse_orders: int = 0
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
            "warehouse_orders": self.warehouse_orders,
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
    progress: Progress = _no_progress,
) -> AuditReport:
    """Compare the three views of ``store_id`` (Order Desk store id) for orders added in
    ``[start, end]``; read-only. ``progress`` hears how many records each side has given."""
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
    settled = now - grace

    remote = _read_orderdesk(context, report, progress)
    report.findings += _missed_webhooks(context, remote, settled)
    for order in orders:
        if reason := _stuck_reason(order, now, stuck_after):
            report.findings.append(
                Finding(STUCK, order.orderdesk_order_id, reason, order.id, order.state)
            )
    for order in orders:
        report.findings += _unposted_shipments(order, settled)
    claimed = [order for order in orders if OrderState(order.state) in CLAIMS_SUBMITTED]
    read = _read_warehouse(context, report, claimed, now, max_lookups, progress)
    if read is None:
        return report
    held, claimed = read
    report.warehouse_checked = len(claimed)
    report.findings += _warehouse_findings(claimed, held)
    unposted = {s.package_id for o in orders for s in o.shipments if s.posted_at is None}
    in_orderdesk = {order.id: order for order in remote}
    for order in claimed:
        remote_order = in_orderdesk.get(order.orderdesk_order_id)
        if remote_order is not None:
            copies = _copies(order, held)
            report.findings += _shipment_findings(order, copies, remote_order, unposted, settled)
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


def _read_orderdesk(
    context: StoreContext, report: AuditReport, progress: Progress
) -> list[OrderDeskOrder]:
    """Order Desk's orders added in the window, each with its shipments, 500 a page."""
    remote = []
    try:
        with context.orderdesk() as client:
            for order in client.list_orders(start=report.start, end=report.end):
                remote.append(order)
                progress("orderdesk", len(remote))
    except RemoteError as exc:
        raise OperationError(f"Order Desk could not list the orders: {exc}") from None
    report.orderdesk_orders = len(remote)
    return remote


def _missed_webhooks(
    context: StoreContext, remote: list[OrderDeskOrder], settled: datetime
) -> list[Finding]:
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


def _read_warehouse(
    context: StoreContext,
    report: AuditReport,
    claimed: list[Order],
    now: datetime,
    max_lookups: int,
    progress: Progress,
) -> tuple[dict[str, list[RemoteOrder]], list[Order]] | None:
    """The warehouse's orders by our key, and the claimed orders they can be checked against.

    Every order the warehouse created since the window began (an order added late in the
    window may reach it after the window ends), by listing; or, for a warehouse that cannot
    list, the claimed orders asked about by key up to ``max_lookups``. None when the warehouse
    did not answer (a ``check_incomplete`` finding says so).
    """
    if not claimed:
        return {}, claimed
    held: dict[str, list[RemoteOrder]] = defaultdict(list)
    try:
        with context.backend() as backend:
            try:
                for order in backend.list_orders(report.start - CLOCK_SKEW, now):
                    held[_holder(order)].append(order)
                    report.warehouse_orders += 1
                    progress("warehouse", report.warehouse_orders)
            except NotSupported:
                report.warehouse_unchecked = max(0, len(claimed) - max_lookups)
                claimed = claimed[:max_lookups]
                if not claimed:
                    return held, claimed
                hints = LookupHints(
                    order_numbers={o.idempotency_key: o.order_number for o in claimed},
                    created_after=min(order.created_at for order in claimed),
                )
                found = backend.find_many([order.idempotency_key for order in claimed], hints)
                held = defaultdict(list, {key: [order] for key, order in found.items()})
                report.warehouse_orders = len(found)
    except RemoteError as exc:
        report.warehouse_unchecked = len(claimed)
        report.findings.append(
            Finding(CHECK_INCOMPLETE, "-", f"the warehouse did not answer the listing: {exc}")
        )
        return None
    return held, claimed


def _holder(order: RemoteOrder) -> str:
    """Our key for an order the bridge sent; for one entered by other means (a CSV import, by
    hand: no key of ours), its order number, so a second copy of one of ours is seen."""
    if order.ref.key.startswith(BRIDGE_KEY_PREFIX):
        return order.ref.key
    return f"{FOREIGN}{order.order_number}"


def _copies(order: Order, held: dict[str, list[RemoteOrder]]) -> list[RemoteOrder]:
    return held.get(order.idempotency_key, []) + held.get(f"{FOREIGN}{order.order_number}", [])


def _warehouse_findings(claimed: list[Order], held: dict[str, list[RemoteOrder]]) -> list[Finding]:
    """Every order the bridge says it submitted is at the warehouse exactly once."""
    findings = []
    for order in claimed:
        copies = _copies(order, held)
        if not copies:
            detail = (
                f"{order.state} in the bridge, but the warehouse has no order under "
                f"{order.idempotency_key}"
            )
            findings.append(
                Finding(NOT_IN_WAREHOUSE, order.orderdesk_order_id, detail, order.id, order.state)
            )
        elif len(copies) > 1:
            ids = ", ".join(
                f"{copy.ref.remote_id} (key {copy.ref.key or 'none'})" for copy in copies
            )
            findings.append(
                Finding(
                    DUPLICATE_IN_WAREHOUSE,
                    order.orderdesk_order_id,
                    f"the warehouse holds order {order.order_number} {len(copies)} times: {ids}",
                    order.id,
                    order.state,
                )
            )
    return findings


def _tracking(value: str) -> str:
    return value.strip().upper()


def _shipment_findings(
    order: Order,
    copies: list[RemoteOrder],
    remote: OrderDeskOrder,
    unposted: set[str],
    settled: datetime,
) -> list[Finding]:
    """Every live package the warehouse shipped is among Order Desk's shipments exactly once.

    Packages the bridge knows it has not posted yet are reported once, as ``unposted_shipment``;
    a package shipped within the grace period may still be on its way.
    """
    posted = Counter(_tracking(shipment.tracking_number) for shipment in remote.order_shipments)
    findings = []
    for copy in copies:
        for shipment in copy.shipments:
            if shipment.voided:
                continue
            recent = shipment.shipped_at is not None and shipment.shipped_at > settled
            for package in shipment.packages:
                tracking = _tracking(package.tracking_number)
                times = posted[tracking]
                what = f"package {package.package_id} ({package.tracking_number})"
                if not tracking or times == 1:
                    continue
                if times > 1:
                    detail = f"{what} is in Order Desk's shipments {times} times"
                    kind = SHIPMENT_DUPLICATED
                elif recent or package.package_id in unposted:
                    continue
                else:
                    detail = f"{what} shipped by the warehouse is not in Order Desk's shipments"
                    kind = SHIPMENT_NOT_IN_ORDERDESK
                findings.append(
                    Finding(kind, order.orderdesk_order_id, detail, order.id, order.state)
                )
    return findings
