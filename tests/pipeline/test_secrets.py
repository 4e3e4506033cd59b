"""Each step decrypts its store's stored secrets once: the context is loaded once and passed on."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from bridge.crypto import SecretBox
from bridge.db import session_scope
from bridge.history import transition
from bridge.models import HistoryNotes, Order, utcnow
from bridge.pipeline.cancel import cancel_order
from bridge.pipeline.folders import move_in_process
from bridge.pipeline.notes import add_history_note
from bridge.pipeline.parking import park_in_orderdesk
from bridge.pipeline.poll import poll_warehouse
from bridge.pipeline.shipments import post_shipments
from bridge.pipeline.submit import submit_order
from bridge.states import OrderState
from tests.pipeline.conftest import order_row
from tests.pipeline.support import history_notes, key, rejected

# The Order Desk API key and the warehouse config's secret fields.
STORED_SECRETS = 2


@pytest.fixture
def decrypted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every token the real ``SecretBox.decrypt`` opens from now on."""
    tokens: list[str] = []
    real = SecretBox.decrypt

    def counting(box: SecretBox, token: str) -> str:
        tokens.append(token)
        return real(box, token)

    monkeypatch.setattr(SecretBox, "decrypt", counting)
    return tokens


def test_parking_decrypts_each_secret_once(receive, orderdesk, decrypted: list[str]) -> None:
    order_id = rejected(receive)
    decrypted.clear()
    park_in_orderdesk(order_id)
    assert len(decrypted) == len(set(decrypted)) == STORED_SECRETS


def test_every_step_of_an_orders_life_decrypts_each_secret_at_most_once(
    receive, orderdesk, warehouse, decrypted: list[str]
) -> None:
    first, second = receive(), receive()
    store_id = order_row(first).store_id
    history_notes(store_id, HistoryNotes.ALL)  # so the routine note below is really written

    def cancel_second() -> None:
        with session_scope() as session:
            order = session.get_one(Order, second)
            transition(session, order, OrderState.CANCEL_REQUESTED, "test")
            order.next_attempt_at = utcnow() - timedelta(seconds=1)
        cancel_order(second)

    steps: list[tuple[str, Callable[[], object]]] = [
        ("submit", lambda: submit_order(first)),
        ("submit another", lambda: submit_order(second)),
        ("note", lambda: add_history_note(first, "submitted")),
        ("move", lambda: move_in_process(store_id)),
        ("ship", lambda: warehouse.ship(key(first))),
        ("poll", lambda: poll_warehouse(store_id)),
        ("post", lambda: post_shipments(store_id)),
        ("cancel", cancel_second),
    ]
    for name, step in steps:
        decrypted.clear()
        step()
        assert len(decrypted) == len(set(decrypted)), f"{name} decrypted a secret twice"
        assert len(decrypted) <= STORED_SECRETS, name
    assert order_row(first).state == OrderState.SHIPPED
    assert order_row(second).state == OrderState.CANCELLED
