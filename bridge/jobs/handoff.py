"""New orders handed to the workers through one Redis list, not one Celery message per webhook.

Building and sending a Celery message cost the web process about half of a webhook's CPU
(0.45 of 1.0 ms, measured in-process on the 2-core box). So the intake only appends the order's
row id to a list in the broker's Redis and, in the same round trip, sets a "wake" key unless it
is already set; only the webhook that set it publishes one ``bridge.drain_new_orders`` message.
That task, on a worker, clears the key first and then pops the list empty, sending each order its
``bridge.submit_order`` there, so the submit step itself (claims, bulk, attempts) is unchanged.

No order is left behind: a webhook appends before it tries the key, and the drain clears the key
before it pops. If the key was set, the run that set it has not cleared it yet, so that run's pop
comes after this append; if the key was free, this webhook wakes a run of its own. The key
expires on its own (``WAKE_TTL_MS``), so a wake message that was lost holds nothing up for
long, and anything still on the list then is sent by the next run, while the sweeper re-sends
any order left ``received`` past its grace period, as before. An order sent twice is harmless:
every submit claims its row first. Without a Redis broker (``bridge dev``'s folder broker) or
while Redis fails, the submit message is sent directly, as before.
"""

from __future__ import annotations

from collections.abc import Iterator

import redis
import structlog

from bridge.jobs import dispatch, queues
from bridge.remote.redis_client import shared
from bridge.settings import Settings, get_settings

log = structlog.get_logger(__name__)

NEW_ORDERS_KEY = "bridge:handoff:new-orders"
WAKE_KEY = "bridge:handoff:wake"
# Long enough for a drain queued behind a burst's submits to start; short enough that a lost
# wake message delays the next one only briefly.
WAKE_TTL_MS = 5000
DRAIN_BATCH = 500
REDIS_SCHEMES = ("redis://", "rediss://", "sentinel://")


def _client(settings: Settings) -> redis.Redis | None:
    """The broker's Redis, one client per URL and process; None for a broker that is not Redis."""
    url = settings.broker_url
    if not url.startswith(REDIS_SCHEMES):
        return None
    return shared(url, settings.redis_sentinel_master)


def hand_over(order_id: object) -> bool:
    """Queue a new order for submission; True once it is on its way (see ``Delivery.sent``)."""
    client = _client(get_settings())
    if client is None:
        return dispatch.send(queues.SUBMIT_ORDER, order_id)
    try:
        pipe = client.pipeline(transaction=False)
        pipe.lpush(NEW_ORDERS_KEY, order_id)
        pipe.set(WAKE_KEY, "1", nx=True, px=WAKE_TTL_MS)
        _, woke = pipe.execute()
    except redis.RedisError as exc:
        log.warning("handoff_failed", order_row=order_id, error=type(exc).__name__)
        return dispatch.send(queues.SUBMIT_ORDER, order_id)
    if not woke:
        return True  # a drain is due that has not started yet; it pops this order too
    if dispatch.send(queues.DRAIN_NEW_ORDERS):
        return True
    _forget_wake(client)
    return False


def _forget_wake(client: redis.Redis) -> None:
    """The wake message was refused: free the key so the next webhook tries again."""
    try:
        client.delete(WAKE_KEY)
    except redis.RedisError as exc:
        log.warning("handoff_wake_not_cleared", error=type(exc).__name__)


def take_new_orders() -> Iterator[list[int]]:
    """Clear the wake key, then pop the queued row ids, oldest first, in batches until empty."""
    client = _client(get_settings())
    if client is None:
        return
    client.delete(WAKE_KEY)
    while batch := client.rpop(NEW_ORDERS_KEY, DRAIN_BATCH):
        yield [int(raw) for raw in batch]
