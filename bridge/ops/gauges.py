"""Business gauges read from PostgreSQL (and the broker) when Prometheus scrapes.

Counters say what happened in a process; these say what the bridge holds right now: orders by
store and state, how long the oldest order in each waiting state has sat there, shipments not
yet posted, when each store last sent a webhook, and the queues' lengths. They are computed by
one collector on the worker's metrics endpoint (``workers/metrics.py``), not counted per
process, and cached for ``CACHE_SECONDS`` so several scrapers cost one reading.

Each reading is a handful of GROUP BY / MIN queries served by existing indexes (state, posted_at,
received_at), on a connection opened for it and closed after: the worker's main process forks
its children, and a pooled connection must never be shared across a fork.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import structlog
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine, create_engine, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from bridge import metrics
from bridge.jobs import queues
from bridge.jobs.celery_config import publishing_app
from bridge.models import Order, Shipment, Store, WebhookReceipt
from bridge.settings import Settings
from bridge.states import TERMINAL, OrderState

log = structlog.get_logger(__name__)

CACHE_SECONDS = 10.0
# How far back the last-webhook query looks: past the one-day alert, cheap on received_at.
WEBHOOK_WINDOW = timedelta(days=2)
WAITING_STATES = tuple(state.value for state in OrderState if state not in TERMINAL)


@dataclass
class Reading:
    """One reading of everything the gauges show, at ``at``."""

    at: datetime
    orders: dict[tuple[str, str], int] = field(default_factory=dict)
    oldest: dict[str, float] = field(default_factory=dict)
    unposted: int = 0
    unposted_oldest: float = 0.0
    last_webhook: dict[str, float] = field(default_factory=dict)
    queues: dict[str, int] = field(default_factory=dict)


def _age(at: datetime, since: datetime | None) -> float:
    return max((at - since).total_seconds(), 0.0) if since else 0.0


def read_database(session: Session, at: datetime) -> Reading:
    """Orders, waiting ages, unposted shipments and last webhooks, in five small queries."""
    reading = Reading(at=at)
    stores = session.execute(
        select(Store.id, Store.orderdesk_store_id, Store.active, Store.created_at)
    ).all()
    label = {row.id: row.orderdesk_store_id for row in stores}
    counts = session.execute(
        select(Order.store_id, Order.state, func.count()).group_by(Order.store_id, Order.state)
    ).all()
    reading.orders = {(label[store], state): n for store, state, n in counts if store in label}
    oldest = session.execute(
        select(Order.state, func.min(Order.updated_at))
        .where(Order.state.in_(WAITING_STATES))
        .group_by(Order.state)
    ).all()
    reading.oldest = {state: _age(at, since) for state, since in oldest}
    unposted, since = session.execute(
        select(func.count(), func.min(Shipment.created_at)).where(
            Shipment.posted_at.is_(None), Shipment.voided.is_(False)
        )
    ).one()
    reading.unposted, reading.unposted_oldest = unposted, _age(at, since)
    window = at - WEBHOOK_WINDOW
    last = dict(
        session.execute(
            select(WebhookReceipt.store_id, func.max(WebhookReceipt.received_at))
            .where(
                WebhookReceipt.received_at >= window,
                WebhookReceipt.store_id.is_not(None),
                WebhookReceipt.http_status == 200,
            )
            .group_by(WebhookReceipt.store_id)
        ).all()
    )
    for row in stores:
        if not row.active:
            continue
        seen = max(t for t in (last.get(row.id), row.created_at) if t is not None)
        reading.last_webhook[row.orderdesk_store_id] = seen.timestamp() if seen >= window else 0.0
    return reading


def read_queues(settings: Settings) -> dict[str, int]:
    """Messages waiting per queue, asked of the broker the way Celery's transport counts them."""
    with publishing_app(settings).connection_for_read() as connection:
        channel = connection.default_channel
        return {
            name: channel.queue_declare(queue=name, passive=False).message_count
            for name in queues.ALL_QUEUES
        }


def _gauge(name: str, labels: Iterable[str] = ()) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, metrics.GAUGES[name], labels=list(labels))


def families(reading: Reading) -> Iterator[GaugeMetricFamily]:
    """The reading as Prometheus metric families."""
    orders = _gauge(metrics.ORDERS, ["store", "state"])
    for (store, state), count in sorted(reading.orders.items()):
        orders.add_metric([store, state], count)
    oldest = _gauge(metrics.ORDERS_OLDEST_AGE, ["state"])
    for state, age in sorted(reading.oldest.items()):
        oldest.add_metric([state], age)
    last = _gauge(metrics.STORE_LAST_WEBHOOK, ["store"])
    for store, stamp in sorted(reading.last_webhook.items()):
        last.add_metric([store], stamp)
    waiting = _gauge(metrics.QUEUE_LENGTH, ["queue"])
    for queue, length in sorted(reading.queues.items()):
        waiting.add_metric([queue], length)
    unposted = _gauge(metrics.SHIPMENTS_UNPOSTED)
    unposted.add_metric([], reading.unposted)
    unposted_oldest = _gauge(metrics.SHIPMENTS_UNPOSTED_OLDEST_AGE)
    unposted_oldest.add_metric([], reading.unposted_oldest)
    yield from (orders, oldest, unposted, unposted_oldest, last, waiting)


def gauges_engine(url: str) -> Engine:
    """An engine without a pool: each reading connects and disconnects (see the module doc)."""
    options = {}
    if make_url(url).get_backend_name() == "postgresql":
        options["connect_args"] = {"connect_timeout": 5}
    return create_engine(url, poolclass=NullPool, **options)


class BusinessGauges(Collector):
    """A collector for the serving registry: a fresh reading at most every ``CACHE_SECONDS``."""

    def __init__(self, settings: Settings, cache_seconds: float = CACHE_SECONDS) -> None:
        self._settings = settings
        self._cache_seconds = cache_seconds
        self._engine = gauges_engine(settings.database_url)
        self._lock = threading.Lock()
        self._reading: Reading | None = None
        self._read_at = 0.0
        self._ok = False

    def describe(self) -> list[GaugeMetricFamily]:
        """Nothing up front: registering must not read the database."""
        return []

    def collect(self) -> Iterator[GaugeMetricFamily]:
        with self._lock:
            if time.monotonic() - self._read_at >= self._cache_seconds:
                self._refresh()
            reading, ok = self._reading, self._ok
        up = _gauge(metrics.GAUGES_UP)
        up.add_metric([], 1 if ok else 0)
        yield up
        if reading is not None and ok:
            yield from families(reading)

    def _refresh(self) -> None:
        self._read_at = time.monotonic()
        try:
            with Session(self._engine) as session:
                reading = read_database(session, datetime.now(UTC))
            reading.queues = read_queues(self._settings)
        except Exception as exc:
            # A scrape must still answer (with bridge_gauges_up 0), never with a traceback.
            log.warning("gauges.unavailable", error=type(exc).__name__)
            self._ok = False
            return
        self._reading, self._ok = reading, True
