"""When to try again: capped exponential backoff with jitter, one policy for every step.

The cap stays below the broker's visibility timeout (``bridge/jobs/celery_config.py``), so a
delayed retry is never redelivered to a second worker while the first still waits on it. Jitter
keeps orders that failed together (a warehouse outage) from all coming back in the same second.
"""

from __future__ import annotations

import random

from bridge.settings import get_settings


def backoff_seconds(attempt: int, *, retry_after: float | None = None) -> float:
    """Delay before attempt ``attempt + 1``; at least the server's ``Retry-After`` when given."""
    settings = get_settings()
    exponential = settings.retry_base_seconds * 2 ** max(attempt - 1, 0)
    ceiling = min(settings.retry_max_seconds, exponential)
    delay = ceiling / 2 + random.uniform(0, ceiling / 2)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return min(delay, settings.retry_max_seconds)
