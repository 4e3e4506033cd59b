"""The daily retention task: a run cut short by its time budget sends itself again."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
import redis

from bridge.jobs import queues
from bridge.states import OrderState
from tests.ops.conftest import SeedOrder, order_row

OLD = timedelta(days=400)


def test_a_retention_run_out_of_time_sends_itself_again(
    seed_order: SeedOrder, broker: str, bridge_env: pytest.MonkeyPatch
) -> None:
    from workers import tasks

    order_id = seed_order(OrderState.SHIPPED, age=OLD)
    bridge_env.setattr(tasks, "RETENTION_BUDGET_SECONDS", 0)

    result = tasks.retention_task.apply().get()

    assert result["complete"] is False and order_row(order_id).pruned_at is None
    [raw] = redis.Redis.from_url(broker).lrange(queues.QUEUE_MAINTENANCE, 0, -1)
    message = json.loads(raw)
    assert message["headers"]["task"] == queues.RETENTION
    assert message["headers"]["eta"] is not None  # carries on in a minute, not at once
    assert json.loads(base64.b64decode(message["body"]))[0] == []
