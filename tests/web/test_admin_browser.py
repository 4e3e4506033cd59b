"""The admin pages as a person uses them, in headless Chromium: sign in, read the dashboard,
find an order by its tracking number, retry a failed order, pause and resume a store."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select

from bridge.db import session_scope
from bridge.jobs import queues
from bridge.models import Store, utcnow
from bridge.states import OrderState
from tests.ops.conftest import (
    ADMIN_USER,
    API_KEY,
    STORE_ID,
    WAREHOUSE_KEY,
    SeedOrder,
    order_row,
    queued_tasks,
)
from tests.web.conftest import FLOWER_URL

if TYPE_CHECKING:
    from playwright.sync_api import Page

TRACKING = "9400111899223100098765"
Screenshot = Callable[["Page", str], Path]


def _store_paused() -> tuple[bool, str | None]:
    with session_scope() as session:
        paused_at, paused_by = session.execute(select(Store.paused_at, Store.paused_by)).one()
    return paused_at is not None, paused_by


def test_sign_in_and_the_dashboard(
    page: Page, seed_order: SeedOrder, screenshot: Screenshot
) -> None:
    seed_order(OrderState.RECEIVED, orderdesk_order_id="7001", age=timedelta(hours=3))
    seed_order(OrderState.SUBMITTED, orderdesk_order_id="7002", submitted_at=utcnow())
    seed_order(OrderState.FAILED, orderdesk_order_id="7003", last_error="HTTP 503")

    page.goto("/admin/")
    page.wait_for_url("**/admin/login**")  # not signed in: sent to the sign-in form
    page.get_by_label("User name").fill(ADMIN_USER)
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Sign in").click()
    assert page.locator("p.error").inner_text() == "Wrong user name or password."
    page.get_by_label("User name").fill(ADMIN_USER)
    page.get_by_label("Password").fill("correct horse battery staple")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/admin/")

    assert page.locator("header .user").inner_text().startswith(ADMIN_USER)
    counts = page.locator("h2:has-text('Orders per store and state') + table")
    header = counts.locator("tr").first.locator("th").all_inner_texts()
    store_row = counts.locator("tr").nth(1).locator("td").all_inner_texts()
    by_state = dict(zip(header[1:], store_row[1:], strict=True))
    assert store_row[0] == STORE_ID
    assert (by_state["received"], by_state["submitted"], by_state["failed"]) == ("1", "1", "1")
    assert page.get_by_role("link", name="Flower").get_attribute("href") == FLOWER_URL
    hour = page.locator("table.throughput tr").nth(1).locator("td")
    assert hour.all_inner_texts() == ["2", "1", "0", "0"]  # webhooks, submitted, shipped, posted
    waiting = page.locator("h2:has-text('Waiting longest') ~ table").first
    assert waiting.locator("tr").nth(1).inner_text().split("\t")[2] == "7001"  # the oldest first
    text = page.content()
    assert API_KEY not in text and WAREHOUSE_KEY not in text
    screenshot(page, "dashboard")


def test_find_an_order_by_tracking_number_and_open_it(
    signed_in: Page, seed_order: SeedOrder, screenshot: Screenshot
) -> None:
    shipped = seed_order(
        OrderState.SHIPPED,
        orderdesk_order_id="7101",
        shipments=[
            {
                "package_id": "PKG-1",
                "remote_shipment_id": "S-1",
                "tracking_number": TRACKING,
                "carrier": "USPS",
                "posted_at": utcnow(),
            }
        ],
    )
    seed_order(OrderState.IN_PROCESS, orderdesk_order_id="7102")
    page = signed_in
    page.get_by_role("link", name="Orders").click()
    page.get_by_label("Order Desk id, order number or tracking number").fill(TRACKING)
    page.get_by_role("button", name="Filter").click()
    rows = page.locator("table tr")
    assert rows.count() == 2  # the header and the one order
    page.get_by_role("link", name="7101").click()
    page.wait_for_url(f"**/admin/orders/{shipped}")
    assert page.locator("h1").inner_text().startswith(f"Order {STORE_ID}:7101")
    assert TRACKING in page.locator("h2:has-text('Shipments') + table").inner_text()
    screenshot(page, "order")


def test_retry_a_failed_order_and_see_the_event(
    signed_in: Page, seed_order: SeedOrder, broker: str
) -> None:
    failed = seed_order(OrderState.FAILED, orderdesk_order_id="7201", last_error="HTTP 503")
    page = signed_in
    page.goto(f"/admin/orders/{failed}")
    page.get_by_role("button", name="Retry").click()
    page.wait_for_url(f"**/admin/orders/{failed}?notice=retried")
    assert "back in the pipeline" in page.locator("p.notice").inner_text()
    timeline = page.locator("h2:has-text('Timeline') + table")
    last = timeline.locator("tr").last.inner_text()
    assert f"retry requested by {ADMIN_USER}" in last
    assert "failed → received" in last
    assert page.get_by_role("button", name="Retry").count() == 0  # nothing left to retry
    assert order_row(failed).state == OrderState.RECEIVED
    assert queued_tasks(broker, queues.QUEUE_INTAKE) == [queues.SUBMIT_ORDER]


def test_pause_and_resume_a_store(signed_in: Page, seed_order: SeedOrder, broker: str) -> None:
    waiting = seed_order(OrderState.RECEIVED, orderdesk_order_id="7301")
    page = signed_in
    page.get_by_role("link", name="Stores").click()
    cell = page.locator(f"td[data-store-pause='{STORE_ID}']")
    assert cell.inner_text().startswith("running")

    cell.get_by_role("button", name="Pause").click()
    page.wait_for_url("**/admin/stores?notice=paused")
    assert "nothing goes to the warehouse" in page.locator("p.notice").inner_text()
    assert f"by {ADMIN_USER}" in cell.inner_text()
    assert _store_paused() == (True, ADMIN_USER)
    page.get_by_role("link", name="Dashboard").click()
    assert STORE_ID in page.locator("p.error").inner_text()  # the dashboard says it is paused

    page.get_by_role("link", name="Stores").click()
    cell.get_by_role("button", name="Resume").click()
    page.wait_for_url("**/admin/stores?notice=resumed")
    assert cell.inner_text().startswith("running")
    assert _store_paused() == (False, None)
    assert queued_tasks(broker, queues.QUEUE_INTAKE) == [queues.SUBMIT_ORDER]
    assert order_row(waiting).enqueued_at is not None
