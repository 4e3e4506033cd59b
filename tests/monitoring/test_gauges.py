"""The business gauges, read from a real PostgreSQL and Redis broker: counts by store and
state, waiting ages, unposted packages, last webhooks, queue lengths; cached between scrapes;
and a scrape that still answers (``bridge_gauges_up 0``) when the database is gone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import redis
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update

from bridge.db import session_scope
from bridge.jobs import queues
from bridge.models import Order, Shipment, Store, WebhookReceipt
from bridge.ops.gauges import BusinessGauges
from bridge.settings import get_settings
from tests.conftest import reset_caches


def _store(session, od_id: str, now: datetime, age: timedelta, *, active: bool = True) -> Store:
    store = Store(
        orderdesk_store_id=od_id,
        name=f"store {od_id}",
        api_key_encrypted="x",
        backend="simulated",
        active=active,
        created_at=now - age,
    )
    session.add(store)
    session.flush()
    return store


def _order(session, store: Store, n: int, state: str, at: datetime) -> Order:
    order = Order(
        store=store,
        orderdesk_order_id=str(n),
        payload={},
        payload_sha256="0" * 64,
        idempotency_key=f"od-{store.orderdesk_store_id}-{n}",
        state=state,
    )
    session.add(order)
    session.flush()
    # updated_at follows every write; set it after the insert, as a past change would have.
    session.execute(update(Order).where(Order.id == order.id).values(updated_at=at))
    return order


def _receipt(session, store: Store, at: datetime, status: int = 200) -> None:
    session.add(
        WebhookReceipt(store_id=store.id, received_at=at, outcome="accepted", http_status=status)
    )


def scrape(collector: BusinessGauges) -> dict[tuple[str, frozenset], float]:
    registry = CollectorRegistry()
    registry.register(collector)
    text = generate_latest(registry).decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


@pytest.fixture
def broker(bridge_env: pytest.MonkeyPatch, redis_url: str) -> redis.Redis:
    bridge_env.setenv("BRIDGE_BROKER_URL", redis_url)
    reset_caches()
    return redis.Redis.from_url(redis_url)


def test_gauges_read_what_the_database_and_broker_hold(database: str, broker) -> None:
    now = datetime.now(UTC)
    with session_scope() as session:
        busy = _store(session, "111", now, timedelta(days=30))
        quiet = _store(session, "222", now, timedelta(days=30))
        _store(session, "333", now, timedelta(hours=1))
        _store(session, "444", now, timedelta(days=30), active=False)
        _order(session, busy, 1, "received", now - timedelta(minutes=20))
        _order(session, busy, 2, "received", now - timedelta(minutes=5))
        _order(session, busy, 3, "failed", now - timedelta(hours=2))
        shipped = _order(session, busy, 4, "shipped", now - timedelta(days=3))
        _order(session, quiet, 5, "in_process", now - timedelta(hours=6))
        session.add_all(
            [
                Shipment(
                    order=shipped,
                    package_id="p1",
                    remote_shipment_id="r1",
                    posted_at=now,
                    created_at=now - timedelta(days=3),
                ),
                Shipment(
                    order=shipped,
                    package_id="p2",
                    remote_shipment_id="r2",
                    created_at=now - timedelta(minutes=40),
                ),
                Shipment(
                    order=shipped,
                    package_id="p3",
                    remote_shipment_id="r3",
                    voided=True,
                    created_at=now - timedelta(days=2),
                ),
            ]
        )
        _receipt(session, busy, now - timedelta(minutes=3))
        _receipt(session, busy, now - timedelta(minutes=1), status=403)  # refused: no webhook
        _receipt(session, quiet, now - timedelta(days=5))  # outside the window
    broker.rpush(queues.QUEUE_INTAKE, "m1", "m2", "m3")
    broker.rpush(queues.QUEUE_POLL, "m4")

    samples = scrape(BusinessGauges(get_settings()))

    def value(name: str, **labels: str) -> float:
        return samples[(name, frozenset(labels.items()))]

    assert value("bridge_gauges_up") == 1
    assert value("bridge_orders", store="111", state="received") == 2
    assert value("bridge_orders", store="111", state="failed") == 1
    assert value("bridge_orders", store="111", state="shipped") == 1
    assert value("bridge_orders", store="222", state="in_process") == 1
    assert value("bridge_orders_oldest_age_seconds", state="received") == pytest.approx(
        1200, abs=30
    )
    assert value("bridge_orders_oldest_age_seconds", state="failed") == pytest.approx(7200, abs=30)
    assert ("bridge_orders_oldest_age_seconds", frozenset({("state", "shipped")})) not in samples
    assert value("bridge_shipments_unposted") == 1
    assert value("bridge_shipments_unposted_oldest_age_seconds") == pytest.approx(2400, abs=30)
    last = "bridge_store_last_webhook_timestamp_seconds"
    assert value(last, store="111") == pytest.approx(
        (now - timedelta(minutes=3)).timestamp(), abs=1
    )
    assert value(last, store="222") == 0  # nothing in two days: the silent-store alert fires
    assert value(last, store="333") == pytest.approx((now - timedelta(hours=1)).timestamp(), abs=1)
    assert (last, frozenset({("store", "444")})) not in samples  # disabled stores are left out
    assert {q: value("bridge_queue_length", queue=q) for q in queues.ALL_QUEUES} == {
        "intake": 3,
        "orderdesk": 0,
        "poll": 1,
        "maintenance": 0,
    }


def test_gauges_are_cached_between_scrapes(database: str, broker) -> None:
    collector = BusinessGauges(get_settings(), cache_seconds=60)
    assert ("bridge_shipments_unposted", frozenset()) in scrape(collector)
    broker.rpush(queues.QUEUE_INTAKE, "m1")
    assert scrape(collector)[("bridge_queue_length", frozenset({("queue", "intake")}))] == 0
    fresh = scrape(BusinessGauges(get_settings(), cache_seconds=0))
    assert fresh[("bridge_queue_length", frozenset({("queue", "intake")}))] == 1


def test_a_scrape_without_the_database_says_so(bridge_env: pytest.MonkeyPatch, broker) -> None:
    bridge_env.setenv("BRIDGE_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    reset_caches()
    samples = scrape(BusinessGauges(get_settings()))
    assert samples == {("bridge_gauges_up", frozenset()): 0}
