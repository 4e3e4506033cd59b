"""Each new order counts once as a transition into ``received``, whichever path stored it."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from prometheus_client import REGISTRY

from bridge.db import session_scope
from bridge.intake.accept import accept_for_known_store
from bridge.intake.full import FullIntake
from bridge.intake.handler import handle
from bridge.intake.request import IntakeRequest
from bridge.intake.result import IntakeResult
from bridge.intake.trusted import take_trusted
from bridge.models import Order, Store
from bridge.orderdesk.webhook import parse_order
from tests.intake.conftest import CANCEL_FOLDER_ID, STORE_ID, count, fixture_order, signed_headers


def _arrivals() -> float:
    sample = REGISTRY.get_sample_value("bridge_order_transitions_total", {"state": "received"})
    return sample or 0.0


def _text(orderdesk_order_id: str, name: str = "typical", **changes: object) -> str:
    order = fixture_order(name)
    order.update(changes, id=orderdesk_order_id)
    return json.dumps(order)


def _request(text: str) -> IntakeRequest:
    return IntakeRequest(
        body=urlencode({"order": text}).encode(),
        order_field=text,
        headers=signed_headers(text),
        remote_addr="203.0.113.9",
    )


def _full(text: str) -> IntakeResult:
    with session_scope() as session:
        return FullIntake(session, _request(text)).run()


def test_the_full_path_counts_each_new_order_once_and_no_duplicate(store: str) -> None:
    before = _arrivals()

    assert _full(_text("900001")).outcome == "accepted"
    assert _arrivals() == before + 1
    assert _full(_text("900001")).outcome == "duplicate"
    assert _full(_text("900002")).outcome == "accepted"
    assert _arrivals() == before + 2


def test_new_orders_that_move_on_at_once_still_arrive_first(store: str) -> None:
    before = _arrivals()

    assert _full(_text("900001", folder_id=CANCEL_FOLDER_ID)).outcome == "cancel_requested"
    assert _full(_text("900002", "no-ship-to")).outcome == "parked"
    assert _arrivals() == before + 2


def test_the_fast_path_counts_each_new_order_once_and_no_duplicate(store: str) -> None:
    _full(_text("900001"))  # reads the store, so this process now knows it
    before = _arrivals()

    fast = accept_for_known_store(_request(_text("900002")))
    assert fast is not None and fast.outcome == "accepted"
    assert _arrivals() == before + 1
    assert accept_for_known_store(_request(_text("900002"))) is None
    assert handle(_request(_text("900002"))).outcome == "duplicate"
    assert _arrivals() == before + 1
    assert count(Order) == 2


def test_an_order_reconciliation_takes_in_counts_once(store: str) -> None:
    parsed = parse_order(_text("900001"))
    before = _arrivals()

    with session_scope() as session:
        shop = session.query(Store).filter_by(orderdesk_store_id=STORE_ID).one()
        assert take_trusted(session, shop, parsed).inserted
    with session_scope() as session:
        shop = session.query(Store).filter_by(orderdesk_store_id=STORE_ID).one()
        assert not take_trusted(session, shop, parsed).inserted
    assert _arrivals() == before + 1
