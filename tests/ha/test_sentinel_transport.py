"""The Sentinel transport survives an ack on a channel whose connection was released.

Real Redis, real Sentinels: a message is taken without acking it, the primary dies, the
connection is collected as Celery's consumer does on a connection loss, and the channel has no
pool left (``Channel.close`` and a fork both drop them). The ack must then fail as a connection
error, which Celery logs as "Couldn't ack" and lives through; kombu's own channel raises
AttributeError there, which stopped the worker.
"""

from __future__ import annotations

import logging
import signal

import pytest
from kombu import Connection, Queue
from kombu.message import Message
from kombu.transport import redis as kombu_redis

from bridge.jobs import sentinel_transport
from bridge.jobs.celery_config import make_celery
from bridge.settings import Settings
from tests.ha.conftest import MASTER_NAME, RedisGroup

OPTIONS = {
    "master_name": MASTER_NAME,
    "socket_timeout": 2,
    "socket_connect_timeout": 2,
    "sentinel_kwargs": {"socket_timeout": 2, "socket_connect_timeout": 2},
}


def test_a_sentinel_broker_gets_the_bridges_transport(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BRIDGE_BROKER_URL", "sentinel://10.0.0.1:26379;sentinel://10.0.0.2")
    app = make_celery(Settings(_env_file=None))
    assert type(app.connection_for_write().transport) is sentinel_transport.SentinelTransport


def test_a_plain_redis_broker_keeps_kombus_transport(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BRIDGE_BROKER_URL", "redis://10.0.0.1:6379/0")
    app = make_celery(Settings(_env_file=None))
    assert type(app.connection_for_write().transport) is kombu_redis.Transport


def _orphaned_message(redis_group: RedisGroup, transport: type) -> tuple[Connection, Message]:
    """A message taken and not acked, on a channel left as the worker's was after the kill."""
    connection = Connection(redis_group.url, transport=transport, transport_options=OPTIONS)
    queue = Queue("failover-ack")
    with connection.Producer() as producer:
        producer.publish({"order": 1}, routing_key=queue.name, declare=[queue])
    channel = connection.default_channel
    message = queue(channel).get(no_ack=False)
    assert message is not None
    primary = redis_group.primary()
    redis_group.servers[primary].send_signal(signal.SIGKILL)
    redis_group.servers[primary].wait(10)
    connection.collect(socket_timeout=1)
    channel._disconnect_pools()
    return connection, message


def test_an_ack_after_the_connection_was_released_is_a_connection_error(
    redis_group: RedisGroup, caplog: pytest.LogCaptureFixture
) -> None:
    connection, message = _orphaned_message(redis_group, sentinel_transport.SentinelTransport)
    logger = logging.getLogger("test.ack")
    with caplog.at_level(logging.CRITICAL, logger.name):
        message.ack_log_error(logger, connection.connection_errors)
    assert sentinel_transport.CLOSED in caplog.text


def test_kombus_own_channel_raises_attribute_error_there(redis_group: RedisGroup) -> None:
    """The defect the transport works around; when this fails, kombu has fixed it."""
    connection, message = _orphaned_message(redis_group, kombu_redis.SentinelTransport)
    with pytest.raises(AttributeError, match="hostname"):
        message.ack_log_error(logging.getLogger("test.ack"), connection.connection_errors)
