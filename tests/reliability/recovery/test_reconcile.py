"""Reconciliation passes run in-process against the Order Desk simulator over HTTP, real
PostgreSQL and real Redis (rate bucket and broker): what they cost, what they decide, and that
two at once or a set that shifts while paging lose nothing and double nothing."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
import redis
from click.testing import CliRunner
from sqlalchemy import select, update

from bridge.cli import main
from bridge.db import session_scope
from bridge.intake import trusted
from bridge.intake.handler import handle
from bridge.intake.request import IntakeRequest
from bridge.intake.result import ACCEPTED, IntakeResult
from bridge.jobs import queues
from bridge.models import ReconcileCursor, Store
from bridge.orderdesk.client import OrderDeskClient
from bridge.orderdesk.webhook import HASH_HEADER, STORE_HEADER, sign_order
from bridge.pipeline.reconcile import od_time_filter, reconcile_store, schedule_reconciles
from bridge.states import OrderState
from bridge.stores.registry import StoreRegistry
from tests.conftest import reset_caches
from tests.e2e.conftest import API_KEY, STORE_ID
from tests.e2e.test_flow import FIXTURES
from tests.reliability.recovery.support import (
    order_rows,
    orders_without_webhook,
    queued,
    recovered_events,
    store_row_id,
)

NEW, CANCELED = 21654, 21658


def od_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def signed_webhook(orderdesk, order_id: str) -> IntakeResult:
    """Order Desk's post of one order, through the intake's full webhook path."""
    text = json.dumps(orderdesk.order(STORE_ID, order_id))
    headers = {STORE_HEADER: STORE_ID, HASH_HEADER: sign_order(text, API_KEY)}
    return handle(IntakeRequest(body=b"x", order_field=text, headers=headers))


def test_hole_lost_webhooks_cost_one_list_call_per_page_of_100_never_one_per_order(
    bridge, orderdesk, broker_url: str
) -> None:
    count = 250  # three pages of 100; the count is the point, so it is not scaled
    ids = orders_without_webhook(orderdesk, count)
    store = store_row_id()
    orderdesk.reset_log()

    first = reconcile_store(store)

    assert (first.pages, first.listed, first.recovered, first.known) == (3, count, count, 0)
    assert orderdesk.calls("GET", "/orders") == 3
    # The folder ids and time zone are learnt once, with one GET /store, then kept.
    assert orderdesk.calls("GET", "/store") == 1
    assert orderdesk.calls() == 4
    assert set(order_rows()) == set(ids)
    assert recovered_events() == dict.fromkeys(ids, 1)
    submits = queued(broker_url, queues.QUEUE_INTAKE)
    assert sorted(args[0] for _, args in submits) == sorted(r.id for r in order_rows().values())
    # Every call went through the store's shared bucket in Redis.
    assert redis.Redis.from_url(broker_url).exists(f"ratelimit:orderdesk:{STORE_ID}")

    orderdesk.reset_log()
    second = reconcile_store(store)

    assert (second.pages, second.known, second.recovered) == (3, count, 0)
    assert orderdesk.calls() == orderdesk.calls("GET", "/orders") == 3
    assert recovered_events() == dict.fromkeys(ids, 1)


def test_hole_recovered_orders_take_the_webhooks_decisions(
    bridge, orderdesk, broker_url: str
) -> None:
    """Accepted, parked, cancelled before arrival, or already known: as if the webhook came."""
    with session_scope() as session:
        StoreRegistry(session).update(STORE_ID, intake_folder="New, Canceled")
    [fine] = orders_without_webhook(orderdesk, 1)
    no_ship_to = json.loads((FIXTURES / "order-no-ship-to.json").read_text())
    no_ship_to.pop("id")
    unshippable = orderdesk.create_order(STORE_ID, no_ship_to, folder_name="New", fire_rule=False)
    [cancelled] = orders_without_webhook(orderdesk, 1, folder_name="Canceled")
    [webhooked] = orders_without_webhook(orderdesk, 1)
    assert signed_webhook(orderdesk, webhooked).outcome == ACCEPTED

    report = reconcile_store(store_row_id())

    rows = order_rows()
    assert rows[fine].state == OrderState.RECEIVED.value
    assert rows[unshippable["id"]].state == OrderState.REJECTED.value
    assert rows[cancelled].state == OrderState.CANCELLED.value
    assert rows[webhooked].state == OrderState.RECEIVED.value
    assert (report.recovered, report.known) == (3, 1)
    assert recovered_events() == {fine: 1, unshippable["id"]: 1, cancelled: 1}
    park = (queues.PARK_IN_ORDERDESK, [rows[unshippable["id"]].id])
    assert park in queued(broker_url, queues.QUEUE_ORDERDESK)
    # Only the recovered order that can ship is submitted (the webhook's caller publishes its own).
    assert queued(broker_url, queues.QUEUE_INTAKE) == [(queues.SUBMIT_ORDER, [rows[fine].id])]


def test_hole_a_webhook_landing_between_the_pages_query_and_the_insert_is_not_doubled(
    bridge, orderdesk, broker_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    [order_id] = orders_without_webhook(orderdesk, 1)
    take = trusted.take_trusted

    def webhook_arrives_first(*args, **kwargs):
        assert signed_webhook(orderdesk, order_id).outcome == ACCEPTED
        return take(*args, **kwargs)

    monkeypatch.setattr(trusted, "take_trusted", webhook_arrives_first)
    report = reconcile_store(store_row_id())

    assert (report.listed, report.known, report.recovered) == (1, 0, 0)
    assert list(order_rows()) == [order_id]
    assert recovered_events() == {}
    assert queued(broker_url, queues.QUEUE_INTAKE) == []  # the webhook's caller publishes


def test_hole_two_passes_at_once_list_and_recover_the_store_once(
    bridge, orderdesk, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = orders_without_webhook(orderdesk, 5)
    store = store_row_id()
    inside, resume = threading.Event(), threading.Event()
    take = trusted.take_trusted

    def held_inside_the_first_pass(*args, **kwargs):
        if threading.current_thread() is not threading.main_thread():
            inside.set()
            assert resume.wait(30)
        return take(*args, **kwargs)

    monkeypatch.setattr(trusted, "take_trusted", held_inside_the_first_pass)
    reports = []
    first = threading.Thread(target=lambda: reports.append(reconcile_store(store)))
    first.start()
    try:
        assert inside.wait(30), "the first pass never reached its first order"
        second = reconcile_store(store)  # while the first is between list and insert
    finally:
        resume.set()
        first.join(60)

    assert second.ran is False and second.pages == 0
    assert reports[0].recovered == 5
    assert orderdesk.calls("GET", "/orders") == 1
    assert recovered_events() == dict.fromkeys(ids, 1)


def test_hole_an_order_stepped_over_while_paging_is_found_by_the_next_pass(
    bridge, orderdesk, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pipeline moves an order out of the folder between two pages: offsets shift by one
    and the order at the page boundary is skipped; the cursor must not move past it."""
    ids = orders_without_webhook(orderdesk, 150)
    store = store_row_id()
    take = trusted.take_trusted
    moved = []

    def move_one_out_during_page_one(*args, **kwargs):
        if not moved:
            client = OrderDeskClient(STORE_ID, API_KEY, base_url=orderdesk.url)
            with client:
                client.move_orders([ids[0]], folder_name="In Process")
            moved.append(ids[0])
        return take(*args, **kwargs)

    monkeypatch.setattr(trusted, "take_trusted", move_one_out_during_page_one)
    first = reconcile_store(store)

    assert first.complete is False and first.recovered == 149  # one was stepped over
    with session_scope() as session:
        assert session.get_one(ReconcileCursor, store).checked_through is None
    monkeypatch.setattr(trusted, "take_trusted", take)
    second = reconcile_store(store)

    assert second.complete is True and second.recovered == 1
    assert set(recovered_events()) == set(ids) and max(recovered_events().values()) == 1


def test_the_cursor_bounds_the_next_pass_and_keeps_an_overlap(bridge, orderdesk) -> None:
    old = datetime.now(UTC) - timedelta(hours=30)
    with session_scope() as session:  # the store was registered before these orders came
        session.execute(update(Store).values(created_at=old - timedelta(hours=1)))
    ids = orders_without_webhook(orderdesk, 3, date_added=od_text(old))
    store = store_row_id()
    before = datetime.now(UTC)

    first = reconcile_store(store)
    after = datetime.now(UTC)

    assert first.recovered == 3 and first.complete
    with session_scope() as session:
        cursor = session.get_one(ReconcileCursor, store)
    assert cursor.orderdesk_timezone == "America/Los_Angeles"
    overlap = timedelta(seconds=300)  # BRIDGE_RECONCILE_OVERLAP_SECONDS' default
    assert before - overlap <= cursor.checked_through <= after - overlap
    orderdesk.reset_log()
    [fresh] = orders_without_webhook(orderdesk, 1)

    second = reconcile_store(store)

    # Orders last changed 30 hours ago are behind the cursor: not listed again.
    assert (second.listed, second.recovered) == (1, 1)
    assert set(recovered_events()) == {*ids, fresh}


def test_a_backlog_from_before_the_store_was_registered_is_left_alone(bridge, orderdesk) -> None:
    """Onboarding a merchant must not ship the orders that sat in New before the bridge came,
    even one moved into the intake folder since (its date_updated is new, its date_added not)."""
    before_the_bridge = od_text(datetime.now(UTC) - timedelta(days=2))
    [backlog] = orders_without_webhook(
        orderdesk, 1, folder_name="Prepared", date_added=before_the_bridge
    )
    with OrderDeskClient(STORE_ID, API_KEY, base_url=orderdesk.url) as client:
        client.move_orders([backlog], folder_name="New")
    [fresh] = orders_without_webhook(orderdesk, 1)

    report = reconcile_store(store_row_id())

    assert (report.listed, report.recovered) == (1, 1)
    assert recovered_events() == {fresh: 1}
    assert orderdesk.folder_name_of(STORE_ID, backlog) == "New"


def test_date_filters_are_early_enough_in_utc_or_store_time() -> None:
    moment = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    assert od_time_filter(moment, "America/Los_Angeles") == "2026-12-01 02:00:00"
    assert od_time_filter(moment, "Asia/Tokyo") == "2026-12-01 10:00:00"
    assert od_time_filter(moment, "") == "2026-12-01 10:00:00"
    assert od_time_filter(moment, "Not/A_Zone") == "2026-12-01 10:00:00"


def test_one_pass_per_active_store_per_interval_whatever_the_beats(
    bridge, orderdesk, broker_url: str
) -> None:
    with session_scope() as session:
        registry = StoreRegistry(session)
        for orderdesk_store_id in ("800801", "800802"):
            registry.add(
                orderdesk_store_id=orderdesk_store_id,
                name="another",
                api_key="k",
                backend="simulated",
                backend_config={},
            )
        registry.disable("800802")
    active = sorted([store_row_id(), store_row_id("800801")])

    assert sorted(schedule_reconciles()) == active
    assert schedule_reconciles() == []  # a second beat within the interval

    messages = queued(broker_url, queues.QUEUE_POLL)
    assert sorted(args[0] for _, args in messages) == active
    assert {task for task, _ in messages} == {queues.RECONCILE_STORE}


def test_a_disabled_store_is_not_listed(bridge, orderdesk) -> None:
    orders_without_webhook(orderdesk, 2)
    with session_scope() as session:
        session.execute(update(Store).values(active=False))
    orderdesk.reset_log()

    assert reconcile_store(store_row_id()).ran is False
    assert orderdesk.calls() == 0 and order_rows() == {}


def test_stores_check_reports_the_intake_folder(bridge, orderdesk, bridge_env) -> None:
    reset_caches()
    ready = CliRunner().invoke(main, ["stores", "check", STORE_ID])
    assert ready.exit_code == 0, ready.output
    assert f"intake={NEW}" in ready.output
    with session_scope() as session:
        store = session.scalars(select(Store)).one()
        assert store.orderdesk_folders["New"] == str(NEW)

    changed = CliRunner().invoke(main, ["stores", "update", STORE_ID, "--intake-folder", "Inbox"])
    assert changed.exit_code == 0, changed.output
    missing = CliRunner().invoke(main, ["stores", "check", STORE_ID])
    assert missing.exit_code != 0
    assert 'no folder named "Inbox" (used as the intake folder)' in missing.output
