"""The at-least-once rules: leases, coalescing, backoff bounds and the Celery settings."""

from __future__ import annotations

import threading
import time

from bridge.jobs import coalesce, leases, queues
from tests.conftest import REDIS_SERVER, reset_caches
from tests.pipeline.test_submit import queued_tasks
from workers.celery_app import MAX_COUNTDOWN, TASK_TIME_LIMIT, make_celery


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


def test_a_burst_of_triggers_sends_one_message(database: str, redis_url: str, bridge_env) -> None:
    bridge_env.setenv("BRIDGE_BROKER_URL", redis_url)
    reset_caches()
    sent = [coalesce.schedule_once(queues.MOVE_IN_PROCESS, 7, delay=2) for _ in range(20)]
    assert sent.count(True) == 1
    assert queued_tasks(redis_url, queues.QUEUE_ORDERDESK) == [queues.MOVE_IN_PROCESS]
    coalesce.starting(queues.MOVE_IN_PROCESS, 7)
    assert coalesce.schedule_once(queues.MOVE_IN_PROCESS, 7, delay=2)


def test_celery_is_configured_for_at_least_once_delivery(bridge_env) -> None:
    bridge_env.setenv("BRIDGE_BROKER_URL", f"{REDIS_SERVER}/0")
    reset_caches()
    conf = make_celery().conf
    assert conf.task_acks_late and conf.task_reject_on_worker_lost
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_serializer == "json" and conf.accept_content == ["json"]
    assert conf.broker_transport_options["visibility_timeout"] > max(TASK_TIME_LIMIT, MAX_COUNTDOWN)
    assert conf.worker_soft_shutdown_timeout > 0
    assert {q.name for q in conf.task_queues} == set(queues.ALL_QUEUES)
    assert conf.task_routes[queues.SUBMIT_ORDER]["queue"] == queues.QUEUE_INTAKE
    assert conf.task_routes[queues.POLL_WAREHOUSE]["queue"] == queues.QUEUE_POLL
