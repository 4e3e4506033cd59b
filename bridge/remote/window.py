"""Mirror a server's fixed rate-limit window so that workers sharing a credential draw no 429.

ShipStation counts 40 requests per credential per fixed window and says so on every answer:
``X-Rate-Limit-Limit``, ``X-Rate-Limit-Remaining`` and ``X-Rate-Limit-Reset`` (seconds until the
window ends). A leaky bucket alone cannot match a fixed window: it refills during the window, so
it lets through up to twice the limit in one minute, and the server answers 429. So the limiter
of such a credential is a ``WindowedLimiter``: the usual bucket (smoothing, and a budget before
the server has said anything) plus a count of what the server's current window has taken.

The count is ours and the server's together: every request we send counts as it is sent (an
answer may still be on its way), and every answer raises the count to what the server says it
has counted (other tools share the credential too). Once the count reaches the limit, nobody
sends until the announced reset; the reset announced is rounded up to whole seconds, so our
window ends no earlier than the server's. Requests sent in the last ``margin`` seconds of our
window may land in the server's next one, so they are counted there too. Until an answer has
announced a reset (the first request of a window, or answers lost to timeouts), the window is
assumed to end one ``period`` after its first request, and the next announcement replaces that
guess: a full window always ends, even when no answer ever arrives to say when. The state lives in
Redis (one Lua script per change, like the bucket) so every worker process shares it;
``LocalWindow`` is the same for one process without Redis.
"""

from __future__ import annotations

import threading
import time
from functools import lru_cache
from typing import Any, Protocol, runtime_checkable

import redis

from bridge.remote.ratelimit import (
    Impatient,
    RateLimiter,
    RateLimiterUnavailable,
    RateLimitTimeout,
)
from bridge.remote.redis_client import shared
from bridge.settings import get_settings

# Seconds before our window's end during which a request may reach the server's next window.
BOUNDARY_MARGIN = 2.0


@runtime_checkable
class WindowObserver(Protocol):
    """A limiter that can take a server's whole window report, not only the remaining count."""

    def observe_window(self, limit: int, remaining: int, reset_seconds: float) -> None: ...


class Window(Protocol):
    """The shared count of one server window (``RedisWindow`` or ``LocalWindow``)."""

    limit: int

    def take(self) -> float:
        """Count one request and return 0, or return the seconds until one may be sent."""
        ...

    def observe(self, limit: int, remaining: int, reset_seconds: float | None) -> None: ...

    def close_for(self, seconds: float) -> None:
        """The server refused us: the window is full for ``seconds``."""
        ...


# KEYS[1]: the window hash. ARGV: op ("take" | "observe" | "close"), configured limit, margin,
# period, then for "observe": limit, remaining, reset (-1: not sent); for "close": seconds.
# Returns the wait in microseconds as a string for "take", "0" otherwise. ``assumed`` is 1 while
# reset_at is our guess (one period after the window's first request), not the server's word.
_WINDOW_SCRIPT = """
local key = KEYS[1]
local op = ARGV[1]
local limit = tonumber(ARGV[2])
local margin = tonumber(ARGV[3])
local period = tonumber(ARGV[4])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', key, 'used', 'reset_at', 'carry', 'limit', 'assumed')
local used = tonumber(state[1]) or 0
local reset_at = tonumber(state[2]) or 0
local carry = tonumber(state[3]) or 0
limit = tonumber(state[4]) or limit
local assumed = tonumber(state[5]) or 0
if reset_at > 0 and now >= reset_at then
  used, carry, reset_at = carry, 0, 0
end
local function announced(at)
  if assumed == 1 then reset_at = at else reset_at = math.max(reset_at, at) end
  assumed = 0
end
local wait = 0
if op == 'take' then
  if reset_at == 0 then reset_at, assumed = now + period, 1 end
  if used >= limit then
    wait = reset_at - now
  else
    used = used + 1
    if now >= reset_at - margin then carry = carry + 1 end
  end
elseif op == 'observe' then
  limit = tonumber(ARGV[5])
  used = math.max(used, limit - tonumber(ARGV[6]))
  local reset = tonumber(ARGV[7])
  if reset >= 0 then announced(now + reset) end
elseif op == 'close' then
  used = math.max(used, limit)
  announced(now + tonumber(ARGV[5]))
end
redis.call('HSET', key, 'used', tostring(used), 'reset_at', tostring(reset_at),
           'carry', tostring(carry), 'limit', tostring(limit), 'assumed', tostring(assumed))
redis.call('PEXPIRE', key, math.ceil((math.max(reset_at - now, 0) + 3600) * 1000))
return tostring(math.ceil(wait * 1000000))
"""


class RedisWindow:
    """A window count shared by every process using the same Redis ``key``."""

    def __init__(
        self,
        redis_client: redis.Redis,
        key: str,
        limit: int,
        period: float,
        margin: float = BOUNDARY_MARGIN,
    ) -> None:
        self.key = key
        self.limit = limit
        self.period = period
        self.margin = margin
        self._script = redis_client.register_script(_WINDOW_SCRIPT)

    def __repr__(self) -> str:
        return f"RedisWindow(key={self.key!r}, limit={self.limit})"

    def _run(self, op: str, *args: float) -> float:
        try:
            result: Any = self._script(
                keys=[self.key], args=[op, self.limit, self.margin, self.period, *args]
            )
        except redis.RedisError as exc:
            raise RateLimiterUnavailable(f"rate limiter store unreachable: {exc}") from exc
        return int(result) / 1_000_000

    def take(self) -> float:
        return self._run("take")

    def observe(self, limit: int, remaining: int, reset_seconds: float | None) -> None:
        self._run("observe", limit, remaining, -1 if reset_seconds is None else reset_seconds)

    def close_for(self, seconds: float) -> None:
        self._run("close", seconds)


class LocalWindow:
    """The same count inside one process, for dev mode without Redis."""

    def __init__(self, limit: int, period: float, margin: float = BOUNDARY_MARGIN) -> None:
        self.limit = limit
        self.period = period
        self.margin = margin
        self._used = 0
        self._carry = 0
        self._reset_at = 0.0
        self._assumed = False
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"LocalWindow(limit={self.limit})"

    def _roll(self) -> float:
        now = time.monotonic()
        if self._reset_at and now >= self._reset_at:
            self._used, self._carry, self._reset_at = self._carry, 0, 0.0
        return now

    def _announced(self, reset_at: float) -> None:
        self._reset_at = reset_at if self._assumed else max(self._reset_at, reset_at)
        self._assumed = False

    def take(self) -> float:
        with self._lock:
            now = self._roll()
            if not self._reset_at:
                self._reset_at, self._assumed = now + self.period, True
            if self._used >= self.limit:
                return self._reset_at - now
            self._used += 1
            if now >= self._reset_at - self.margin:
                self._carry += 1
            return 0.0

    def observe(self, limit: int, remaining: int, reset_seconds: float | None) -> None:
        with self._lock:
            now = self._roll()
            self.limit = limit
            self._used = max(self._used, limit - remaining)
            if reset_seconds is not None:
                self._announced(now + reset_seconds)

    def close_for(self, seconds: float) -> None:
        with self._lock:
            now = self._roll()
            self._used = max(self._used, self.limit)
            self._announced(now + seconds)


class WindowedLimiter:
    """A ``RateLimiter``: a token from ``bucket`` and a place in the server's ``window``."""

    def __init__(self, bucket: RateLimiter, window: Window, *, name: str = "window") -> None:
        self.bucket = bucket
        self.window = window
        self.name = name

    def __repr__(self) -> str:
        return f"WindowedLimiter({self.bucket!r}, {self.window!r})"

    def try_acquire(self) -> float:
        # The bucket first: a bucket token spent on a closed window refills within seconds, a
        # window place spent on a closed bucket would be gone until the reset.
        wait = self.bucket.try_acquire()
        if wait > 0:
            return wait
        return self.window.take()

    def acquire(self, timeout: float | None = None) -> None:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            wait = self.try_acquire()
            if wait <= 0:
                return
            if deadline is not None and time.monotonic() + wait > deadline:
                raise RateLimitTimeout(self.name, wait)
            time.sleep(wait)

    def observe_remaining(self, remaining: int) -> None:
        self.bucket.observe_remaining(remaining)
        self.window.observe(self.window.limit, remaining, None)

    def observe_window(self, limit: int, remaining: int, reset_seconds: float) -> None:
        self.bucket.observe_remaining(remaining)
        self.window.observe(limit, remaining, reset_seconds)

    def penalize(self, seconds: float) -> None:
        if seconds > 0:
            self.bucket.penalize(seconds)
            self.window.close_for(seconds)


class ImpatientWindowed(Impatient):
    """``Impatient`` around a ``WindowedLimiter``: the server's window reports still reach it
    (the sender hands them only to a limiter that takes them, ``WindowObserver``)."""

    limiter: WindowedLimiter

    def observe_window(self, limit: int, remaining: int, reset_seconds: float) -> None:
        self.limiter.observe_window(limit, remaining, reset_seconds)


def impatient(limiter: RateLimiter, max_wait: float) -> Impatient:
    """``limiter`` for a worker's step that gives its slot back past ``max_wait`` seconds."""
    if isinstance(limiter, WindowedLimiter):
        return ImpatientWindowed(limiter, max_wait)
    return Impatient(limiter, max_wait)


def windowed(bucket: RateLimiter, name: str, limit: int, period: float) -> WindowedLimiter:
    """``bucket`` plus the window (``limit`` requests per ``period`` seconds) of credential
    ``name``: in Redis when the deployment has it (shared by every worker), else in this
    process."""
    settings = get_settings()
    window: Window
    if settings.redis_url:
        client = shared(settings.redis_url, settings.redis_sentinel_master)
        window = RedisWindow(client, f"ratelimit:window:{name}", limit, period)
    else:
        window = _local_window(name, limit, period)
    return WindowedLimiter(bucket, window, name=name)


@lru_cache(maxsize=256)
def _local_window(name: str, limit: int, period: float) -> LocalWindow:
    return LocalWindow(limit, period)
