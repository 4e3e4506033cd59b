"""A step whose partner budget is spent stops at once, sends nothing, and says when to come back.

The worker turns that into a re-queue that is not a failed attempt (``tests/e2e/test_fairness.py``
shows it with a real worker); here the steps are called directly.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from bridge.jobs.retry import come_back_after, delay_after
from bridge.pipeline.folders import move_in_process
from bridge.pipeline.poll import poll_warehouse
from bridge.remote.errors import OverBudget, TransientError
from bridge.remote.ratelimit import orderdesk_limiter
from bridge.sim.orderdesk import OrderDeskSimulator
from bridge.sim.warehouse import WarehouseSimulator
from bridge.states import OrderState
from bridge.stores.context import StoreContext
from tests.pipeline.conftest import STORE_ID, order_row
from tests.pipeline.support import submitted

CLOSED_SECONDS = 30.0


def _stops_at_once(step: Callable[[], object]) -> OverBudget:
    started = time.monotonic()
    with pytest.raises(OverBudget) as caught:
        step()
    # The step waited at most BRIDGE_TOKEN_WAIT_SECONDS (1 s), not the 30 s of the closed bucket.
    assert time.monotonic() - started < 5
    return caught.value


def test_a_folder_move_with_the_stores_budget_spent_comes_back_later(
    receive: Callable[..., int], orderdesk: OrderDeskSimulator, store: int
) -> None:
    ids = submitted(receive, 2)
    orderdesk.reset_log()
    orderdesk_limiter(STORE_ID).penalize(CLOSED_SECONDS)

    exc = _stops_at_once(lambda: move_in_process(store))
    assert orderdesk.request_log == []  # nothing was sent
    assert {order_row(i).state for i in ids} == {OrderState.SUBMITTED}  # nor recorded
    # Come back when the tokens are there (the bucket's own wait, spread by up to half again),
    # not after the backoff of a failure.
    assert CLOSED_SECONDS - 5 < come_back_after(exc) <= CLOSED_SECONDS * 1.5
    assert come_back_after(TransientError("HTTP 503")) is None
    assert delay_after(exc, 1) >= CLOSED_SECONDS - 5  # a plain retry would wait as long


@pytest.mark.parametrize("warehouse_kind", ["shipstation"])
def test_a_poll_with_the_warehouse_credentials_budget_spent_comes_back_later(
    warehouse: WarehouseSimulator, store: int
) -> None:
    context = StoreContext.load(store)
    limiter = context._warehouse_limiter()
    assert limiter is not None  # ShipStation's 40 a minute, shared by every store using the key
    limiter.penalize(CLOSED_SECONDS)
    calls = warehouse.calls()

    exc = _stops_at_once(lambda: poll_warehouse(store))
    assert warehouse.calls() == calls
    assert CLOSED_SECONDS - 5 < come_back_after(exc) <= CLOSED_SECONDS * 1.5
