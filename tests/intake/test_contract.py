"""Every row of docs/architecture.md#intake-contract, through the Flask app and PostgreSQL."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from bridge.db import session_scope
from bridge.history import transition
from bridge.models import Order, WebhookReceipt
from bridge.orderdesk.webhook import sign_order
from bridge.settings import get_settings
from bridge.states import OrderState
from bridge.stores.registry import StoreRegistry
from tests.conftest import reset_caches
from tests.intake.conftest import (
    API_KEY,
    CANCEL_FOLDER_ID,
    STORE_ID,
    URL,
    count,
    events,
    fixture_order,
    fixture_text,
    order_row,
    receipts,
    signed_headers,
)
from web import create_app

Post = Callable[..., Any]


def _last_receipt() -> WebhookReceipt:
    return receipts()[-1]


def _move(orderdesk_order_id: str, *targets: OrderState) -> None:
    with session_scope() as session:
        order = session.scalars(
            select(Order).where(Order.orderdesk_order_id == orderdesk_order_id)
        ).one()
        for target in targets:
            transition(session, order, target, "moved by the test")


def _edited(name: str, date_updated: str = "2026-11-21 09:00:00", **changes: Any) -> str:
    order = fixture_order(name)
    order.update(changes, date_updated=date_updated)
    return json.dumps(order)


@pytest.mark.parametrize(
    ("name", "order_number"),
    [("typical", "5812345678901"), ("international", "WC-10442")],
)
def test_valid_order_is_accepted_and_stored_as_received(
    store: str, post: Post, name: str, order_number: str
) -> None:
    text = fixture_text(name)
    od_id = fixture_order(name)["id"]

    response = post(text)

    assert response.status_code == 200
    assert response.get_json() == {"result": "accepted", "order_id": od_id}
    row = order_row(od_id)
    assert row.state == OrderState.RECEIVED
    assert row.order_number == order_number
    assert row.payload == json.loads(text)
    assert row.payload_sha256 == hashlib.sha256(text.encode()).hexdigest()
    assert row.orderdesk_updated_at == "2026-11-20 17:04:15"
    assert row.idempotency_key == f"od-{STORE_ID}-{od_id}"
    assert events(row.id) == []  # arriving is no state change; the receipt records it
    receipt = _last_receipt()
    assert (receipt.outcome, receipt.http_status, receipt.reason) == ("accepted", 200, "")
    assert receipt.store_id == row.store_id
    assert (receipt.claimed_store_id, receipt.orderdesk_order_id) == (STORE_ID, od_id)
    assert receipt.body_bytes > len(text.encode())  # form-encoded, so longer than the JSON
    assert len(receipt.body_sha256) == 64
    assert receipt.remote_addr == "127.0.0.1"


@pytest.mark.parametrize(
    ("name", "reason_part"),
    [
        ("no-ship-to", "no usable ship-to address"),
        ("nothing-to-ship", "nothing for the warehouse to ship"),
    ],
)
def test_unfulfillable_order_is_parked_with_a_reason(
    store: str, post: Post, name: str, reason_part: str
) -> None:
    od_id = fixture_order(name)["id"]

    response = post(fixture_text(name))

    assert response.status_code == 200
    body = response.get_json()
    assert body["result"] == "parked"
    assert body["order_id"] == od_id
    assert reason_part in body["reason"]
    row = order_row(od_id)
    assert (row.state, row.reason) == (OrderState.REJECTED, body["reason"])
    moves = [(e.from_state, e.to_state) for e in events(row.id) if e.kind == "transition"]
    assert moves == [("received", "rejected")]
    receipt = _last_receipt()
    assert (receipt.outcome, receipt.http_status, receipt.reason) == ("parked", 200, body["reason"])


def test_same_order_again_is_a_duplicate_with_one_row(store: str, post: Post) -> None:
    text = fixture_text("typical")
    post(text)

    again = post(text)

    assert again.status_code == 200
    assert again.get_json() == {"result": "duplicate", "order_id": "48211937"}
    assert count(Order) == 1
    assert [r.outcome for r in receipts()] == ["accepted", "duplicate"]


def test_newer_payload_before_submission_refreshes_the_row(store: str, post: Post) -> None:
    post(fixture_text("typical"))
    newer = _edited("typical", source_id="5812345678902", email="new@example.com")

    response = post(newer)

    assert response.get_json() == {"result": "duplicate", "order_id": "48211937"}
    row = order_row("48211937")
    assert row.payload["email"] == "new@example.com"
    assert row.order_number == "5812345678902"
    assert row.payload_sha256 == hashlib.sha256(newer.encode()).hexdigest()
    assert row.orderdesk_updated_at == "2026-11-21 09:00:00"
    assert row.state == OrderState.RECEIVED
    assert "payload_refreshed" in [e.kind for e in events(row.id)]


def test_older_payload_does_not_overwrite_a_newer_one(store: str, post: Post) -> None:
    post(_edited("typical", email="new@example.com"))

    post(_edited("typical", date_updated="2026-11-20 00:00:00", email="old@example.com"))

    assert order_row("48211937").payload["email"] == "new@example.com"


def test_newer_payload_after_submission_only_flags_the_order(store: str, post: Post) -> None:
    post(fixture_text("typical"))
    _move("48211937", OrderState.SUBMITTING, OrderState.SUBMITTED)

    response = post(_edited("typical", email="late@example.com"))

    assert response.get_json() == {"result": "duplicate", "order_id": "48211937"}
    row = order_row("48211937")
    assert row.changed_after_submission is True
    assert row.payload["email"] == "dana.reyes@example.com"  # what the warehouse has
    assert row.state == OrderState.SUBMITTED
    assert "changed_after_submission" in [e.kind for e in events(row.id)]


def test_corrected_parked_order_is_reopened(store: str, post: Post) -> None:
    post(fixture_text("no-ship-to"))
    fixed = _edited("no-ship-to", shipping=fixture_order("typical")["shipping"])

    response = post(fixed)

    assert response.get_json() == {"result": "accepted", "order_id": "48212001"}
    row = order_row("48212001")
    assert (row.state, row.reason) == (OrderState.RECEIVED, None)
    assert row.payload["shipping"]["city"] == "Costa Mesa"
    moves = [(e.from_state, e.to_state) for e in events(row.id) if e.kind == "transition"]
    assert moves == [("received", "rejected"), ("rejected", "received")]


def test_parked_order_resent_still_broken_stays_parked(store: str, post: Post) -> None:
    post(fixture_text("nothing-to-ship"))

    response = post(_edited("nothing-to-ship"))

    assert response.get_json()["result"] == "parked"
    assert order_row("48212002").state == OrderState.REJECTED


def test_cancel_by_folder_name_for_an_unknown_order_stores_it_cancelled(
    store: str, post: Post
) -> None:
    text = _edited("typical", folder_id="", folder_name="Canceled")

    response = post(text)

    assert response.get_json() == {"result": "cancel_requested", "order_id": "48211937"}
    row = order_row("48211937")
    assert row.state == OrderState.CANCELLED
    assert row.reason == "cancelled in Order Desk before it reached the bridge"
    assert _last_receipt().outcome == "cancel_requested"


def test_cancel_by_folder_id_for_a_known_order_requests_cancellation(
    store: str, post: Post
) -> None:
    post(fixture_text("typical"))
    _move("48211937", OrderState.SUBMITTING, OrderState.SUBMITTED)

    response = post(_edited("typical", folder_id=int(CANCEL_FOLDER_ID)))

    assert response.get_json() == {"result": "cancel_requested", "order_id": "48211937"}
    assert order_row("48211937").state == OrderState.CANCEL_REQUESTED


def test_cancel_after_shipping_is_refused_with_a_reason(store: str, post: Post) -> None:
    post(fixture_text("typical"))
    _move("48211937", OrderState.SUBMITTING, OrderState.SUBMITTED, OrderState.SHIPPED)

    response = post(_edited("typical", folder_id=CANCEL_FOLDER_ID))

    body = response.get_json()
    assert response.status_code == 200
    assert body["result"] == "cancel_refused"
    assert "already shipped" in body["reason"]
    row = order_row("48211937")
    assert row.state == OrderState.SHIPPED
    assert "cancel_too_late" in [e.kind for e in events(row.id)]


def test_legacy_url_decoded_signature_is_accepted(store: str, post: Post) -> None:
    order = fixture_order("typical")
    order["checkout_data"] = {"Coupon": "SAVE%41NOW", "Note": "100%25 cotton"}
    text = json.dumps(order)
    assert unquote(text) != text

    legacy = post(
        text,
        headers={
            "X-Order-Desk-Store-Id": STORE_ID,
            "X-Order-Desk-Hash": sign_order(unquote(text), API_KEY),
        },
    )

    assert legacy.get_json() == {"result": "accepted", "order_id": "48211937"}
    # Only the decoded text is signed, so the decoded text is the order it stands for.
    assert order_row("48211937").payload["checkout_data"] == {
        "Coupon": "SAVEANOW",
        "Note": "100% cotton",
    }


@pytest.mark.parametrize(
    ("headers", "error_part"),
    [
        ({"X-Order-Desk-Store-Id": STORE_ID, "X-Order-Desk-Hash": "0" * 64}, "does not match"),
        ({"X-Order-Desk-Store-Id": STORE_ID}, "X-Order-Desk-Hash header is missing"),
        (
            {"X-Order-Desk-Store-Id": STORE_ID, "X-Order-Desk-Hash": sign_order("x", API_KEY)},
            "does not match",
        ),
        ({"X-Order-Desk-Hash": "ab"}, "X-Order-Desk-Store-Id header is missing"),
    ],
    ids=["wrong-hash", "missing-hash", "hash-of-other-text", "missing-store"],
)
def test_unsigned_requests_are_refused(
    store: str, post: Post, headers: dict[str, str], error_part: str
) -> None:
    response = post(fixture_text("typical"), headers=headers)

    assert response.status_code == 403
    assert error_part in response.get_json()["error"]
    assert count(Order) == 0
    receipt = _last_receipt()
    assert (receipt.outcome, receipt.http_status) == ("refused", 403)
    assert receipt.orderdesk_order_id == "48211937"


def test_unknown_store_is_refused_and_nothing_of_the_payload_is_kept(
    store: str, post: Post
) -> None:
    text = fixture_text("typical")

    response = post(text, headers=signed_headers(text, store_id="999999"))

    assert response.status_code == 403
    assert response.get_json() == {"error": "unknown store '999999'"}
    assert count(Order) == 0
    receipt = _last_receipt()
    assert (receipt.store_id, receipt.claimed_store_id, receipt.outcome) == (
        None,
        "999999",
        "refused",
    )
    kept = json.dumps({c.name: str(getattr(receipt, c.name)) for c in WebhookReceipt.__table__.c})
    assert "dana.reyes@example.com" not in kept


def test_disabled_store_is_refused(store: str, post: Post) -> None:
    with session_scope() as session:
        StoreRegistry(session).disable(STORE_ID)

    response = post(fixture_text("typical"))

    assert response.status_code == 403
    assert response.get_json() == {"error": f"store {STORE_ID} is disabled"}
    assert count(Order) == 0
    assert _last_receipt().store_id is not None


@pytest.mark.parametrize(
    ("text", "error_part"),
    [
        ('{"id": "1", "order_items": [', "not valid JSON"),
        ('[{"id": "48211937"}]', "must be an object, not an array"),
        ('"48211937"', "must be an object, not a string"),
        ('{"email": "a@example.com"}', "has no 'id'"),
        ('{"id": "1", "order_items": "lots"}', "does not have Order Desk's shape"),
        ('{"id": "1", "note": "a\\u0000b"}', "NUL character"),
        ('{"id": "\\ud800"}', "unpaired surrogate"),
        ('{"id": "1", "total": NaN}', "NaN, which JSON does not allow"),
        ('{"id": "1", "total": 1e400}', "number too large"),
    ],
    ids=["broken-json", "array", "string", "no-id", "bad-shape", "nul", "surrogate", "nan", "inf"],
)
def test_signed_but_malformed_order_is_a_400(
    store: str, post: Post, text: str, error_part: str
) -> None:
    response = post(text)

    assert response.status_code == 400
    assert error_part in response.get_json()["error"]
    assert count(Order) == 0
    receipt = _last_receipt()
    assert (receipt.outcome, receipt.http_status) == ("invalid", 400)
    assert error_part in receipt.reason


def test_missing_order_field_is_a_400(store: str, client: FlaskClient) -> None:
    response = client.post(URL, data={"orders": "{}"}, headers=signed_headers("{}"))

    assert response.status_code == 400
    assert response.get_json() == {"error": "the form field 'order' is missing or empty"}
    assert _last_receipt().outcome == "invalid"


def test_json_body_instead_of_a_form_is_a_400(store: str, client: FlaskClient) -> None:
    text = fixture_text("typical")
    response = client.post(URL, data=text, content_type="application/json")

    assert response.status_code == 400


def test_oversized_body_is_a_413_with_nothing_kept(database: str, store: str) -> None:
    settings = get_settings().model_copy(update={"max_body_bytes": 2048})
    client = create_app(settings).test_client()
    text = _edited("typical", filler="x" * 4096)

    response = client.post(URL, data={"order": text}, headers=signed_headers(text))

    assert response.status_code == 413
    assert response.get_json() == {"error": "payload too large (limit 2048 bytes)"}
    assert receipts() == []
    assert count(Order) == 0


def test_a_large_order_under_the_limit_is_accepted(store: str, post: Post) -> None:
    text = _edited("typical", filler="x" * 700_000)  # above Flask's 500 kB form-field default

    response = post(text)

    assert response.get_json() == {"result": "accepted", "order_id": "48211937"}


def test_database_down_is_a_503_with_nothing_written(
    database: str, store: str, bridge_env: pytest.MonkeyPatch
) -> None:
    bridge_env.setenv("BRIDGE_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:1/test")
    reset_caches()
    client = create_app(get_settings()).test_client()
    text = fixture_text("typical")

    response = client.post(URL, data={"order": text}, headers=signed_headers(text))

    assert response.status_code == 503
    assert response.get_json() == {"error": "database unavailable"}
    bridge_env.setenv("BRIDGE_DATABASE_URL", database)
    reset_caches()
    assert receipts() == []
    assert count(Order) == 0


def test_one_log_line_per_request_without_the_key(
    database: str, store: str, bridge_env: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    bridge_env.setenv("BRIDGE_LOG_FORMAT", "json")
    reset_caches()
    client = create_app(get_settings()).test_client()
    text = fixture_text("typical")
    capfd.readouterr()

    client.post(URL, data={"order": text}, headers=signed_headers(text))
    client.post(
        URL,
        data={"order": text},
        headers={"X-Order-Desk-Store-Id": STORE_ID, "X-Order-Desk-Hash": "f" * 64},
    )

    output = capfd.readouterr().err
    lines = [json.loads(line) for line in output.splitlines() if '"webhook"' in line]
    assert [(line["outcome"], line["status"]) for line in lines] == [
        ("accepted", 200),
        ("refused", 403),
    ]
    for line in lines:
        assert (line["store_id"], line["orderdesk_order_id"]) == (STORE_ID, "48211937")
        assert isinstance(line["ms"], float)
    assert API_KEY not in output
    assert "dana.reyes@example.com" not in output
