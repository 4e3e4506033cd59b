"""Hole 7: every admin POST needs the session's form token and a same-site origin, and every
action is recorded under the name of the person who took it (it was always ``admin``)."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from bridge.db import session_scope
from bridge.jobs import queues
from bridge.models import Store
from bridge.states import OrderState
from tests.ops.conftest import (
    ADMIN_PASSWORD,
    ADMIN_USER,
    ORIGIN,
    STORE_ID,
    SeedOrder,
    add_admin_user,
    form_token,
    order_row,
    queued_tasks,
    sign_in,
)


def _admin_post_paths(app: Flask, order_id: int) -> list[str]:
    """Every POST route of the admin pages, read from the URL map: a new one is checked too."""
    paths = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if rule.endpoint.startswith("admin.") and "POST" in (rule.methods or ()):
                values = {"order_id": order_id, "store_id": STORE_ID}
                assert set(rule.arguments) <= set(values), f"fill in {rule.arguments} for {rule}"
                path = rule.rule.replace("<int:order_id>", str(order_id))
                paths.append(path.replace("<store_id>", STORE_ID))
    return sorted(paths)


def test_hole7_the_url_map_has_the_expected_admin_posts(admin_app: Flask) -> None:
    assert _admin_post_paths(admin_app, 7) == [
        "/admin/login",
        "/admin/logout",
        "/admin/orders/7/acknowledge-edit",
        "/admin/orders/7/cancel",
        "/admin/orders/7/retry",
        f"/admin/stores/{STORE_ID}/pause",
        f"/admin/stores/{STORE_ID}/resume",
    ]


@pytest.mark.parametrize(
    ("form", "headers"),
    [
        ({}, ORIGIN),
        ({"csrf_token": "forged-token"}, ORIGIN),
        ({"csrf_token": "valid"}, {}),
        ({"csrf_token": "valid"}, {"Origin": "https://evil.example"}),
        ({"csrf_token": "valid"}, {"Referer": "https://evil.example/admin/"}),
        ({"csrf_token": "valid"}, {"Origin": "null"}),
    ],
    ids=["no-token", "forged-token", "no-origin", "foreign-origin", "foreign-referer", "null"],
)
def test_hole7_every_admin_post_refuses_a_request_without_a_valid_form(
    admin_app: Flask,
    seed_order: SeedOrder,
    broker: str,
    form: dict[str, str],
    headers: dict[str, str],
) -> None:
    order_id = seed_order(OrderState.FAILED)
    with admin_app.test_client() as client:
        assert sign_in(client).status_code == 303
        token = form_token(client, "/admin/")
        for path in _admin_post_paths(admin_app, order_id):
            data = {"csrf_token": token} if form.get("csrf_token") == "valid" else dict(form)
            data |= {"name": ADMIN_USER, "password": ADMIN_PASSWORD}
            response = client.post(path, data=data, headers=headers)
            assert response.status_code == 403, path
        assert client.get("/admin/").status_code == 200  # the refused logout did not sign out
    assert order_row(order_id).state == OrderState.FAILED.value
    with session_scope() as session:
        assert session.scalars(select(Store.paused_at)).all() == [None]
    assert queued_tasks(broker, queues.QUEUE_INTAKE) == []


def test_hole7_a_token_from_another_session_is_refused(
    admin_app: Flask, seed_order: SeedOrder, broker: str
) -> None:
    order_id = seed_order(OrderState.FAILED)
    with admin_app.test_client() as attacker, admin_app.test_client() as victim:
        stolen = form_token(attacker)  # anyone may load the sign-in page and get a token
        assert sign_in(victim).status_code == 303
        response = victim.post(
            f"/admin/orders/{order_id}/retry", data={"csrf_token": stolen}, headers=ORIGIN
        )
    assert response.status_code == 403
    assert order_row(order_id).state == OrderState.FAILED.value


def test_hole7_signed_out_posts_change_nothing(
    admin_app: Flask, seed_order: SeedOrder, broker: str
) -> None:
    order_id = seed_order(OrderState.FAILED)
    with admin_app.test_client() as client:
        token = form_token(client)  # a visitor's session has a token but no user
        response = client.post(
            f"/admin/orders/{order_id}/retry", data={"csrf_token": token}, headers=ORIGIN
        )
    assert response.status_code == 303 and "/admin/login" in response.headers["Location"]
    assert order_row(order_id).state == OrderState.FAILED.value
    assert queued_tasks(broker, queues.QUEUE_INTAKE) == []


def _act(client: FlaskClient, order_id: int, action: str) -> None:
    token = form_token(client, f"/admin/orders/{order_id}")
    response = client.post(
        f"/admin/orders/{order_id}/{action}", data={"csrf_token": token}, headers=ORIGIN
    )
    assert response.status_code == 303, response.get_data(as_text=True)


def test_hole7_actions_are_recorded_under_the_signed_in_users_name(
    admin_app: Flask, seed_order: SeedOrder, broker: str
) -> None:
    add_admin_user("dana", "a long passphrase of hers")
    failed = seed_order(OrderState.FAILED)
    submitted = seed_order(OrderState.SUBMITTED)
    with admin_app.test_client() as client:
        assert sign_in(client, "dana", "a long passphrase of hers").status_code == 303
        _act(client, failed, "retry")
    with admin_app.test_client() as client:
        assert sign_in(client).status_code == 303
        _act(client, submitted, "cancel")

    retried, cancelled = order_row(failed).events[-1], order_row(submitted).events[-1]
    assert retried.message == "retry requested by dana"
    assert cancelled.message == f"cancel requested by {ADMIN_USER}"
    assert {retried.detail.get("actor"), cancelled.detail.get("actor")} == {"dana", ADMIN_USER}
    page = admin_app.test_client()
    assert sign_in(page).status_code == 303
    assert "retry requested by dana" in page.get(f"/admin/orders/{failed}").get_data(as_text=True)
    assert not re.search(r"requested by admin\b", str([retried.message, cancelled.message]))
