"""What the admin dashboard shows at a glance: the oldest waiting orders and the last hour's work.

Counts per store and state come from ``operations.state_counts``. These read only columns a
person may see on the order pages (ids, numbers, states, times, reasons), never a payload.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import QueryableAttribute, Session, selectinload

from bridge.models import Order, Shipment, Store, WebhookReceipt, utcnow
from bridge.states import OrderState

# Orders whose next step is the bridge's to take (parked and failed ones wait for a person and
# have their own lists).
WAITING = (
    OrderState.RECEIVED,
    OrderState.SUBMITTING,
    OrderState.SUBMITTED,
    OrderState.CANCEL_REQUESTED,
)


@dataclass(frozen=True)
class Throughput:
    """Work done within ``window`` before ``until``."""

    window: timedelta
    until: datetime
    webhooks: int
    submitted: int
    shipped: int
    packages_posted: int


def oldest_waiting(session: Session, limit: int = 10) -> list[Order]:
    """The orders that have waited longest for the pipeline's next step, oldest first."""
    return list(
        session.scalars(
            select(Order)
            .options(selectinload(Order.store))
            .where(Order.state.in_([state.value for state in WAITING]))
            .order_by(Order.updated_at, Order.id)
            .limit(limit)
        )
    )


def _count(session: Session, column: QueryableAttribute[Any], since: datetime) -> int:
    return session.scalar(select(func.count()).where(column >= since)) or 0


def throughput(session: Session, window: timedelta = timedelta(hours=1)) -> Throughput:
    """Webhooks received, orders submitted and shipped, packages posted within ``window``."""
    until = utcnow()
    since = until - window
    return Throughput(
        window=window,
        until=until,
        webhooks=_count(session, WebhookReceipt.received_at, since),
        submitted=_count(session, Order.submitted_at, since),
        shipped=_count(session, Order.shipped_at, since),
        packages_posted=_count(session, Shipment.posted_at, since),
    )


def paused_stores(session: Session) -> list[Store]:
    """Stores an operator paused, longest paused first."""
    return list(
        session.scalars(select(Store).where(Store.paused_at.is_not(None)).order_by(Store.paused_at))
    )
