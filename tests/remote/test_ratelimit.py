"""The leaky bucket, in Redis (the Lua script) and in-process, with the same expectations."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from bridge.remote import ratelimit
from bridge.remote.ratelimit import (
    LocalLeakyBucket,
    RateLimiter,
    RateLimiterUnavailable,
    RateLimitTimeout,
    RedisLeakyBucket,
    orderdesk_limiter,
)
from bridge.settings import get_settings
from tests.conftest import REDIS_SERVER

MakeBucket = Callable[[float, float], RateLimiter]


@pytest.fixture(params=["redis", "local"])
def make_bucket(request: pytest.FixtureRequest) -> MakeBucket:
    if request.param == "local":
        return lambda capacity, rate: LocalLeakyBucket(capacity, rate)
    redis_client = request.getfixturevalue("redis_client")
    key = request.getfixturevalue("bucket_key")
    return lambda capacity, rate: RedisLeakyBucket(redis_client, key, capacity, rate)


def drain(bucket: RateLimiter) -> int:
    taken = 0
    while bucket.try_acquire() == 0:
        taken += 1
        assert taken < 1000, "bucket never ran dry"
    return taken


def test_a_full_bucket_gives_capacity_tokens_then_says_how_long_to_wait(make_bucket: MakeBucket):
    bucket = make_bucket(5, 2.0)
    assert drain(bucket) == 5
    wait = bucket.try_acquire()
    # One token at 2 per second is at most half a second away (less, as time has passed).
    assert 0 < wait <= 0.5


def test_tokens_refill_at_the_configured_rate(make_bucket: MakeBucket):
    bucket = make_bucket(3, 10.0)
    drain(bucket)
    started = time.monotonic()
    for _ in range(5):
        bucket.acquire(timeout=2)
    elapsed = time.monotonic() - started
    # Five tokens at 10 per second take about half a second, never much less.
    assert 0.4 <= elapsed < 1.5


def test_refill_never_exceeds_capacity(make_bucket: MakeBucket):
    bucket = make_bucket(3, 50.0)
    drain(bucket)
    time.sleep(0.2)  # 10 tokens' worth of refill time, capped at 3
    assert drain(bucket) == 3


def test_acquire_gives_up_at_its_deadline(make_bucket: MakeBucket):
    bucket = make_bucket(1, 0.5)
    bucket.acquire(timeout=0)
    started = time.monotonic()
    with pytest.raises(RateLimitTimeout) as caught:
        bucket.acquire(timeout=0.3)
    assert time.monotonic() - started < 0.3  # it knows the wait (2 s) is longer: no sleeping
    assert 1.5 < caught.value.wait <= 2.0


def test_penalize_stops_everyone_for_that_long_and_empties_the_bucket(make_bucket: MakeBucket):
    bucket = make_bucket(20, 5.0)
    bucket.penalize(0.4)
    wait = bucket.try_acquire()
    assert 0.3 < wait <= 0.4
    started = time.monotonic()
    bucket.acquire(timeout=2)
    assert time.monotonic() - started >= 0.3
    # The server emptied its bucket when it refused us and refilled only during the pause
    # (0.4 s at 5 per second = 2 tokens, one of them just taken); so did ours.
    assert drain(bucket) <= 2


def test_a_shorter_penalty_does_not_shorten_a_longer_one(make_bucket: MakeBucket):
    bucket = make_bucket(20, 100.0)
    bucket.penalize(0.5)
    bucket.penalize(0.1)
    assert bucket.try_acquire() > 0.3


def test_observe_remaining_lowers_but_never_raises_the_level(make_bucket: MakeBucket):
    bucket = make_bucket(10, 0.5)
    bucket.observe_remaining(2)
    assert drain(bucket) == 2
    bucket.observe_remaining(8)  # the server may think it has more; we stay cautious
    assert bucket.try_acquire() > 0


def test_threads_sharing_a_bucket_never_exceed_it(make_bucket: MakeBucket):
    bucket = make_bucket(5, 20.0)
    stamps: list[float] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(5):
            bucket.acquire(timeout=5)
            with lock:
                stamps.append(time.monotonic())

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(stamps) == 20
    # 20 tokens = 5 at once + 15 at 20 per second: the last cannot come before ~0.75 s.
    assert max(stamps) - min(stamps) >= 0.65


def test_two_redis_buckets_on_one_key_share_the_tokens(redis_client, bucket_key):
    first = RedisLeakyBucket(redis_client, bucket_key, 4, 0.5)
    second = RedisLeakyBucket(redis_client, bucket_key, 4, 0.5)
    assert drain(first) == 4
    assert second.try_acquire() > 0


def test_redis_bucket_key_expires_once_idle(redis_client, bucket_key):
    RedisLeakyBucket(redis_client, bucket_key, 4, 2.0).try_acquire()
    ttl_ms = redis_client.pttl(bucket_key)
    # Full again after capacity / rate = 2 s, plus a second of slack.
    assert 0 < ttl_ms <= 3000


def test_unreachable_redis_is_reported_as_the_limiter_being_unavailable():
    dead = redis.Redis(
        host="127.0.0.1", port=1, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0)
    )
    with pytest.raises(RateLimiterUnavailable):
        RedisLeakyBucket(dead, "test:nowhere").try_acquire()


def test_bucket_arguments_are_validated(redis_client):
    with pytest.raises(ValueError):
        LocalLeakyBucket(0, 1)
    with pytest.raises(ValueError):
        RedisLeakyBucket(redis_client, "k", 5, 0)


@pytest.fixture
def fresh_settings(monkeypatch: pytest.MonkeyPatch):
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


def test_orderdesk_limiter_uses_redis_when_configured(fresh_settings, redis_client):
    fresh_settings.setenv("BRIDGE_REDIS_URL", f"{REDIS_SERVER}/0")
    limiter = orderdesk_limiter("4242")
    assert isinstance(limiter, RedisLeakyBucket)
    assert limiter.key == "ratelimit:orderdesk:4242"
    assert (limiter.capacity, limiter.refill_per_second) == (20, 3)
    redis_client.delete(limiter.key)


def test_orderdesk_limiter_without_redis_shares_one_local_bucket_per_store(fresh_settings):
    fresh_settings.setenv("BRIDGE_REDIS_URL", "")
    fresh_settings.setenv("BRIDGE_BROKER_URL", "memory://")
    first, again, other = (orderdesk_limiter(s) for s in ("77", "77", "78"))
    assert isinstance(first, LocalLeakyBucket)
    assert first is again
    assert first is not other
    ratelimit.local_bucket.cache_clear()


def test_retry_after_header_parsing():
    assert ratelimit.retry_after_seconds("3", 1.0) == 3.0
    assert ratelimit.retry_after_seconds("0.5", 1.0) == 0.5
    assert ratelimit.retry_after_seconds(None, 1.0) == 1.0
    assert ratelimit.retry_after_seconds("soon", 2.0) == 2.0
    assert ratelimit.retry_after_seconds("-4", 2.0) == 2.0
