"""The one retry policy: capped, jittered backoff that never outlasts the visibility timeout."""

from __future__ import annotations

import pytest

from bridge.jobs.celery_config import MAX_COUNTDOWN, VISIBILITY_TIMEOUT
from bridge.jobs.retry import backoff_seconds


@pytest.mark.parametrize("attempt", [1, 2, 5, 10, 50])
def test_backoff_grows_is_jittered_and_capped(bridge_env, attempt: int) -> None:
    delays = {backoff_seconds(attempt) for _ in range(20)}
    assert len(delays) > 1  # jitter
    assert all(0 < delay <= 300 for delay in delays)
    assert max(delays) <= MAX_COUNTDOWN < VISIBILITY_TIMEOUT
    assert backoff_seconds(attempt, retry_after=42) >= 42


def test_backoff_honours_a_longer_retry_after_but_never_the_visibility_timeout(bridge_env) -> None:
    assert backoff_seconds(1, retry_after=10_000) <= 300
