"""Priorities inside a store's Order Desk bucket: shipments, then folder moves, then notes.

The store's bucket is starved (another caller takes every token as it refills) while notes are
asked for first, the folder move next, the shipments last, until every one of them waits in
the limiter. Order Desk (the simulator, with its real bucket of 20 and 3 per second) must still
receive them the other way round.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from bridge.models import HistoryNotes
from bridge.pipeline.folders import move_in_process
from bridge.pipeline.notes import add_history_note
from bridge.pipeline.poll import poll_warehouse
from bridge.pipeline.shipments import post_shipments
from bridge.remote import ratelimit
from bridge.remote.http import endpoint_label
from bridge.remote.ratelimit import orderdesk_limiter
from bridge.sim.orderdesk import OrderDeskSimulator
from bridge.sim.warehouse import WarehouseSimulator
from tests.pipeline.conftest import API_KEY, STORE_ID
from tests.pipeline.support import history_notes, key, submitted
from tests.support.simulators import Simulators


@pytest.fixture
def orderdesk(
    database: str, bridge_env: pytest.MonkeyPatch, simulators: Simulators
) -> OrderDeskSimulator:
    """Order Desk's real bucket, and steps that wait for tokens instead of giving their slot
    back: here the limiter alone decides who goes first."""
    bridge_env.setenv("BRIDGE_TOKEN_WAIT_SECONDS", "30")
    return simulators.orderdesk(STORE_ID, API_KEY, name="Pipeline Store", settings=bridge_env)


class Waiting:
    """Counts the callers that went into the limiter to wait (the real waiting is unchanged)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        self._lock = threading.Lock()
        real = ratelimit._acquire_blocking

        def counted(*args: Any) -> None:
            with self._lock:
                self.count += 1
            real(*args)

        monkeypatch.setattr(ratelimit, "_acquire_blocking", counted)


def _drain() -> None:
    limiter = orderdesk_limiter(STORE_ID)
    while limiter.try_acquire() == 0:
        pass


def _starve_until(ready: Callable[[], bool]) -> None:
    """Take every token as it comes (at the top priority) until ``ready``, then stop."""
    limiter = orderdesk_limiter(STORE_ID)
    deadline = time.monotonic() + 60
    while not ready() and time.monotonic() < deadline:
        limiter.try_acquire()
        time.sleep(0.02)
    limiter.try_acquire()


def test_notes_wait_behind_moves_and_moves_behind_shipments_in_a_starved_bucket(
    receive: Callable[..., int],
    orderdesk: OrderDeskSimulator,
    warehouse: WarehouseSimulator,
    store: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    history_notes(store, HistoryNotes.ALL)
    shipped = submitted(receive, 2)
    move_in_process(store)
    for order_id in shipped:
        warehouse.ship(key(order_id))
    assert poll_warehouse(store) == 2  # two packages waiting to be posted
    to_move = submitted(receive, 2)  # two orders waiting for their folder move
    orderdesk.reset_log()
    waiting = Waiting(monkeypatch)

    steps: list[Callable[[], object]] = [
        *(lambda i=i: add_history_note(i, "submitted") for i in shipped + to_move),
        lambda: move_in_process(store),
        lambda: post_shipments(store),
    ]
    errors: list[BaseException] = []

    def run(step: Callable[[], object]) -> None:
        try:
            step()
        except BaseException as exc:  # reported below, with the calls Order Desk saw
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(step,)) for step in steps]
    _drain()
    hog = threading.Thread(target=_starve_until, args=(lambda: waiting.count >= len(steps),))
    hog.start()
    for thread in threads:  # notes first, shipments last: the order a FIFO would serve
        thread.start()
        time.sleep(0.1)
    hog.join()
    for thread in threads:
        thread.join(60)

    calls = [endpoint_label(r.method, r.path) for r in orderdesk.request_log]
    assert errors == [], calls
    assert calls == [
        "POST /batch-shipments",
        "POST /move-orders",
        *["POST /orders/{id}/order-history"] * 4,
    ]
    assert orderdesk.count_429 == 0
    # The notes waited for spare tokens: a reserve the shipments and moves did not need.
    assert orderdesk.request_log[2].at - orderdesk.request_log[0].at > 1.0
