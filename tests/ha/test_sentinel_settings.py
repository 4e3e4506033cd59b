"""Sentinel URLs as the settings, the broker options and the limiter's client read them."""

from __future__ import annotations

import pytest

from bridge.jobs.celery_config import broker_options
from bridge.remote.redis_client import sentinel_hosts
from bridge.settings import Settings

SENTINELS = "sentinel://10.0.0.1:26379;sentinel://10.0.0.2;sentinel://10.0.0.3:26380/2"


def test_the_sentinels_are_read_in_order_with_the_default_port() -> None:
    assert sentinel_hosts(SENTINELS) == [
        ("10.0.0.1", 26379),
        ("10.0.0.2", 26379),
        ("10.0.0.3", 26380),
    ]


def test_a_plain_redis_address_among_the_sentinels_is_refused() -> None:
    with pytest.raises(ValueError, match="not a sentinel"):
        sentinel_hosts("sentinel://10.0.0.1:26379;redis://10.0.0.2:6379")


def test_a_sentinel_broker_is_also_the_limiters_redis_and_names_its_master(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BRIDGE_BROKER_URL", SENTINELS)
    monkeypatch.setenv("BRIDGE_REDIS_SENTINEL_MASTER", "bridge-redis")
    settings = Settings(_env_file=None)
    assert settings.redis_url == SENTINELS
    options = broker_options(settings)
    assert options["master_name"] == "bridge-redis"
    assert options["visibility_timeout"] >= 3600


def test_the_master_name_defaults_to_sentinels_own_example(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BRIDGE_BROKER_URL", SENTINELS)
    monkeypatch.delenv("BRIDGE_REDIS_SENTINEL_MASTER", raising=False)
    assert broker_options(Settings(_env_file=None))["master_name"] == "mymaster"
