"""Rate limiting and fault injection for the Order Desk simulator.

The leaky bucket reproduces Order Desk's documented limit (20 tokens, 3 per second, one token per
request, ``X-Retry-After`` in whole seconds) so the bridge's own limiter is tested against the
real arithmetic. Faults are what a 3PL will meet in production: slow answers, 5xx bursts, a
429 storm, and the nastiest case, a write that was applied but whose answer never arrived.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Admission:
    allowed: bool
    tokens_remaining: int
    retry_after: int = 0


class LeakyBucket:
    """Capacity ``capacity`` tokens, refilled continuously at ``refill_per_second``."""

    def __init__(
        self,
        capacity: int,
        refill_per_second: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._capacity = float(capacity)
        self._rate = refill_per_second
        self._clock = clock
        self._tokens = float(capacity)
        self._updated = clock()
        self._lock = threading.Lock()

    def take(self) -> Admission:
        with self._lock:
            self._refill()
            if self._tokens >= 1:
                self._tokens -= 1
                return Admission(True, math.floor(self._tokens))
            wait = (1 - self._tokens) / self._rate if self._rate > 0 else 60
            return Admission(False, 0, max(1, math.ceil(wait)))

    @property
    def tokens_remaining(self) -> int:
        with self._lock:
            self._refill()
            return math.floor(self._tokens)

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self._capacity, self._tokens + (now - self._updated) * self._rate)
        self._updated = now


@dataclass
class Faults:
    """The faults in force; the simulator reads and changes them under its lock."""

    latency: float = 0.0
    error_rate: float = 0.0
    error_status: int = 500
    storm_until: float = 0.0
    timeout_after_write: int = 0
    hang_seconds: float = 2.0
    paths: tuple[str, ...] = ()
    rng: random.Random = field(default_factory=random.Random)

    @classmethod
    def build(
        cls,
        *,
        latency: float = 0.0,
        error_rate: float = 0.0,
        error_status: int = 500,
        storm_429_seconds: float = 0.0,
        timeout_after_write: int = 0,
        hang_seconds: float = 2.0,
        paths: Sequence[str] | None = None,
        seed: int | None = None,
    ) -> Faults:
        if not 0.0 <= error_rate <= 1.0:
            raise ValueError("error_rate must be between 0 and 1")
        if latency < 0 or hang_seconds < 0 or storm_429_seconds < 0 or timeout_after_write < 0:
            raise ValueError("latency, hang_seconds, storm_429_seconds and counts must be >= 0")
        storm_until = time.monotonic() + storm_429_seconds if storm_429_seconds else 0.0
        return cls(
            latency=latency,
            error_rate=error_rate,
            error_status=error_status,
            storm_until=storm_until,
            timeout_after_write=timeout_after_write,
            hang_seconds=hang_seconds,
            paths=tuple(paths or ()),
            rng=random.Random(seed),
        )

    def applies_to(self, path: str) -> bool:
        return not self.paths or path.startswith(self.paths)

    def storm_retry_after(self) -> int:
        """Whole seconds left in a 429 storm, 0 when none is raging."""
        left = self.storm_until - time.monotonic()
        return max(1, math.ceil(left)) if left > 0 else 0

    def roll_error(self) -> bool:
        return self.error_rate > 0 and self.rng.random() < self.error_rate

    def claim_hang(self) -> bool:
        """Spend one of the armed ambiguous-timeout writes."""
        if self.timeout_after_write <= 0:
            return False
        self.timeout_after_write -= 1
        return True
