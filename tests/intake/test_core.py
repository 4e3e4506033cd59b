"""The Flask-free core: what it asks to enqueue, and its small decisions, on real PostgreSQL."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import pytest

from bridge.db import session_scope
from bridge.history import transition
from bridge.intake.checks import is_cancel_request
from bridge.intake.decision import parse_od_time
from bridge.intake.handler import handle
from bridge.intake.request import IntakeRequest
from bridge.intake.result import IntakeResult
from bridge.jobs import queues
from bridge.jobs.followups import Message
from bridge.models import Order, Store
from bridge.states import OrderState
from tests.intake.conftest import (
    CANCEL_FOLDER_ID,
    FOLDERS,
    STORE_ID,
    fixture_order,
    fixture_text,
    signed_headers,
)


def _handle(text: str, headers: dict[str, str] | None = None) -> IntakeResult:
    return handle(
        IntakeRequest(
            body=urlencode({"order": text}).encode(),
            order_field=text,
            headers=signed_headers(text) if headers is None else headers,
            remote_addr="203.0.113.9",
        )
    )


def _text(name: str, **changes: Any) -> str:
    order = fixture_order(name)
    order.update(changes)
    return json.dumps(order)


def test_new_order_enqueues_one_submission_and_a_duplicate_none(store: str) -> None:
    first = _handle(fixture_text("typical"))
    again = _handle(fixture_text("typical"))

    assert first.follow_ups == [Message(queues.SUBMIT_ORDER, (first.order_row_id,))]
    assert (again.outcome, again.follow_ups, again.order_row_id) == (
        "duplicate",
        [],
        first.order_row_id,
    )


def test_parked_order_enqueues_the_park_task(store: str) -> None:
    result = _handle(fixture_text("no-ship-to"))

    assert result.outcome == "parked"
    assert result.follow_ups == [Message(queues.PARK_IN_ORDERDESK, (result.order_row_id,))]


def test_reopened_order_enqueues_a_submission(store: str) -> None:
    _handle(fixture_text("no-ship-to"))
    fixed = _text(
        "no-ship-to",
        shipping=fixture_order("typical")["shipping"],
        date_updated="2026-11-22 10:00:00",
    )

    result = _handle(fixed)

    assert result.outcome == "accepted"
    assert result.follow_ups == [Message(queues.SUBMIT_ORDER, (result.order_row_id,))]


def test_cancel_of_a_known_order_enqueues_the_cancel_task(store: str) -> None:
    accepted = _handle(fixture_text("typical"))

    result = _handle(_text("typical", folder_id=CANCEL_FOLDER_ID))

    assert result.outcome == "cancel_requested"
    assert result.follow_ups == [Message(queues.CANCEL_ORDER, (accepted.order_row_id,))]


def test_cancel_before_arrival_enqueues_nothing(store: str) -> None:
    result = _handle(_text("typical", folder_id=CANCEL_FOLDER_ID))

    assert (result.outcome, result.follow_ups) == ("cancel_requested", [])


def test_refusals_enqueue_nothing_and_name_the_store(store: str) -> None:
    text = fixture_text("typical")
    result = _handle(text, {"X-Order-Desk-Store-Id": STORE_ID, "X-Order-Desk-Hash": "00"})

    assert (result.status, result.follow_ups, result.order_row_id) == (403, [], None)
    assert (result.store_id, result.orderdesk_order_id) == (STORE_ID, "48211937")


def test_header_names_are_case_insensitive(store: str) -> None:
    text = fixture_text("typical")
    headers = {k.upper(): v for k, v in signed_headers(text).items()}

    assert _handle(text, headers).outcome == "accepted"


def _store(folders: dict[str, str], cancel_folder: str = "Canceled") -> Store:
    return Store(orderdesk_folders=folders, cancel_folder=cancel_folder)


@pytest.mark.parametrize(
    ("store", "order", "expected"),
    [
        (_store(FOLDERS), {"folder_id": 21658}, True),
        (_store(FOLDERS), {"folder_id": "21658"}, True),
        (_store(FOLDERS), {"folder_id": 21655}, False),
        (_store({}), {"folder_id": 21658}, False),
        (_store({}), {"folder_id": 21658, "folder_name": "Canceled"}, True),
        (_store(FOLDERS), {"folder_name": "Prepared"}, False),
        (_store({"Storno": "7"}, "Storno"), {"folder_id": 7}, True),
        (_store(FOLDERS), {}, False),
    ],
    ids=[
        "id-int",
        "id-str",
        "other-folder",
        "no-map",
        "by-name",
        "other-name",
        "custom-folder",
        "no-folder",
    ],
)
def test_is_cancel_request(store: Store, order: dict[str, Any], expected: bool) -> None:
    assert is_cancel_request(store, order) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-20 17:04:15", datetime(2026, 11, 20, 17, 4, 15)),
        ("2026-11-20T19:04:15+02:00", datetime(2026, 11, 20, 17, 4, 15)),
        ("", None),
        ("yesterday", None),
    ],
)
def test_parse_od_time(value: str, expected: datetime | None) -> None:
    assert parse_od_time(value) == expected


def test_a_change_after_submission_asks_for_the_merchants_note_once_sent(store: str) -> None:
    accepted = _handle(fixture_text("typical"))
    with session_scope() as session:
        order = session.get_one(Order, accepted.order_row_id)
        transition(session, order, OrderState.SUBMITTING, "test")
        order.warehouse_ref = "WH-1001"
        transition(session, order, OrderState.SUBMITTED, "test")

    result = _handle(_text("typical", date_updated="2026-11-22 10:00:00", email="x@example.com"))

    assert result.outcome == "duplicate"
    assert result.follow_ups == [
        Message(queues.ADD_HISTORY_NOTE, (accepted.order_row_id, "changed_after_submission"))
    ]
