"""Missed-webhook recovery: list each store's intake folders and take in what never arrived.

Webhooks are hints. Order Desk gives up on a post after a few retries over about two hours, so
an outage longer than that would lose orders. On a beat, every active store lists the orders in
its intake folder(s) modified since its cursor and added since the store was registered here
(a backlog from before is not the bridge's to ship): one request per page of 100, through the
store's shared Order Desk bucket. Orders the bridge already holds are skipped with one query per
page; the rest take the webhook's own decisions (``bridge.intake.trusted``: duplicate, parked,
cancel folder, accepted), get a ``recovered`` event, and the normal pipeline submits them.

The cursor (``reconcile_cursors``) only moves forward after a pass that paged everything it asked
for, and is set to the pass's start minus an overlap window, so clock skew between the bridge and
Order Desk and orders being written while we listed are covered by the next pass. A per-store
lease keeps two passes (two beats, a redelivered message) from listing the same store at once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import structlog
from sqlalchemy import select

from bridge.db import session_scope
from bridge.history import EventKind, record
from bridge.intake import trusted
from bridge.jobs import followups, leases, queues
from bridge.metrics import ORDERS_RECOVERED
from bridge.models import Order, ReconcileCursor, Store, utcnow
from bridge.orderdesk.client import OrderDeskClient
from bridge.orderdesk.errors import FolderNotFound
from bridge.orderdesk.webhook import BadPayload, parse_order
from bridge.remote.ratelimit import Priority
from bridge.settings import get_settings
from bridge.stores.context import StoreContext

log = structlog.get_logger(__name__)

PAGE_SIZE = 100
# Celery's hard time limit for one task: a pass cannot outlive its lease.
LEASE_SECONDS = 300
OD_FILTER_FORMAT = "%Y-%m-%d %H:%M:%S"


@dataclass
class ReconcileReport:
    """What one pass over one store did; ``complete`` means the cursor moved forward."""

    store_id: int
    ran: bool = False
    pages: int = 0
    listed: int = 0
    known: int = 0
    recovered: int = 0
    unreadable: int = 0
    complete: bool = False


def intake_folder_names(setting: str | None) -> list[str]:
    """The store's intake folders: one name, or several separated by commas."""
    names = (part.strip() for part in (setting or "").split(","))
    return [name for name in dict.fromkeys(names) if name]


def od_time_filter(moment: datetime, timezone: str) -> str:
    """``moment`` as an Order Desk date filter early enough however Order Desk reads it.

    Order Desk's documentation disagrees on whether date filters are UTC or the store's local
    time; the earlier of the two readings is safe under both (at worst a few hours more listed).
    """
    utc_text = moment.astimezone(UTC).strftime(OD_FILTER_FORMAT)
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return utc_text
    return min(utc_text, moment.astimezone(zone).strftime(OD_FILTER_FORMAT))


def schedule_reconciles() -> list[int]:
    """Fan out one ``reconcile_store`` per active store, once per interval whatever the beats."""
    interval = get_settings().reconcile_interval_seconds
    # Never released: it expires just before the next beat, so a second beat finds it taken.
    if not leases.acquire("reconcile-due", leases.new_owner(), ttl=interval * 0.9):
        return []
    with session_scope() as session:
        store_ids = list(
            session.scalars(select(Store.id).where(Store.active.is_(True)).order_by(Store.id))
        )
        for store_id in store_ids:
            followups.later(session, queues.RECONCILE_STORE, store_id)
    return store_ids


def reconcile_store(store_row_id: int) -> ReconcileReport:
    """One pass over one store; steps aside when another pass holds the store."""
    report = ReconcileReport(store_row_id)
    with leases.held(f"reconcile:{store_row_id}", ttl=LEASE_SECONDS) as mine:
        if not mine:
            log.info("reconcile_skipped", store_row_id=store_row_id, reason="already running")
            return report
        _Pass(store_row_id, report).run()
    if report.ran:
        log.info("reconciled", **vars(report))
    return report


class _Pass:
    def __init__(self, store_row_id: int, report: ReconcileReport) -> None:
        self.store_row_id = store_row_id
        self.report = report

    def run(self) -> None:
        settings = get_settings()
        started = utcnow()
        with session_scope() as session:
            store = session.get(Store, self.store_row_id)
            if store is None or not store.active:
                return
            context = StoreContext.from_row(session, store)
            folders = intake_folder_names(store.intake_folder)
            registered = store.created_at
            cursor = session.get(ReconcileCursor, self.store_row_id)
            since = cursor.checked_through if cursor else None
            timezone = cursor.orderdesk_timezone if cursor else ""
        if not folders:
            return
        self.report.ran = True
        overlap = timedelta(seconds=settings.reconcile_overlap_seconds)
        start = since or started - timedelta(seconds=settings.reconcile_first_lookback_seconds)
        totals: set[int] = set()
        with context.orderdesk_step(Priority.RECONCILE) as client:
            try:
                if not timezone or any(name not in context.folders for name in folders):
                    timezone = self._learn_store(context, client)
                folder_ids = [client.folder_id(name) for name in folders]
            except FolderNotFound as exc:
                log.error(
                    "reconcile_folder_missing", store_row_id=self.store_row_id, error=exc.message
                )
                return
            pages = client.order_pages(
                folder_ids=folder_ids,
                modified_start=od_time_filter(start, timezone),
                # Only orders the rule could have posted to the bridge: a store's backlog from
                # before it was registered here is not the bridge's to ship.
                added_start=od_time_filter(registered - overlap, timezone),
                page_size=PAGE_SIZE,
            )
            for page in pages:
                self.report.pages += 1
                totals.add(page.total)
                self._take_page(page.orders)
        # A total that changed between pages means the set shifted under the offsets and an
        # order may have been stepped over: keep the cursor, the next pass lists it again.
        self.report.complete = len(totals) <= 1
        if not self.report.complete:
            log.warning(
                "reconcile_incomplete", store_row_id=self.store_row_id, totals=sorted(totals)
            )
        self._save_cursor(timezone, started - overlap if self.report.complete else None)

    def _learn_store(self, context: StoreContext, client: OrderDeskClient) -> str:
        """One ``GET /store``: the folder ids (cached on the store row, as intake reads them)
        and the time zone (kept on the cursor), so later passes spend no call on either."""
        return client.get_store().timezone or "UTC"

    def _take_page(self, orders: list[dict[str, Any]]) -> None:
        ids = [str(raw.get("id", "")).strip() for raw in orders]
        with session_scope() as session:
            known = set(
                session.scalars(
                    select(Order.orderdesk_order_id).where(
                        Order.store_id == self.store_row_id, Order.orderdesk_order_id.in_(ids)
                    )
                )
            )
        self.report.listed += len(orders)
        for order_id, raw in zip(ids, orders, strict=True):
            if order_id in known:
                self.report.known += 1
            else:
                self._recover(order_id, raw)

    def _recover(self, order_id: str, raw: dict[str, Any]) -> None:
        try:
            parsed = parse_order(json.dumps(raw))
        except BadPayload as exc:
            self.report.unreadable += 1
            log.warning("reconcile_unreadable_order", order_id=order_id[:64], reason=str(exc))
            return
        with session_scope() as session:
            store = session.get_one(Store, self.store_row_id)
            taken = trusted.take_trusted(session, store, parsed)
            result = taken.result
            if taken.inserted and result.order_row_id is not None:
                order = session.get_one(Order, result.order_row_id)
                record(
                    session,
                    order,
                    EventKind.RECOVERED,
                    "recovered by reconciliation: no webhook for it reached the bridge",
                    outcome=result.outcome,
                    folder_id=str(raw.get("folder_id", "")),
                )
            for message in result.follow_ups:
                followups.later(session, message.task, *message.args, countdown=message.countdown)
        if taken.inserted:
            self.report.recovered += 1
            ORDERS_RECOVERED.labels(result.outcome).inc()
            log.info("order_recovered", order_id=order_id, outcome=result.outcome)

    def _save_cursor(self, timezone: str, checked_through: datetime | None) -> None:
        with session_scope() as session:
            cursor = session.get(ReconcileCursor, self.store_row_id)
            if cursor is None:
                cursor = ReconcileCursor(store_id=self.store_row_id)
                session.add(cursor)
            cursor.orderdesk_timezone = timezone[:64]
            cursor.last_run_at = utcnow()
            cursor.last_listed = self.report.listed
            cursor.last_recovered = self.report.recovered
            if checked_through is not None and (
                cursor.checked_through is None or checked_through > cursor.checked_through
            ):
                cursor.checked_through = checked_through
