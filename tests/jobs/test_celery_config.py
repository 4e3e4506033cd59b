"""The Celery configuration (at-least-once delivery) and the sender that publishes with it."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis
import structlog

from bridge.jobs import dispatch, queues
from bridge.jobs.celery_config import (
    MAX_COUNTDOWN,
    TASK_TIME_LIMIT,
    VISIBILITY_TIMEOUT,
    CelerySender,
    make_celery,
)
from tests.conftest import REDIS_SERVER, reset_caches
from tests.jobs.conftest import queued

OTHER_BROKER = f"{REDIS_SERVER}/11"


def test_celery_is_configured_for_at_least_once_delivery(bridge_env) -> None:
    bridge_env.setenv("BRIDGE_BROKER_URL", f"{REDIS_SERVER}/0")
    reset_caches()
    conf = make_celery().conf
    assert conf.task_acks_late and conf.task_reject_on_worker_lost
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_serializer == "json" and conf.accept_content == ["json"]
    assert conf.broker_transport_options["visibility_timeout"] > max(TASK_TIME_LIMIT, MAX_COUNTDOWN)
    assert max(TASK_TIME_LIMIT, MAX_COUNTDOWN) < VISIBILITY_TIMEOUT
    assert conf.worker_soft_shutdown_timeout > 0
    assert {q.name for q in conf.task_queues} == set(queues.ALL_QUEUES)
    assert conf.task_routes[queues.SUBMIT_ORDER]["queue"] == queues.QUEUE_INTAKE
    assert conf.task_routes[queues.POLL_WAREHOUSE]["queue"] == queues.QUEUE_POLL


def test_the_worker_app_has_the_tasks_and_the_job_systems_settings(bridge_env) -> None:
    from workers.celery_app import app

    app.loader.import_default_modules()
    assert set(queues.ROUTES) <= set(app.tasks)
    assert app.conf.task_acks_late and app.conf.worker_prefetch_multiplier == 1


@pytest.fixture
def other_broker() -> Iterator[str]:
    client = redis.Redis.from_url(OTHER_BROKER)
    client.flushdb()
    yield OTHER_BROKER
    client.flushdb()
    client.close()


def test_the_sender_follows_the_broker_the_settings_name(
    broker: str, other_broker: str, bridge_env: pytest.MonkeyPatch
) -> None:
    """The tests (and ``bridge dev``) change settings inside one process; no stale app lingers."""
    assert dispatch.send(queues.SUBMIT_ORDER, 1)
    bridge_env.setenv("BRIDGE_BROKER_URL", other_broker)
    reset_caches()
    assert dispatch.send(queues.SUBMIT_ORDER, 2)
    assert dispatch.send(queues.POLL_WAREHOUSE, 3)

    assert queued(broker, queues.QUEUE_INTAKE) == [(queues.SUBMIT_ORDER, [1])]
    assert queued(other_broker, queues.QUEUE_INTAKE) == [(queues.SUBMIT_ORDER, [2])]
    assert queued(other_broker, queues.QUEUE_POLL) == [(queues.POLL_WAREHOUSE, [3])]


def test_the_worker_publishes_through_its_own_app(broker: str, other_broker: str) -> None:
    app = make_celery(include=())
    app.conf.broker_url = other_broker
    previous = dispatch.install_sender(CelerySender(app))
    try:
        assert dispatch.send(queues.SUBMIT_ORDER, 4)
    finally:
        dispatch.install_sender(previous)
    assert queued(other_broker, queues.QUEUE_INTAKE) == [(queues.SUBMIT_ORDER, [4])]
    assert queued(broker, queues.QUEUE_INTAKE) == []


def test_a_dead_broker_fails_the_send_quickly_and_is_logged(bridge_env) -> None:
    bridge_env.setenv("BRIDGE_BROKER_URL", "redis://127.0.0.1:9/0")
    reset_caches()
    started = time.monotonic()
    with structlog.testing.capture_logs() as logs:
        assert dispatch.send(queues.SUBMIT_ORDER, 42) is False
    assert time.monotonic() - started < 10
    [failure] = [entry for entry in logs if entry["event"] == "enqueue_failed"]
    assert failure["task"] == queues.SUBMIT_ORDER and failure["args"] == [42]
