"""Leases: one holder across processes until it expires, so periodic work runs once."""

from __future__ import annotations

import threading
import time

from bridge.jobs import leases


def test_a_lease_has_one_holder_until_it_expires(database: str) -> None:
    assert leases.acquire("sweep", "a", ttl=0.5)
    assert not leases.acquire("sweep", "b", ttl=0.5)
    assert leases.acquire("sweep", "a", ttl=0.5)  # the holder may renew
    time.sleep(0.6)
    assert leases.acquire("sweep", "b", ttl=5)
    leases.release("sweep", "a")  # not the holder: nothing happens
    assert not leases.acquire("sweep", "c", ttl=5)
    leases.clear("sweep")
    assert leases.acquire("sweep", "c", ttl=5)


def test_concurrent_runs_of_a_periodic_step_run_once(database: str) -> None:
    barrier = threading.Barrier(8)
    winners: list[bool] = []

    def run() -> None:
        barrier.wait(5)
        with leases.held("schedule-polls", ttl=30) as mine:
            winners.append(mine)
            time.sleep(0.3)

    threads = [threading.Thread(target=run) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert winners.count(True) == 1
