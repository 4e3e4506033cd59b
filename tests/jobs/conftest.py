"""Fixtures for the job system: a Redis broker to count messages in, a sender that records what it
is handed (or refuses it, as a broker that is down would), and the pipeline's fixtures (both
simulators, a registered store) for the tests that show the retry policy at work in a step."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import pytest
import redis

from bridge.jobs import dispatch
from tests.conftest import reset_caches
from tests.pipeline.conftest import orderdesk, receive, store, warehouse, warehouse_kind

__all__ = ["orderdesk", "receive", "store", "warehouse", "warehouse_kind"]


def queued(broker: str, queue: str) -> list[tuple[str, list[object]]]:
    """(task, args) of every message waiting on ``queue``, newest first."""
    client = redis.Redis.from_url(broker)
    try:
        messages = [json.loads(raw) for raw in client.lrange(queue, 0, -1)]
    finally:
        client.close()
    # Protocol 2: the body is base64 JSON of (args, kwargs, embed).
    return [
        (message["headers"]["task"], json.loads(base64.b64decode(message["body"]))[0])
        for message in messages
    ]


@pytest.fixture
def broker(redis_url: str, bridge_env: pytest.MonkeyPatch) -> str:
    """Celery publishes to the test Redis, where tests count the messages."""
    bridge_env.setenv("BRIDGE_BROKER_URL", redis_url)
    reset_caches()
    return redis_url


@dataclass(frozen=True)
class Published:
    task: str
    args: tuple[object, ...]
    queue: str | None
    countdown: float | None


@dataclass
class RecordingSender:
    """Keeps every message it is handed; while ``down``, refuses them as a dead broker would."""

    published: list[Published] = field(default_factory=list)
    down: bool = False

    def publish(
        self, task: str, args: Sequence[object], *, queue: str | None, countdown: float | None
    ) -> None:
        if self.down:
            raise dispatch.PublishError("Error 111 connecting to 127.0.0.1:9. Connection refused.")
        self.published.append(Published(task, tuple(args), queue, countdown))

    @property
    def tasks(self) -> list[tuple[str, tuple[object, ...]]]:
        return [(message.task, message.args) for message in self.published]


@pytest.fixture
def sender() -> Iterator[RecordingSender]:
    """This test's messages go to a ``RecordingSender`` instead of the broker."""
    recording = RecordingSender()
    previous = dispatch.install_sender(recording)
    yield recording
    dispatch.install_sender(previous)
