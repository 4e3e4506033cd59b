"""Priorities inside one bucket: a low level only takes what the levels above can spare."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable

import pytest
import redis

from bridge.remote.ratelimit import (
    LocalLeakyBucket,
    Prioritized,
    Priority,
    RateLimitTimeout,
    RedisLeakyBucket,
)

Bucket = RedisLeakyBucket | LocalLeakyBucket
MakeBucket = Callable[[float, float], Bucket]


@pytest.fixture(params=["redis", "local"])
def make_bucket(request: pytest.FixtureRequest) -> MakeBucket:
    if request.param == "local":
        return lambda capacity, rate: LocalLeakyBucket(capacity, rate)
    client: redis.Redis = request.getfixturevalue("redis_client")
    key: str = request.getfixturevalue("bucket_key")
    made = itertools.count()
    # A key of its own per bucket (they expire once idle), like one per store.
    return lambda capacity, rate: RedisLeakyBucket(client, f"{key}:{next(made)}", capacity, rate)


def taken(limiter: Bucket | Prioritized) -> int:
    count = 0
    while limiter.try_acquire() == 0:
        count += 1
        assert count < 1000, "bucket never ran dry"
    return count


def test_the_reserve_grows_with_the_level_and_never_locks_a_full_bucket_out() -> None:
    assert [p.reserve(20) for p in Priority] == pytest.approx([0, 2, 4, 6])
    assert Priority.NOTES.reserve(1) == 0  # a one-token bucket serves every level alike
    # At most capacity - 1, so a full bucket serves it.
    assert Priority.NOTES.reserve(1.2) == pytest.approx(0.2)


def test_each_level_stops_where_the_reserve_for_the_levels_above_begins(
    make_bucket: MakeBucket,
) -> None:
    bucket = make_bucket(20, 0.001)  # no refill to speak of during the test
    assert taken(Prioritized(bucket, Priority.NOTES)) == 14
    assert taken(Prioritized(bucket, Priority.RECONCILE)) == 2
    assert taken(Prioritized(bucket, Priority.FOLDERS)) == 2
    assert taken(bucket) == 2  # shipments take the last tokens


def test_a_low_level_is_told_to_wait_for_the_reserve_not_for_one_token(
    make_bucket: MakeBucket,
) -> None:
    bucket = make_bucket(20, 10.0)
    taken(bucket)
    shipments_wait = bucket.try_acquire()
    notes_wait = Prioritized(bucket, Priority.NOTES).try_acquire()
    assert 0 < shipments_wait <= 0.1
    # Seven tokens (one plus a reserve of six) at 10 per second.
    assert 0.6 < notes_wait <= 0.7


def test_under_sustained_demand_the_low_level_falls_behind_never_the_high_one(
    make_bucket: MakeBucket,
) -> None:
    """Shipments ask for a token as fast as they can for 1.5 s; notes compete all along."""
    bucket = make_bucket(20, 20.0)
    taken(bucket)
    counts = {"shipments": 0, "notes": 0}
    stop = time.monotonic() + 1.5

    def spend(name: str, limiter: Bucket | Prioritized) -> None:
        while time.monotonic() < stop:
            try:
                limiter.acquire(timeout=max(stop - time.monotonic(), 0))
            except RateLimitTimeout:
                return
            counts[name] += 1

    threads = [
        threading.Thread(target=spend, args=("notes", Prioritized(bucket, Priority.NOTES))),
        threading.Thread(target=spend, args=("shipments", bucket)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # The refill (about 30 tokens) went to shipments; notes never saw the reserve filled.
    assert counts["shipments"] >= 20
    assert counts["notes"] <= 2


def test_every_level_takes_from_a_full_bucket(make_bucket: MakeBucket) -> None:
    for priority in Priority:
        bucket = make_bucket(1.5, 0.001)
        limiter = Prioritized(bucket, priority)
        assert limiter.try_acquire() == 0, priority
        limiter.penalize(5)
        assert bucket.try_acquire() > 4  # the penalty reached the shared bucket
