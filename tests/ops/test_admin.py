"""The admin pages: who gets in, what they show, and that actions need a real form."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask.testing import FlaskClient

from bridge.jobs import queues
from bridge.models import utcnow
from bridge.states import OrderState
from tests.ops.conftest import (
    ADMIN_USER,
    API_KEY,
    ORIGIN,
    STORE_ID,
    WAREHOUSE_KEY,
    SeedOrder,
    form_token,
    order_row,
    queued_tasks,
)

PAGES = ["/admin/", "/admin/orders", "/admin/stores", "/admin/receipts"]


def test_signed_out_visitors_are_sent_to_the_sign_in_page(admin_app) -> None:
    with admin_app.test_client() as client:
        for page in PAGES:
            response = client.get(page)
            assert response.status_code == 303, page
            assert "/admin/login" in response.headers["Location"]
        login = client.get("/admin/login")
        assert login.status_code == 200
        assert 'name="password"' in login.get_data(as_text=True)


def test_signed_in_pages_answer_200_and_are_not_cached(admin_client: FlaskClient) -> None:
    for page in PAGES:
        response = admin_client.get(page)
        assert response.status_code == 200, page
        assert response.headers["Cache-Control"] == "no-store"
        assert ADMIN_USER in response.get_data(as_text=True)


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

    pages = {page: admin_client.get(page) for page in PAGES}
    detail = admin_client.get(f"/admin/orders/{shipped}")

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
    assert re.search(r'data-history-notes="\d+">problems<', stores)  # the default note policy
    for response in [*pages.values(), detail]:
        assert response.status_code == 200
        body = response.get_data(as_text=True)
        assert API_KEY not in body and WAREHOUSE_KEY not in body
        assert "SECRET" not in body


def test_orders_page_filters_and_searches(admin_client: FlaskClient, seed_order: SeedOrder) -> None:
    seed_order(OrderState.FAILED, orderdesk_order_id="5501")
    seed_order(OrderState.SHIPPED, orderdesk_order_id="5502")

    failed = admin_client.get("/admin/orders?state=failed").get_data(as_text=True)
    search = admin_client.get("/admin/orders?q=5502").get_data(as_text=True)
    bad = admin_client.get("/admin/orders?state=lost")

    assert ">5501<" in failed and ">5502<" not in failed
    assert ">5502<" in search and ">5501<" not in search
    assert bad.status_code == 400 and "unknown state" in bad.get_data(as_text=True)
    missing = admin_client.get("/admin/orders/999999")
    assert missing.status_code == 404


def _token(client: FlaskClient, order_id: int) -> str:
    return form_token(client, f"/admin/orders/{order_id}")


def test_retry_button_with_a_valid_form(
    admin_client: FlaskClient, seed_order: SeedOrder, broker: str
) -> None:
    order_id = seed_order(OrderState.FAILED, last_error="timeout")

    response = admin_client.post(
        f"/admin/orders/{order_id}/retry",
        data={"csrf_token": _token(admin_client, order_id)},
        headers=ORIGIN,
    )

    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/admin/orders/{order_id}?notice=retried")
    order = order_row(order_id)
    assert order.state == OrderState.RECEIVED.value
    assert order.events[-1].message == f"retry requested by {ADMIN_USER}"
    assert queued_tasks(broker, queues.QUEUE_INTAKE) == [queues.SUBMIT_ORDER]
    follow = admin_client.get(response.headers["Location"])
    assert "back in the pipeline" in follow.get_data(as_text=True)


def test_cancel_button_and_a_refused_action(
    admin_client: FlaskClient, seed_order: SeedOrder, broker: str
) -> None:
    order_id = seed_order(OrderState.SUBMITTED)
    token = _token(admin_client, order_id)

    first = admin_client.post(
        f"/admin/orders/{order_id}/cancel", data={"csrf_token": token}, headers=ORIGIN
    )
    again = admin_client.post(
        f"/admin/orders/{order_id}/cancel", data={"csrf_token": token}, headers=ORIGIN
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
        ({"csrf_token": "forged-token"}, ORIGIN),
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

    response = admin_client.post(f"/admin/orders/{order_id}/retry", data=form, headers=headers)

    assert response.status_code == 403
    assert order_row(order_id).state == OrderState.FAILED.value
    assert queued_tasks(broker, queues.QUEUE_INTAKE) == []


def test_receipts_filter_by_outcome(admin_client: FlaskClient, seed_order: SeedOrder) -> None:
    seed_order(OrderState.RECEIVED, orderdesk_order_id="6601")
    accepted = admin_client.get("/admin/receipts?outcome=accepted")
    refused = admin_client.get("/admin/receipts?outcome=refused")
    assert ">6601<" in accepted.get_data(as_text=True)
    assert ">6601<" not in refused.get_data(as_text=True)
    assert STORE_ID in accepted.get_data(as_text=True)
