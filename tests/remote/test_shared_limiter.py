"""Several worker processes, one store: the Redis bucket keeps them under Order Desk's limit."""

from __future__ import annotations

import multiprocessing
import time
import uuid

import redis

from bridge.orderdesk.client import OrderDeskClient
from bridge.remote.ratelimit import RedisLeakyBucket
from tests.conftest import REDIS_SERVER

REDIS_URL = f"{REDIS_SERVER}/0"
# A faster bucket than Order Desk's 20 / 3 per second keeps the test short; the arithmetic is
# the same, and the simulator enforces exactly this bucket.
CAPACITY, RATE = 10, 15.0
PROCESSES, CALLS = 4, 30


def worker(args: tuple[str, str, str, str, float]) -> int:
    """One worker process: wait for the common start, then make CALLS calls; count successes."""
    url, store_id, api_key, key, start_at = args
    limiter = RedisLeakyBucket(redis.Redis.from_url(REDIS_URL), key, CAPACITY, RATE)
    client = OrderDeskClient(store_id, api_key, url, limiter=limiter, read_retries=5)
    time.sleep(max(0.0, start_at - time.time()))
    done = sum(1 for _ in range(CALLS) if client.test()["status"] == "success")
    client.close()
    return done


def test_four_processes_share_one_bucket_and_stay_under_the_limit(redis_client, simulators):
    key = f"test:ratelimit:{uuid.uuid4().hex}"
    sim = simulators.orderdesk("5150", "proc-key", bucket_size=CAPACITY, refill_per_second=RATE)
    context = multiprocessing.get_context("spawn")
    with context.Pool(PROCESSES) as pool:
        start_at = time.time() + 2  # past every child's imports, so they really overlap
        jobs = [(sim.url, "5150", "proc-key", key, start_at)] * PROCESSES
        done = pool.map(worker, jobs, chunksize=1)
    successes = [r for r in sim.request_log if r.path == "/test" and r.status == 200]
    span = successes[-1].at - successes[0].at
    count_429 = sim.count_429
    redis_client.delete(key)
    assert done == [CALLS] * PROCESSES
    assert len(successes) == PROCESSES * CALLS
    assert count_429 <= 3
    # 120 calls through a 10-token bucket refilled at 15/s cannot take less than ~7.3 s.
    assert span >= (PROCESSES * CALLS - CAPACITY) / RATE * 0.9
