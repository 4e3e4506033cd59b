"""Hostile and garbled webhooks never crash the intake, and nothing unsigned becomes an order."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from bridge.models import Order
from bridge.orderdesk import payload
from bridge.orderdesk.webhook import sign_order
from bridge.settings import get_settings
from tests.intake.conftest import API_KEY, STORE_ID, URL, count, fixture_text
from web import create_app

FUZZ = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
header_text = st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=80)
store_ids = st.one_of(
    st.just(STORE_ID), st.sampled_from(["", "999999", "0", "4123450"]), header_text
)
hashes = st.one_of(st.none(), st.text("0123456789abcdef", min_size=64, max_size=64), header_text)
content_types = st.sampled_from(
    [
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=xyz",
        "application/json",
        "text/plain",
        "",
    ]
)
order_texts = st.one_of(
    st.text(max_size=300),
    st.just(fixture_text("typical")),
    st.just(fixture_text("typical")[:-40]),
    st.binary(max_size=300).map(lambda raw: raw.decode("latin-1")),
)
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=20),
    st.sampled_from(["\x00", "\ud800", "1e400", "NaN", "", "[]"]),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=25,
)
ORDER_FIELDS = (
    "order_items",
    "shipping",
    "customer",
    "folder_id",
    "folder_name",
    "date_updated",
    "source_id",
    "checkout_data",
    "email",
)
order_ids = st.one_of(
    st.integers(min_value=1, max_value=10**12),
    st.text(min_size=1, max_size=40),
    json_values,
)
order_like = st.builds(
    lambda base, order_id, changes: {**base, "id": order_id, **changes},
    st.sampled_from([json.loads(fixture_text("typical")), {}]),
    order_ids,
    st.dictionaries(st.sampled_from(ORDER_FIELDS), json_values, max_size=3),
)


@pytest.fixture
def app(database: str, store: str) -> Flask:
    app = create_app(get_settings())
    app.testing = True  # let any exception escape into the test instead of becoming a 500
    return app


@FUZZ
@given(
    body=st.one_of(
        st.binary(max_size=500),
        order_texts.map(lambda text: {"order": text}),
    ),
    store_id=st.one_of(st.none(), store_ids),
    signature=hashes,
    content_type=content_types,
)
def test_unsigned_garbage_is_refused_without_creating_orders(
    app: Flask, body: Any, store_id: str | None, signature: str | None, content_type: str
) -> None:
    headers = {}
    if store_id is not None:
        headers["X-Order-Desk-Store-Id"] = store_id
    if signature is not None:
        headers["X-Order-Desk-Hash"] = signature
    options: dict[str, Any] = {"data": body, "headers": headers}
    if isinstance(body, bytes):
        options["content_type"] = content_type

    response = app.test_client().post(URL, **options)

    # 429 once the examples have spent the test client's refusal budget (bridge.intake.refusals).
    assert response.status_code in (400, 403, 429)
    assert set(response.get_json()) == {"error"}
    assert count(Order) == 0


@FUZZ
@given(order=st.one_of(order_like, json_values))
def test_signed_odd_json_is_accepted_or_refused_never_crashes(app: Flask, order: Any) -> None:
    text = json.dumps(order)
    headers = {"X-Order-Desk-Store-Id": STORE_ID, "X-Order-Desk-Hash": sign_order(text, API_KEY)}

    response = app.test_client().post(URL, data={"order": text}, headers=headers)

    assert response.status_code in (200, 400)
    body = response.get_json()
    if response.status_code == 200:
        assert body["result"] in ("accepted", "duplicate", "parked", "cancel_requested")
        assert body["order_id"] == payload.Order.model_validate(order).id
    else:
        assert set(body) == {"error"}
    event(body.get("result") or body["error"].split(":")[0])
