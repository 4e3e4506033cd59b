"""Helpers shared by the recovery tests: orders whose webhook never came, and what PostgreSQL
and the broker hold afterwards."""

from __future__ import annotations

import base64
import json
from collections import Counter

import redis
from sqlalchemy import func, select

from bridge.db import session_scope
from bridge.models import Order, OrderEvent, Store
from bridge.sim.orderdesk import OrderDeskSimulator
from tests.e2e.conftest import STORE_ID
from tests.e2e.test_flow import sample_orders


def store_row_id(orderdesk_store_id: str = STORE_ID) -> int:
    with session_scope() as session:
        return session.scalars(
            select(Store.id).where(Store.orderdesk_store_id == orderdesk_store_id)
        ).one()


def orders_without_webhook(
    orderdesk: OrderDeskSimulator, count: int, *, folder_name: str = "New", **kwargs
) -> list[str]:
    """Create orders in a folder (by default the intake folder) that no webhook announces."""
    ids = []
    for order in sample_orders(count):
        created = orderdesk.create_order(
            STORE_ID, order, folder_name=folder_name, fire_rule=False, **kwargs
        )
        ids.append(created["id"])
    return ids


def order_rows() -> dict[str, Order]:
    with session_scope() as session:
        rows = session.scalars(select(Order)).all()
        session.expunge_all()
        return {row.orderdesk_order_id: row for row in rows}


def recovered_events() -> Counter:
    """Order Desk id -> number of ``recovered`` events."""
    with session_scope() as session:
        rows = session.execute(
            select(Order.orderdesk_order_id, func.count())
            .join(OrderEvent, OrderEvent.order_id == Order.id)
            .where(OrderEvent.kind == "recovered")
            .group_by(Order.orderdesk_order_id)
        ).all()
    return Counter(dict(rows))


def queued(broker_url: str, queue: str) -> list[tuple[str, list]]:
    """The (task, args) of every message waiting in a Celery queue on Redis."""
    client = redis.Redis.from_url(broker_url)
    try:
        raw = client.lrange(queue, 0, -1)
    finally:
        client.close()
    messages = []
    for item in raw:
        message = json.loads(item)
        args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
        messages.append((message["headers"]["task"], args))
    return messages
