"""Leaky-bucket rate limiting shared by every process that talks to one rate-limited API.

Order Desk meters each store with a leaky bucket (20 requests, refilled at 3 per second) and
answers 429 once it overflows. Each Celery worker process keeping its own count would let N
workers send N times the allowed rate, so the bucket state lives in Redis and every change to it
is one Lua script: read, refill, take a token, write back, atomically. The script reads the clock
with Redis ``TIME`` so workers on machines whose clocks drift still agree.

The same bucket also mirrors what the server tells us: ``observe_remaining`` lowers our level
when the server reports fewer tokens than we think (someone else spends them too, e.g. the
merchant's other apps), and ``penalize`` stops everybody after a 429 for ``X-Retry-After``
seconds. Without Redis (``bridge dev`` on a bare machine) ``LocalLeakyBucket`` gives the same
semantics inside one process. ``ServerGate`` is the limiter for APIs without a fixed budget.

``RateLimiter`` is the one interface every remote call waits on (``bridge.remote.http``), for
Order Desk stores and warehouse credentials alike.

One store's bucket serves work of unequal urgency: a shipment the customer waits for, a folder
move the merchant's rules wait for, a reconciliation read, a history note. ``Priority`` orders
them. A caller below the top may only take a token while the bucket holds more than a reserve
kept for the levels above it, decided inside the same atomic step as the take, so under
sustained load the low levels fall behind and the high ones never do, across all processes.
"""

from __future__ import annotations

import math
import threading
import time
from enum import IntEnum
from functools import lru_cache
from typing import Any, Protocol

import redis

from bridge.remote.redis_client import shared
from bridge.settings import get_settings

ORDERDESK_CAPACITY = 20.0
ORDERDESK_REFILL_PER_SECOND = 3.0


# Tokens kept back per priority level, as a share of the bucket: with Order Desk's 20, folder
# moves leave 2 for shipments, reconciliation 4, notes 6 (2 seconds of refill).
RESERVE_SHARE_PER_LEVEL = 0.1


class Priority(IntEnum):
    """How urgent a call on a shared bucket is; lower goes first when tokens run short."""

    SHIPMENTS = 0
    FOLDERS = 1
    RECONCILE = 2
    NOTES = 3

    def reserve(self, capacity: float) -> float:
        """Tokens this level must leave in a bucket of ``capacity`` for the levels above it.

        Never more than ``capacity - 1``, so a full bucket always serves every level.
        """
        return max(0.0, min(capacity * RESERVE_SHARE_PER_LEVEL * self.value, capacity - 1))


class RateLimitError(RuntimeError):
    """Base of the limiter's own failures."""


class RateLimitTimeout(RateLimitError):
    """No token could be had before the caller's deadline; ``wait`` is what it would have taken."""

    def __init__(self, key: str, wait: float) -> None:
        super().__init__(f"no token for {key} within the deadline (next in {wait:.2f}s)")
        self.wait = wait


class RateLimiterUnavailable(RateLimitError):
    """The shared bucket's store (Redis) could not be reached."""


class RateLimiter(Protocol):
    def try_acquire(self) -> float:
        """Take a token if one is there and return 0, else return the seconds until one will be."""
        ...

    def acquire(self, timeout: float | None = None) -> None:
        """Block until a token is taken; ``RateLimitTimeout`` if it cannot be within ``timeout``."""
        ...

    def observe_remaining(self, remaining: int) -> None:
        """The server reported this many tokens left: never believe we have more."""
        ...

    def penalize(self, seconds: float) -> None:
        """The server refused us: nobody sends for ``seconds``, and the bucket starts empty."""
        ...


def _acquire_blocking(limiter: RateLimiter, key: str, timeout: float | None) -> None:
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        wait = limiter.try_acquire()
        if wait <= 0:
            return
        if deadline is not None and time.monotonic() + wait > deadline:
            raise RateLimitTimeout(key, wait)
        time.sleep(wait)


# KEYS[1]: the bucket hash. ARGV: op ("acquire" | "observe" | "penalize"), capacity, refill per
# second, op argument (for "acquire": the tokens to leave for higher priorities). Returns the
# wait in microseconds as a string (0 = token taken) for "acquire", "0" otherwise. Lua numbers
# become Redis integers, hence the string.
_BUCKET_SCRIPT = """
local key = KEYS[1]
local op = ARGV[1]
local capacity = tonumber(ARGV[2])
local rate = tonumber(ARGV[3])
local arg = tonumber(ARGV[4])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', key, 'tokens', 'ts', 'blocked_until')
local tokens = tonumber(state[1]) or capacity
local ts = tonumber(state[2]) or now
local blocked_until = tonumber(state[3]) or 0
if now > ts then
  tokens = math.min(capacity, tokens + (now - ts) * rate)
end
local wait = 0
if op == 'acquire' then
  if now < blocked_until then
    wait = blocked_until - now
  elseif tokens >= 1 + arg then
    tokens = tokens - 1
  else
    wait = (1 + arg - tokens) / rate
  end
elseif op == 'observe' then
  tokens = math.min(tokens, math.max(arg, 0))
elseif op == 'penalize' then
  tokens = 0
  blocked_until = math.max(blocked_until, now + arg)
end
redis.call('HSET', key, 'tokens', tostring(tokens), 'ts', tostring(now),
           'blocked_until', tostring(blocked_until))
local idle = math.max(blocked_until - now, 0) + capacity / rate + 1
redis.call('PEXPIRE', key, math.ceil(idle * 1000))
return tostring(math.ceil(wait * 1000000))
"""


class RedisLeakyBucket:
    """A bucket shared by every process that uses the same Redis ``key``.

    An absent key is a full bucket; the key expires once it would have refilled anyway, so idle
    stores leave nothing behind.
    """

    def __init__(
        self,
        redis_client: redis.Redis,
        key: str,
        capacity: float = ORDERDESK_CAPACITY,
        refill_per_second: float = ORDERDESK_REFILL_PER_SECOND,
    ) -> None:
        if capacity < 1 or refill_per_second <= 0:
            raise ValueError("capacity must be at least 1 and refill_per_second positive")
        self.key = key
        self.capacity = float(capacity)
        self.refill_per_second = float(refill_per_second)
        self._script = redis_client.register_script(_BUCKET_SCRIPT)

    def __repr__(self) -> str:
        return (
            f"RedisLeakyBucket(key={self.key!r}, capacity={self.capacity:g}, "
            f"refill_per_second={self.refill_per_second:g})"
        )

    def _run(self, op: str, arg: float = 0) -> float:
        try:
            result: Any = self._script(
                keys=[self.key], args=[op, self.capacity, self.refill_per_second, arg]
            )
        except redis.RedisError as exc:
            raise RateLimiterUnavailable(f"rate limiter store unreachable: {exc}") from exc
        return int(result) / 1_000_000

    def try_acquire(self, reserve: float = 0.0) -> float:
        """Take a token if more than ``reserve`` would be left; else the wait until one would."""
        return self._run("acquire", reserve)

    def acquire(self, timeout: float | None = None) -> None:
        _acquire_blocking(self, self.key, timeout)

    def observe_remaining(self, remaining: int) -> None:
        self._run("observe", remaining)

    def penalize(self, seconds: float) -> None:
        if seconds > 0:
            self._run("penalize", seconds)


class LocalLeakyBucket:
    """The same bucket for one process, for dev mode without Redis."""

    def __init__(
        self,
        capacity: float = ORDERDESK_CAPACITY,
        refill_per_second: float = ORDERDESK_REFILL_PER_SECOND,
        *,
        name: str = "local",
    ) -> None:
        if capacity < 1 or refill_per_second <= 0:
            raise ValueError("capacity must be at least 1 and refill_per_second positive")
        self.name = name
        self.capacity = float(capacity)
        self.refill_per_second = float(refill_per_second)
        self._tokens = self.capacity
        self._ts = time.monotonic()
        self._blocked_until = 0.0
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return (
            f"LocalLeakyBucket(name={self.name!r}, capacity={self.capacity:g}, "
            f"refill_per_second={self.refill_per_second:g})"
        )

    def _refill(self) -> float:
        now = time.monotonic()
        if now > self._ts:
            self._tokens = min(
                self.capacity, self._tokens + (now - self._ts) * self.refill_per_second
            )
            self._ts = now
        return now

    def try_acquire(self, reserve: float = 0.0) -> float:
        """Take a token if more than ``reserve`` would be left; else the wait until one would."""
        with self._lock:
            now = self._refill()
            if now < self._blocked_until:
                return self._blocked_until - now
            if self._tokens >= 1 + reserve:
                self._tokens -= 1
                return 0.0
            return (1 + reserve - self._tokens) / self.refill_per_second

    def acquire(self, timeout: float | None = None) -> None:
        _acquire_blocking(self, self.name, timeout)

    def observe_remaining(self, remaining: int) -> None:
        with self._lock:
            self._refill()
            self._tokens = min(self._tokens, max(float(remaining), 0.0))

    def penalize(self, seconds: float) -> None:
        if seconds <= 0:
            return
        with self._lock:
            now = self._refill()
            self._tokens = 0.0
            self._blocked_until = max(self._blocked_until, now + seconds)


class Prioritized:
    """One bucket seen by callers of one ``Priority``: same tokens, a reserve left for others."""

    def __init__(self, bucket: RedisLeakyBucket | LocalLeakyBucket, priority: Priority) -> None:
        self.bucket = bucket
        self.priority = priority
        self.reserve = priority.reserve(bucket.capacity)

    def __repr__(self) -> str:
        return f"Prioritized({self.bucket!r}, {self.priority.name})"

    def try_acquire(self) -> float:
        return self.bucket.try_acquire(self.reserve)

    def acquire(self, timeout: float | None = None) -> None:
        _acquire_blocking(self, repr(self.bucket), timeout)

    def observe_remaining(self, remaining: int) -> None:
        self.bucket.observe_remaining(remaining)

    def penalize(self, seconds: float) -> None:
        self.bucket.penalize(seconds)


class Impatient:
    """A limiter whose callers never wait longer than ``max_wait`` for a token, whatever they ask.

    For a worker's step on a budget shared with other stores (a warehouse credential): past
    ``max_wait`` the wait is ``RateLimitTimeout`` (``OverBudget`` at the sender) and the task
    gives its slot back instead of sleeping in it.
    """

    def __init__(self, limiter: RateLimiter, max_wait: float) -> None:
        self.limiter = limiter
        self.max_wait = max_wait

    def __repr__(self) -> str:
        return f"Impatient({self.limiter!r}, max_wait={self.max_wait:g})"

    def try_acquire(self) -> float:
        return self.limiter.try_acquire()

    def acquire(self, timeout: float | None = None) -> None:
        wait = self.max_wait if timeout is None else min(timeout, self.max_wait)
        self.limiter.acquire(wait)

    def observe_remaining(self, remaining: int) -> None:
        self.limiter.observe_remaining(remaining)

    def penalize(self, seconds: float) -> None:
        self.limiter.penalize(seconds)


class ServerGate:
    """A process-local limiter for APIs without a fixed budget: closed only when the server says.

    It follows the server's headers alone (``penalize`` after a 429 or an exhausted window), so
    an unlimited simulator is never slowed down by a guess.
    """

    def __init__(self, name: str = "warehouse") -> None:
        self.name = name
        self._lock = threading.Lock()
        self._open_at = 0.0

    def __repr__(self) -> str:
        return f"ServerGate(name={self.name!r})"

    def try_acquire(self) -> float:
        with self._lock:
            return max(self._open_at - time.monotonic(), 0.0)

    def acquire(self, timeout: float | None = None) -> None:
        wait = self.try_acquire()
        if timeout is not None and wait > timeout:
            raise RateLimitTimeout(self.name, wait)
        if wait > 0:
            time.sleep(wait)

    def observe_remaining(self, remaining: int) -> None:
        """Nothing to learn locally: a zero is followed by ``penalize`` with the reset time."""

    def penalize(self, seconds: float) -> None:
        with self._lock:
            self._open_at = max(self._open_at, time.monotonic() + seconds)


# Buckets one process keeps without Redis. Bounded, least recently used forgotten first, so
# names drawn from outside (a refusal flood from many addresses) cannot grow memory; a busy
# store's bucket is used too often to be the one forgotten.
LOCAL_BUCKETS = 4096


@lru_cache(maxsize=LOCAL_BUCKETS)
def local_bucket(name: str, capacity: float, refill_per_second: float) -> LocalLeakyBucket:
    """This process's one bucket of that name, so every client object for a store shares it."""
    return LocalLeakyBucket(capacity, refill_per_second, name=name)


def shared_bucket(
    name: str, capacity: float, refill_per_second: float
) -> RedisLeakyBucket | LocalLeakyBucket:
    """A bucket every process shares through Redis when the deployment has it, else per process."""
    settings = get_settings()
    if settings.redis_url:
        client = shared(settings.redis_url, settings.redis_sentinel_master)
        return RedisLeakyBucket(client, f"ratelimit:{name}", capacity, refill_per_second)
    return local_bucket(name, capacity, refill_per_second)


def orderdesk_limiter(store_id: str, priority: Priority = Priority.SHIPMENTS) -> RateLimiter:
    """The limiter for one Order Desk store (20 tokens, 3 per second unless configured), as a
    caller of ``priority`` sees it; the top priority takes any token there is."""
    settings = get_settings()
    bucket = shared_bucket(
        f"orderdesk:{store_id}",
        settings.orderdesk_bucket_size,
        settings.orderdesk_refill_per_second,
    )
    return bucket if priority is Priority.SHIPMENTS else Prioritized(bucket, priority)


def retry_after_seconds(value: str | None, default: float) -> float:
    """Parse a ``Retry-After``-style header holding seconds; absent or garbled gives ``default``."""
    try:
        seconds = float(value) if value is not None else default
    except ValueError:
        return default
    return seconds if math.isfinite(seconds) and seconds >= 0 else default
