"""Flower's app (``bridge.jobs.flower_app``) reaches the broker through the Sentinels and follows
a failover, from the two variables the Flower launcher and the recipes hand it."""

from __future__ import annotations

import signal

import pytest

from bridge.jobs import sentinel_transport
from bridge.jobs.flower import flower_environment
from bridge.jobs.flower_app import DEFAULT_MASTER, make_flower_app
from tests.e2e.harness import wait_until
from tests.ha.conftest import MASTER_NAME, RedisGroup


def _pings(app) -> bool:
    with app.connection_for_read() as connection:
        assert isinstance(connection.transport, sentinel_transport.SentinelTransport)
        return bool(connection.default_channel.client.ping())


def test_flowers_app_finds_the_primary_and_the_promoted_replica(
    redis_group: RedisGroup, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CELERY_BROKER_URL", redis_group.url)
    monkeypatch.setenv("BRIDGE_REDIS_SENTINEL_MASTER", MASTER_NAME)
    app = make_flower_app()
    assert app.conf.broker_transport_options["master_name"] == MASTER_NAME
    assert _pings(app)

    old_primary = redis_group.primary()
    redis_group.servers[old_primary].send_signal(signal.SIGKILL)
    redis_group.servers[old_primary].wait(10)
    wait_until(lambda: redis_group.primary() != old_primary, 30, "Sentinel to fail over")
    assert _pings(app)


def test_without_a_master_name_flower_asks_for_sentinels_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CELERY_BROKER_URL", "sentinel://10.0.0.1:26379;sentinel://10.0.0.2")
    monkeypatch.delenv("BRIDGE_REDIS_SENTINEL_MASTER", raising=False)
    assert make_flower_app().conf.broker_transport_options["master_name"] == DEFAULT_MASTER


def test_a_plain_redis_broker_gets_no_sentinel_options(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://10.0.0.1:6379/0")
    assert "master_name" not in make_flower_app().conf.broker_transport_options


def test_the_launcher_hands_flower_the_master_name_and_still_no_secret() -> None:
    env = flower_environment(
        {
            "BRIDGE_BROKER_URL": "sentinel://:redis-pw@10.0.0.1:26379;sentinel://10.0.0.2",
            "BRIDGE_REDIS_SENTINEL_MASTER": MASTER_NAME,
            "FLOWER_BASIC_AUTH": "ops:pw",
            "BRIDGE_SECRET_KEY": "not-for-flower-0123456789abcdef",
            "BRIDGE_DATABASE_URL": "postgresql+psycopg://bridge:db-pw@db/bridge",
        }
    )
    assert env["BRIDGE_REDIS_SENTINEL_MASTER"] == MASTER_NAME
    assert env["CELERY_BROKER_URL"].startswith("sentinel://")
    assert not {"BRIDGE_SECRET_KEY", "BRIDGE_DATABASE_URL"} & env.keys()
