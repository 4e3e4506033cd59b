"""Fixtures for the remote-API tests: a real Redis for the shared rate limiter."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis

from tests.conftest import REDIS_SERVER

REDIS_URL = f"{REDIS_SERVER}/0"


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS_URL)
    client.ping()
    yield client
    client.close()


@pytest.fixture
def bucket_key(redis_client: redis.Redis) -> Iterator[str]:
    key = f"test:ratelimit:{uuid.uuid4().hex}"
    yield key
    redis_client.delete(key)
