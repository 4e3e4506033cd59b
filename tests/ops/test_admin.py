"""The admin pages: who gets in, what they show, and that actions need a real form."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from flask.testing import FlaskClient

from bridge import queues
from bridge.models import utcnow
from bridge.states import OrderState
from tests.conftest import reset_caches
from tests.ops.conftest import (
    API_KEY,
    AUTH,
    STORE_ID,
    WAREHOUSE_KEY,
    SeedOrder,
    basic,
    order_row,
    queued_tasks,
)

PAGES = ["/admin/", "/admin/orders", "/admin/stores", "/admin/receipts"]
ORIGIN = {"Origin": "http://localhost"}


def _client(bridge_env: pytest.MonkeyPatch, password: str | None) -> Iterator[FlaskClient]:
    from web import create_app

    if password is None:
        bridge_env.delenv("BRIDGE_ADMIN_PASSWORD", raising=False)
    else:
        bridge_env.setenv("BRIDGE_ADMIN_PASSWORD", password)
    reset_caches()
    with create_app().test_client() as client:
        yield client


@pytest.mark.parametrize("password", [None, ""])
def test_without_a_password_everyone_is_refused(
    database: str, bridge_env: pytest.MonkeyPatch, password: str | None
) -> None:
    for client in _client(bridge_env, password):
        for headers in ({}, basic(""), basic("anything")):
            response = client.get("/admin/", headers=headers)
            assert response.status_code == 503
            assert "set BRIDGE_ADMIN_PASSWORD" in response.get_data(as_text=True)


def test_wrong_password_is_401_right_one_is_200(admin_client: FlaskClient) -> None:
    for headers in ({}, basic("wrong"), {"Authorization": "Bearer x"}):
        response = admin_client.get("/admin/", headers=headers)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Basic ")
    for page in PAGES:
        response = admin_client.get(page, headers=basic("correct horse battery staple", "anyone"))
        assert response.status_code == 200, page
        assert response.headers["Cache-Control"] == "no-store"


def test_pages_show_real_data_and_never_a_secret(
    admin_client: FlaskClient, seed_order: SeedOrder
) -> None:
    shipped = seed_order(
        OrderState.SHIPPED,
        orderdesk_order_id="4401",
        shipments=[
            {
                "package_id": "PKG-77",
                "remote_shipment_id": "S-77",
                "tracking_number": "9400111899223100012345",
                "carrier": "USPS",
                "tracking_url": "https://tools.usps.com/go/TrackConfirmAction?tLabels=940011",
                "posted_at": utcnow(),
                "orderdesk_shipment_id": "889",
            }
        ],
    )
    seed_order(
        OrderState.FAILED,
        orderdesk_order_id="4402",
        last_error="warehouse refused <script>alert(1)</script>",
        age=timedelta(hours=2),
    )
    seed_order(OrderState.IN_PROCESS, orderdesk_order_id="4403", changed_after_submission=True)

    pages = {page: admin_client.get(page, headers=AUTH) for page in PAGES}
    detail = admin_client.get(f"/admin/orders/{shipped}", headers=AUTH)

    dashboard = pages["/admin/"].get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dashboard
    assert "<script>" not in dashboard
    assert ">4403<" in dashboard.split("Changed in Order Desk")[1].split("Recent webhooks")[0]
    assert "Ops &lt;Test&gt; Store" in dashboard
    page = detail.get_data(as_text=True)
    for expected in (
        "Dana Reyes",
        "1450 Harbor Blvd",
        "moved to shipped",
        "9400111899223100012345",
        "(#889)",
        "accepted",
    ):
        assert expected in page, expected
    assert "Retry" not in page and "cancel</button>" not in page  # shipped: nothing to do
    stores = pages["/admin/stores"].get_data(as_text=True)
    assert "****" in stores and "simulated" in stores
    for response in [*pages.values(), detail]:
        assert response.status_code == 200
        body = response.get_data(as_text=True)
        assert API_KEY not in body and WAREHOUSE_KEY not in body
        assert "SECRET" not in body


def test_orders_page_filters_and_searches(admin_client: FlaskClient, seed_order: SeedOrder) -> None:
    seed_order(OrderState.FAILED, orderdesk_order_id="5501")
    seed_order(OrderState.SHIPPED, orderdesk_order_id="5502")

    failed = admin_client.get("/admin/orders?state=failed", headers=AUTH).get_data(as_text=True)
    search = admin_client.get("/admin/orders?q=5502", headers=AUTH).get_data(as_text=True)
    bad = admin_client.get("/admin/orders?state=lost", headers=AUTH)

    assert ">5501<" in failed and ">5502<" not in failed
    assert ">5502<" in search and ">5501<" not in search
    assert bad.status_code == 400 and "unknown state" in bad.get_data(as_text=True)
    missing = admin_client.get("/admin/orders/999999", headers=AUTH)
    assert missing.status_code == 404


def _token(client: FlaskClient, order_id: int) -> str:
    page = client.get(f"/admin/orders/{order_id}", headers=AUTH).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, "the order page has no form"
    return match.group(1)


def test_retry_button_with_a_valid_form(
    admin_client: FlaskClient, seed_order: SeedOrder, broker: str
) -> None:
    order_id = seed_order(OrderState.FAILED, last_error="timeout")

    response = admin_client.post(
        f"/admin/orders/{order_id}/retry",
        data={"csrf_token": _token(admin_client, order_id)},
        headers=AUTH | ORIGIN,
    )

    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/admin/orders/{order_id}?notice=retried")
    order = order_row(order_id)
    assert order.state == OrderState.RECEIVED.value
    assert order.events[-1].message == "retry requested by admin"
    assert queued_tasks(broker, queues.QUEUE_INTAKE) == [queues.SUBMIT_ORDER]
    follow = admin_client.get(response.headers["Location"], headers=AUTH)
    assert "back in the pipeline" in follow.get_data(as_text=True)


def test_cancel_button_and_a_refused_action(
    admin_client: FlaskClient, seed_order: SeedOrder, broker: str
) -> None:
    order_id = seed_order(OrderState.SUBMITTED)
    token = _token(admin_client, order_id)

    first = admin_client.post(
        f"/admin/orders/{order_id}/cancel", data={"csrf_token": token}, headers=AUTH | ORIGIN
    )
    again = admin_client.post(
        f"/admin/orders/{order_id}/cancel", data={"csrf_token": token}, headers=AUTH | ORIGIN
    )

    assert first.status_code == 303
    assert order_row(order_id).state == OrderState.CANCEL_REQUESTED.value
    assert again.status_code == 409
    assert "is already cancel_requested" in again.get_data(as_text=True)
    assert queued_tasks(broker, queues.QUEUE_INTAKE) == [queues.CANCEL_ORDER]


@pytest.mark.parametrize(
    ("form", "headers"),
    [
        ({}, ORIGIN),
        ({"csrf_token": "1700000000.deadbeef"}, ORIGIN),
        ({"csrf_token": "valid"}, {}),
        ({"csrf_token": "valid"}, {"Origin": "https://evil.example"}),
        ({"csrf_token": "valid"}, {"Referer": "https://evil.example/admin/"}),
    ],
    ids=["no-token", "forged-token", "no-origin", "foreign-origin", "foreign-referer"],
)
def test_posts_without_a_valid_form_are_refused(
    admin_client: FlaskClient,
    seed_order: SeedOrder,
    broker: str,
    form: dict[str, str],
    headers: dict[str, str],
) -> None:
    order_id = seed_order(OrderState.FAILED)
    if form.get("csrf_token") == "valid":
        form = {"csrf_token": _token(admin_client, order_id)}

    response = admin_client.post(
        f"/admin/orders/{order_id}/retry", data=form, headers=AUTH | headers
    )

    assert response.status_code == 403
    assert order_row(order_id).state == OrderState.FAILED.value
    assert queued_tasks(broker, queues.QUEUE_INTAKE) == []


def test_a_token_dies_with_the_password(
    database: str, bridge_env: pytest.MonkeyPatch, seed_order: SeedOrder, broker: str
) -> None:
    order_id = seed_order(OrderState.FAILED)
    for client in _client(bridge_env, "first password"):
        page = client.get(f"/admin/orders/{order_id}", headers=basic("first password"))
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))
    assert token
    for client in _client(bridge_env, "second password"):
        response = client.post(
            f"/admin/orders/{order_id}/retry",
            data={"csrf_token": token.group(1)},
            headers=basic("second password") | ORIGIN,
        )
        assert response.status_code == 403
    assert order_row(order_id).state == OrderState.FAILED.value


def test_receipts_filter_by_outcome(admin_client: FlaskClient, seed_order: SeedOrder) -> None:
    seed_order(OrderState.RECEIVED, orderdesk_order_id="6601")
    accepted = admin_client.get("/admin/receipts?outcome=accepted", headers=AUTH)
    refused = admin_client.get("/admin/receipts?outcome=refused", headers=AUTH)
    assert ">6601<" in accepted.get_data(as_text=True)
    assert ">6601<" not in refused.get_data(as_text=True)
    assert STORE_ID in accepted.get_data(as_text=True)
