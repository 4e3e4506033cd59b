"""The broker's primary dies mid-run; Sentinel promotes its replica and no order is lost or doubled.

The web, worker and beat processes reach Redis only through three Sentinels (quorum 2). While
orders flow, the primary is killed with SIGKILL: Celery's sentinel transport and the shared
limiter's client ask the Sentinels again and carry on against the promoted replica; whatever
the asynchronous replication lost, the sweeper re-sends from PostgreSQL. Every order must reach
the warehouse once and have its shipment posted to Order Desk once, and the worker must live
through it (kombu's stock transport used to kill it with an AttributeError, see
``bridge.jobs.sentinel``). ``BRIDGE_TEST_SCALE`` multiplies the orders.
"""

from __future__ import annotations

import signal

import pytest
import redis
from sqlalchemy import update

from bridge.db import session_scope
from bridge.models import Lease, utcnow
from bridge.states import OrderState
from tests.e2e.conftest import STORE_ID, scaled
from tests.e2e.harness import wait_until
from tests.e2e.test_faults import assert_exactly_once, finish, post, start
from tests.e2e.test_flow import state_counts
from tests.ha.conftest import RedisGroup

pytestmark = pytest.mark.slow

ORDERS = scaled(20)


def test_primary_killed_mid_run_every_order_ships_once(
    bridge, orderdesk, warehouse, redis_group: RedisGroup
) -> None:
    warehouse.set_auto_ship(0.3)
    start(bridge, orderdesk)
    keys = post(orderdesk, ORDERS)
    # Some orders are through, others still queued or in flight when the primary dies.
    wait_until(lambda: _past_received() >= 3, 30, "the first submissions")
    at_the_kill = _kill_the_primary(redis_group)

    finish(bridge, ORDERS, timeout=75 + ORDERS)
    # The kill came mid-run: not every order had reached its end yet.
    assert at_the_kill.get(OrderState.SHIPPED.value, 0) < ORDERS
    _assert_shipped_once(bridge, orderdesk, warehouse, keys)
    # The shared limiter followed the broker: its buckets live on the promoted replica.
    promoted = redis.Redis(port=redis_group.primary(), socket_timeout=2)
    assert promoted.keys("ratelimit:orderdesk:*")


def test_tasks_running_when_the_primary_dies_are_finished_once_by_the_same_worker(
    bridge, orderdesk, warehouse, redis_group: RedisGroup
) -> None:
    """Every warehouse call takes 1.2 s, so both of the worker's children are mid-task at the
    kill: their acks and rejects land on the channel of the connection that just died, the path
    on which kombu's own transport can raise AttributeError and stop the worker (a race, seen in
    2 failovers of 12; ``test_sentinel_transport`` reproduces it every time)."""
    warehouse.set_auto_ship(0.3)
    warehouse.set_faults(latency=1.2)
    start(bridge, orderdesk)
    keys = post(orderdesk, ORDERS)
    wait_until(lambda: _in(OrderState.SUBMITTING) >= 1, 30, "a submission in flight")
    at_the_kill = _kill_the_primary(redis_group)

    finish(bridge, ORDERS, timeout=90 + 2 * ORDERS)
    assert at_the_kill.get(OrderState.SHIPPED.value, 0) < ORDERS
    _assert_shipped_once(bridge, orderdesk, warehouse, keys)


def test_orders_a_dead_worker_left_are_sent_again_by_the_sweep_to_its_replacement(
    bridge, orderdesk, warehouse, redis_group: RedisGroup
) -> None:
    """The worker dies with the primary (SIGKILL, no chance to requeue anything) and a new one
    starts, as systemd or Kubernetes would start it: PostgreSQL still knows which orders are
    ``received`` or mid-submission, and the sweeper sends them again.

    A store lease the dead worker held (its poll, say) blocks that step until the lease's TTL
    runs out (up to 10 minutes, ``bridge.jobs.leases``), longer than this test waits: the test
    lets that time pass by expiring the dead processes' leases, nothing else."""
    warehouse.set_auto_ship(0.3)
    warehouse.set_faults(latency=0.5, paths=["/v1/orders"])
    start(bridge, orderdesk)
    keys = post(orderdesk, ORDERS)
    wait_until(lambda: _past_received() >= 3, 30, "the first submissions")
    dead = [bridge.procs["worker"].popen.pid, *bridge.worker_children()]
    bridge.procs["worker"].signal(signal.SIGKILL)
    bridge.procs["worker"].popen.wait(10)
    at_the_kill = _kill_the_primary(redis_group)
    assert at_the_kill.get(OrderState.RECEIVED.value, 0) > 0
    _expire_leases_of(dead)
    bridge.start_worker("replacement")

    finish(bridge, ORDERS, timeout=90 + 2 * ORDERS)
    _assert_shipped_once(bridge, orderdesk, warehouse, keys, worker="replacement")


def _expire_leases_of(pids: list[int]) -> None:
    """End now the leases these (dead) processes held: owners are ``host:pid:random``."""
    with session_scope() as session:
        for pid in pids:
            session.execute(
                update(Lease)
                .where(Lease.owner.like(f"%:{pid}:%"))
                .values(expires_at=utcnow())
                .execution_options(synchronize_session=False)
            )


def _kill_the_primary(redis_group: RedisGroup) -> dict[str, int]:
    old_primary = redis_group.primary()
    redis_group.servers[old_primary].send_signal(signal.SIGKILL)
    redis_group.servers[old_primary].wait(10)
    at_the_kill = state_counts()
    wait_until(lambda: redis_group.primary() != old_primary, 30, "Sentinel to fail over")
    return at_the_kill


def _assert_shipped_once(
    bridge, orderdesk, warehouse, keys: list[str], worker: str = "worker"
) -> None:
    assert_exactly_once(warehouse, keys)
    assert warehouse.create_calls == len(keys)
    for key in keys:
        shipments = orderdesk.shipments(STORE_ID, key.rsplit("-", 1)[1])
        assert len(shipments) == 1, key
    # The worker that was running after the kill is the one that finished: it did not die.
    proc = bridge.procs[worker]
    assert proc.popen.poll() is None, bridge.dump_logs()
    log = proc.text()
    assert "Unrecoverable error" not in log, log
    assert "AttributeError" not in log, log


def _in(state: OrderState) -> int:
    return state_counts().get(state.value, 0)


def _past_received() -> int:
    counts = state_counts()
    return sum(counts.values()) - counts.get(OrderState.RECEIVED.value, 0)
