"""Shortcuts the pipeline step tests share: submitted orders and their keys and ids."""

from __future__ import annotations

from collections.abc import Callable

from bridge.pipeline.submit import submit_order
from tests.pipeline.conftest import order_row


def submitted(receive: Callable[..., int], count: int = 1) -> list[int]:
    ids = [receive() for _ in range(count)]
    for order_id in ids:
        submit_order(order_id)
    return ids


def key(order_id: int) -> str:
    return order_row(order_id).idempotency_key


def od(order_id: int) -> str:
    return order_row(order_id).orderdesk_order_id
