"""When to try again: the one retry policy of every step and task.

Which failures are worth another try is decided by class (``bridge.remote.errors``): a
``RateLimited``, ``TransientError`` or ``AmbiguousOutcome`` from Order Desk or a warehouse, the
shared rate limiter failing, a dropped connection. Anything else is a refusal or a bug that a
repeat cannot fix.

The delay is capped exponential backoff with jitter, and never shorter than the wait a server
asked for. The cap stays below the broker's visibility timeout (``bridge/jobs/celery_config.py``),
so a delayed retry is never redelivered to a second worker while the first still waits on it.
Jitter keeps orders that failed together (a warehouse outage) from all coming back in the same
second.
"""

from __future__ import annotations

import random

from bridge.remote.errors import AmbiguousOutcome, OverBudget, RateLimited, TransientError
from bridge.remote.ratelimit import RateLimitError, RateLimitTimeout
from bridge.settings import get_settings

# The longest delay ever scheduled; the broker's visibility timeout must stay above it.
MAX_DELAY_SECONDS = 600.0

RETRYABLE: tuple[type[BaseException], ...] = (
    RateLimited,
    TransientError,
    AmbiguousOutcome,
    RateLimitError,
    ConnectionError,
)


def is_retryable(exc: BaseException) -> bool:
    """Whether a later try of the same step may succeed."""
    return isinstance(exc, RETRYABLE)


def retry_after(exc: BaseException) -> float | None:
    """The wait the server (or our shared limiter) asked for, if the failure came with one."""
    if isinstance(exc, RateLimited):
        return exc.retry_after
    if isinstance(exc, RateLimitTimeout):
        return exc.wait
    return None


def come_back_after(exc: BaseException) -> float | None:
    """The countdown for a task that only found a partner's budget spent; None for a failure.

    Such a task sent nothing (``OverBudget``), so it is re-queued for when the tokens will be
    there without counting an attempt: waiting for a busy store is not the store failing. Up to
    half the wait again is added at random: the many notes of a busy store all hear the same
    wait, and coming back together only one of them would get a token, the rest again nothing.
    """
    if not isinstance(exc, OverBudget):
        return None
    wait = max(exc.retry_after, 0.1)
    return min(wait + random.uniform(0, wait / 2), MAX_DELAY_SECONDS)


def backoff_seconds(attempt: int, *, retry_after: float | None = None) -> float:
    """Delay before attempt ``attempt + 1``; at least the server's ``Retry-After`` when given."""
    settings = get_settings()
    cap = min(settings.retry_max_seconds, MAX_DELAY_SECONDS)
    exponential = settings.retry_base_seconds * 2 ** min(max(attempt - 1, 0), 32)
    ceiling = min(cap, exponential)
    delay = ceiling / 2 + random.uniform(0, ceiling / 2)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return min(delay, cap)


def delay_after(exc: BaseException, attempt: int) -> float:
    """Delay before trying again after attempt number ``attempt`` failed with ``exc``."""
    return backoff_seconds(attempt, retry_after=retry_after(exc))


def task_max_retries() -> int:
    """How many times a per-store task is retried before its failure is left to the sweeper."""
    return get_settings().max_attempts
