"""Hole 4: two workers claiming overlapping orders of a store must not deadlock.

A bulk-capable backend makes each submit claim its own order and the store's other waiting
ones. Two workers started on different orders of the same burst each lock their first order,
then reach for the other's. The test stops both right after their first row-locking statement
(a barrier in a SQLAlchemy hook) so each holds what it took before either goes on.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, event, select

from bridge.db import session_scope
from bridge.models import Order
from bridge.pipeline.submit import submit_order
from bridge.sim.warehouse import WarehouseSimulator
from bridge.states import OrderState
from tests.conftest import reset_caches
from tests.reliability.pipeline.conftest import Runner

BARRIER_SECONDS = 5.0


def _locks_orders(statement: str) -> bool:
    sql = " ".join(statement.split()).upper()
    return sql.startswith("UPDATE ORDERS") or ("FROM ORDERS" in sql and "FOR UPDATE" in sql)


@pytest.fixture
def meet_after_first_lock(database: str) -> Iterator[threading.Barrier]:
    """Each of two threads waits for the other after its first statement that locks orders.

    Listens on every engine: the test resets the bridge's engines after changing settings.
    """
    barrier = threading.Barrier(2, timeout=BARRIER_SECONDS)
    seen = threading.local()

    def after_execute(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if getattr(seen, "done", False) or not _locks_orders(statement):
            return
        seen.done = True
        # Broken: the other worker had nothing to lock, so there is nobody to wait for.
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait()

    event.listen(Engine, "after_cursor_execute", after_execute)
    yield barrier
    event.remove(Engine, "after_cursor_execute", after_execute)


@pytest.mark.parametrize("warehouse_kind", ["shipstation"])
def test_hole4_two_workers_claiming_the_same_burst_do_not_deadlock(
    receive, warehouse: WarehouseSimulator, bridge_env, meet_after_first_lock
) -> None:
    bridge_env.setenv("BRIDGE_SUBMIT_LINGER_SECONDS", "0")
    reset_caches()
    ids = [receive() for _ in range(4)]
    workers = [
        Runner(lambda: submit_order(ids[-1]), "worker-a"),
        Runner(lambda: submit_order(ids[0]), "worker-b"),
    ]
    for worker in workers:
        worker.start()
    claimed = [worker.outcome() for worker in workers]  # raises DeadlockDetected on the old code

    assert sum(claimed) == len(ids)
    with session_scope() as session:
        rows = session.execute(select(Order.state, Order.attempts).where(Order.id.in_(ids))).all()
    assert rows and all(state == OrderState.SUBMITTED and attempts == 1 for state, attempts in rows)
    assert len(warehouse.orders()) == len(ids)
