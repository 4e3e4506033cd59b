"""What goes wrong on the wire: rate limits, latency, server errors, replies lost after a write.

The bridge's hardest code paths (back-off on 429, retry on 5xx, look-up-before-resubmit after a
timeout) only run when the warehouse misbehaves, so the simulator misbehaves on request. The
request log records every API call so tests can prove "exactly one create" from the server side.
Waits use the simulator's stop event, so ``stop()`` never waits for a hung reply to finish.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from bridge.sim.warehouse.store import utcnow


@dataclass(frozen=True)
class RequestRecord:
    method: str
    path: str
    status: int
    at: datetime


class RequestLog:
    """Every API request of the run, in completion order (kept for the whole run on purpose)."""

    def __init__(self) -> None:
        self._records: list[RequestRecord] = []
        self._lock = threading.Lock()

    def add(self, method: str, path: str, status: int) -> None:
        with self._lock:
            self._records.append(RequestRecord(method, path, status, utcnow()))

    def records(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._records)

    def count(self, method: str | None = None, path: str | None = None) -> int:
        return sum(
            1
            for record in self.records()
            if (method is None or record.method == method.upper())
            and (path is None or record.path.startswith(path))
        )


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int


class FixedWindowLimiter:
    """ShipStation's scheme: N requests per credential per fixed window, then 429 until it ends."""

    def __init__(
        self, limit: int, window: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._windows: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def hit(self, credential: str) -> RateDecision:
        with self._lock:
            now = self._clock()
            started, used = self._windows.get(credential, (now, 0))
            if now - started >= self.window:
                started, used = now, 0
            allowed = used < self.limit
            if allowed:
                used += 1
            self._windows[credential] = (started, used)
            reset = max(0, math.ceil(started + self.window - now))
            return RateDecision(allowed, self.limit, self.limit - used, reset)


@dataclass(frozen=True)
class FaultConfig:
    latency: float = 0.0
    error_rate: float = 0.0
    error_status: int = 500
    timeout_after_store: int = 0
    hang_seconds: float = 2.0
    paths: tuple[str, ...] | None = None
    seed: int | None = None


class Faults:
    """The configured misbehaviour, applied to API paths (never to ``/_sim/`` controls)."""

    def __init__(self, stopping: threading.Event) -> None:
        self._stopping = stopping
        self._lock = threading.Lock()
        self._config = FaultConfig()
        self._rng = random.Random()
        self._hangs_left = 0
        self._throttled_until = 0.0

    @property
    def config(self) -> FaultConfig:
        return self._config

    def configure(
        self,
        *,
        latency: float = 0.0,
        error_rate: float = 0.0,
        error_status: int = 500,
        timeout_after_store: int = 0,
        hang_seconds: float = 2.0,
        paths: Sequence[str] | None = None,
        seed: int | None = None,
    ) -> None:
        if not 0.0 <= error_rate <= 1.0:
            raise ValueError("error_rate must be between 0 and 1")
        if latency < 0 or hang_seconds < 0 or timeout_after_store < 0:
            raise ValueError("latency, hang_seconds and timeout_after_store cannot be negative")
        if not 500 <= error_status <= 599:
            raise ValueError("error_status must be a 5xx status")
        with self._lock:
            self._config = FaultConfig(
                latency,
                error_rate,
                error_status,
                timeout_after_store,
                hang_seconds,
                None if paths is None else tuple(paths),
                seed,
            )
            self._rng = random.Random(seed)
            self._hangs_left = timeout_after_store

    def clear(self) -> None:
        self.configure()
        self.throttle(0.0)

    def throttle(self, seconds: float) -> None:
        """Refuse every API request with a 429 for ``seconds``, as when another tool on the
        same credentials has spent the window; the refusal announces the seconds left."""
        if seconds < 0:
            raise ValueError("throttle seconds cannot be negative")
        with self._lock:
            self._throttled_until = time.monotonic() + seconds if seconds else 0.0

    def throttled_for(self) -> int:
        """Whole seconds left of a throttle (at least 1 while one is on), else 0."""
        with self._lock:
            left = self._throttled_until - time.monotonic()
        return max(1, math.ceil(left)) if left > 0 else 0

    def _applies(self, path: str) -> bool:
        paths = self._config.paths
        return paths is None or any(path.startswith(prefix) for prefix in paths)

    def before_request(self, path: str) -> int | None:
        """Delay the request as configured; return a status to fail it with, or None."""
        if not self._applies(path):
            return None
        config = self._config
        if config.latency:
            self._stopping.wait(config.latency)
        with self._lock:
            failing = config.error_rate > 0 and self._rng.random() < config.error_rate
        return config.error_status if failing else None

    def hang_after_store(self, path: str) -> None:
        """Called once a create is stored: hold the reply so the client times out."""
        if not self._applies(path):
            return
        with self._lock:
            if self._hangs_left <= 0:
                return
            self._hangs_left -= 1
            seconds = self._config.hang_seconds
        self._stopping.wait(seconds)
