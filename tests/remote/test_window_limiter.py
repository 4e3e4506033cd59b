"""Several worker processes, one ShipStation credential: the window mirror draws no 429.

The simulator enforces ShipStation's scheme (40 requests per fixed window per credential,
``X-Rate-Limit-*`` on every answer) with a 3-second window instead of a minute to keep the test
short, and answers take 100 ms like ShipStation's. The bucket is the one a store gets today (40
tokens, refilled over one window): on its own it refills during the window and draws 429s; with
the window mirror it draws none.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
import uuid

import pytest
import redis

from bridge.backends.shipstation import ShipStationBackend, ShipStationConfig
from bridge.remote.ratelimit import RateLimiter, RedisLeakyBucket
from bridge.remote.window import LocalWindow, RedisWindow, WindowedLimiter
from tests.conftest import REDIS_SERVER

REDIS_URL = f"{REDIS_SERVER}/0"
LIMIT, WINDOW = 40, 3.0
PROCESSES, THREADS, CALLS = 3, 2, 20
# ShipStation answers in about 150 ms: answers still on their way are what a limiter must
# account for.
LATENCY = 0.1


def _limiter(key: str, windowed: bool) -> RateLimiter:
    client = redis.Redis.from_url(REDIS_URL)
    bucket = RedisLeakyBucket(client, f"{key}:bucket", LIMIT, LIMIT / WINDOW)
    if not windowed:
        return bucket
    return WindowedLimiter(bucket, RedisWindow(client, f"{key}:window", LIMIT, WINDOW))


def worker(args: tuple[str, str, bool, float]) -> int:
    """One worker process: THREADS threads, each reading CALLS times; count the answers."""
    url, key, windowed, start_at = args
    config = ShipStationConfig(base_url=url, api_key="sim-key", api_secret="sim-secret")
    backend = ShipStationBackend(config, limiter=_limiter(key, windowed))
    done = [0] * THREADS

    def run(index: int) -> None:
        for _ in range(CALLS):
            backend.api.read("/orders", {"pageSize": 1})
            done[index] += 1

    threads = [threading.Thread(target=run, args=(i,)) for i in range(THREADS)]
    time.sleep(max(0.0, start_at - time.time()))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    backend.close()
    return sum(done)


@pytest.mark.parametrize("windowed", [True, False], ids=["window-mirror", "bucket-alone"])
def test_workers_sharing_a_credential_draw_no_429(redis_client, simulators, windowed) -> None:
    sim = simulators.warehouse("shipstation", rate_limit_per_minute=LIMIT, rate_limit_window=WINDOW)
    sim.set_faults(latency=LATENCY)
    key = f"test:window:{uuid.uuid4().hex}"
    context = multiprocessing.get_context("spawn")
    with context.Pool(PROCESSES) as pool:
        start_at = time.time() + 2  # past every child's imports, so they really overlap
        done = pool.map(worker, [(sim.url, key, windowed, start_at)] * PROCESSES, chunksize=1)
    redis_client.delete(f"{key}:bucket", f"{key}:window")
    answered = [r for r in sim.request_log if r.path == "/orders" and r.status == 200]
    total = PROCESSES * THREADS * CALLS
    assert done == [THREADS * CALLS] * PROCESSES
    assert len(answered) == total
    if windowed:
        assert sim.count_429 == 0
        # 120 requests at 40 a window need three windows: the limit was used, not dodged.
        span = (answered[-1].at - answered[0].at).total_seconds()
        assert span >= (total // LIMIT - 1) * WINDOW * 0.9
    else:
        assert sim.count_429 > 0


def test_a_full_window_waits_for_the_announced_reset() -> None:
    window = LocalWindow(3, period=5.0, margin=0.1)
    assert [window.take() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert 4.5 < window.take() <= 5.0  # full, reset not yet announced: one period assumed
    window.observe(3, 0, 0.4)  # the server's word replaces the guess, even a sooner one
    wait = window.take()
    assert 0.3 < wait <= 0.4
    time.sleep(wait)
    assert window.take() == 0.0


def _local(limit: int, period: float, margin: float) -> LocalWindow:
    return LocalWindow(limit, period=period, margin=margin)


def _shared(limit: int, period: float, margin: float) -> RedisWindow:
    client = redis.Redis.from_url(REDIS_URL)
    return RedisWindow(client, f"test:window:{uuid.uuid4().hex}", limit, period, margin=margin)


@pytest.mark.parametrize("make", [_local, _shared], ids=["local", "redis"])
def test_a_window_full_of_carried_requests_still_ends(make) -> None:
    """Every place of the next window carried over and no answer to announce its reset (the
    requests timed out): the window must still end after one period, not wait forever."""
    window = make(1, 0.3, 0.5)
    assert window.take() == 0.0  # within the margin of its window: carried into the next
    assert window.take() > 0
    time.sleep(0.35)
    wait = window.take()
    assert 0 < wait <= 0.3 + 1e-6
    time.sleep(wait + 0.05)
    assert window.take() == 0.0


def test_the_server_count_and_requests_near_the_reset_carry_over() -> None:
    window = LocalWindow(10, period=60.0, margin=0.5)
    window.observe(10, 7, 0.3)  # other tools took 3 already
    assert [window.take() for _ in range(7)] == [0.0] * 7  # all within the last 0.5 s
    assert window.take() > 0
    time.sleep(0.35)
    # The server's window may have rolled over before ours: those 7 may count there.
    assert [window.take() for _ in range(3)] == [0.0] * 3
    assert window.take() > 0
