"""The one-statement accept: same rows as the full path, and it steps aside whenever it must."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import psycopg
import pytest
from sqlalchemy import select, text

from bridge.db import session_scope, statement_engine_for
from bridge.intake.accept import accept_for_known_store
from bridge.intake.handler import handle
from bridge.intake.request import IntakeRequest
from bridge.intake.result import IntakeResult
from bridge.intake.storecache import store_cache
from bridge.jobs.followups import Message
from bridge.models import Order, WebhookReceipt
from bridge.settings import get_settings
from bridge.stores.registry import StoreRegistry
from tests.conftest import reset_caches
from tests.intake.conftest import (
    API_KEY,
    CANCEL_FOLDER_ID,
    STORE_ID,
    count,
    fixture_order,
    signed_headers,
)

# Columns that differ between two orders by nature: identity, and what the id is part of.
OWN_COLUMNS = {
    "id",
    "orderdesk_order_id",
    "idempotency_key",
    "payload",
    "payload_sha256",
    "created_at",
    "updated_at",
}


def _text(orderdesk_order_id: str, name: str = "typical", **changes: Any) -> str:
    order = fixture_order(name)
    order.update(changes, id=orderdesk_order_id)
    return json.dumps(order)


def _request(text_: str, headers: dict[str, str] | None = None) -> IntakeRequest:
    return IntakeRequest(
        body=urlencode({"order": text_}).encode(),
        order_field=text_,
        headers=signed_headers(text_) if headers is None else headers,
        remote_addr="203.0.113.9",
    )


def _fast(text_: str, headers: dict[str, str] | None = None) -> IntakeResult | None:
    return accept_for_known_store(_request(text_, headers))


def _full(text_: str, headers: dict[str, str] | None = None) -> IntakeResult:
    return handle(_request(text_, headers))


def _columns(model: type, **where: Any) -> dict[str, Any]:
    with session_scope() as session:
        row = session.scalars(select(model).filter_by(**where)).one()
        return {column.name: getattr(row, column.key) for column in model.__table__.columns}


def _update_store(**changes: Any) -> None:
    with session_scope() as session:
        StoreRegistry(session).update(STORE_ID, **changes)


def test_nothing_is_accepted_before_the_store_is_known(store: str) -> None:
    assert _fast(_text("900001")) is None
    assert count(Order) == 0


def test_fast_and_full_paths_write_the_same_order_and_receipt(store: str) -> None:
    full = _full(_text("900001"))  # reads the store, so this process now knows it
    fast = _fast(_text("900002"))

    assert full.outcome == "accepted"
    assert fast is not None
    assert (fast.status, fast.body, fast.outcome) == (
        200,
        full.body | {"order_id": "900002"},
        "accepted",
    )
    assert fast.follow_ups == [Message("bridge.submit_order", (fast.order_row_id,))]
    by_full = _columns(Order, orderdesk_order_id="900001")
    by_fast = _columns(Order, orderdesk_order_id="900002")
    assert by_fast["id"] == fast.order_row_id
    assert {k: v for k, v in by_fast.items() if k not in OWN_COLUMNS} == {
        k: v for k, v in by_full.items() if k not in OWN_COLUMNS
    }
    assert by_fast["payload"] == by_full["payload"] | {"id": "900002"}
    assert by_fast["idempotency_key"] == f"od-{STORE_ID}-900002"
    assert by_fast["created_at"] == by_fast["updated_at"]
    assert by_fast["pruned_at"] is None  # set by the retention job only
    receipt_full = _columns(WebhookReceipt, orderdesk_order_id="900001")
    receipt_fast = _columns(WebhookReceipt, orderdesk_order_id="900002")
    differing = {"id", "orderdesk_order_id", "received_at", "body_sha256", "body_bytes"}
    assert {k: v for k, v in receipt_fast.items() if k not in differing} == {
        k: v for k, v in receipt_full.items() if k not in differing
    }
    assert receipt_fast["received_at"] == by_fast["created_at"]


def test_a_repeat_goes_to_the_full_path_and_is_a_duplicate(store: str) -> None:
    _full(_text("900001"))
    assert _fast(_text("900002")) is not None

    assert _fast(_text("900002")) is None
    assert _full(_text("900002")).outcome == "duplicate"
    assert count(Order) == 2
    assert count(WebhookReceipt) == 3


@pytest.mark.parametrize(
    ("name", "changes"),
    [("typical", {"folder_id": CANCEL_FOLDER_ID}), ("no-ship-to", {})],
    ids=["cancel-folder", "unfulfillable"],
)
def test_cancellations_and_parked_orders_take_the_full_path(
    store: str, name: str, changes: dict[str, Any]
) -> None:
    _full(_text("900001"))
    assert _fast(_text("900002", name, **changes)) is None
    assert count(Order) == 1


def test_a_store_disabled_through_the_registry_is_refused_at_once(store: str) -> None:
    _full(_text("900001"))
    _update_store(active=False)

    assert _fast(_text("900002")) is None
    assert _full(_text("900002")).status == 403
    assert count(Order) == 1


def test_a_store_disabled_behind_the_registrys_back_is_refused_at_once(store: str) -> None:
    """Raw SQL leaves updated_at alone; the accepting statement reads ``active`` itself."""
    _full(_text("900001"))
    with session_scope() as session:
        session.execute(text("UPDATE stores SET active = false"))

    assert _fast(_text("900002")) is None
    assert _full(_text("900002")).status == 403


def test_a_rotated_api_key_is_honoured_at_once(store: str) -> None:
    _full(_text("900001"))
    _update_store(api_key="od-rotated-key-0f3a")
    order = _text("900002")
    headers = signed_headers(order, key="od-rotated-key-0f3a")

    assert _fast(order, headers) is None  # the remembered key no longer matches
    assert _full(order, headers).outcome == "accepted"
    assert _fast(_text("900003"), signed_headers(_text("900003"), key="od-rotated-key-0f3a"))


def test_any_edit_of_the_store_sends_the_next_order_through_the_full_path(store: str) -> None:
    _full(_text("900001"))
    _update_store(name="Acme Goods (renamed)")

    assert _fast(_text("900002")) is None
    assert _full(_text("900002")).outcome == "accepted"  # and the snapshot is fresh again
    assert _fast(_text("900003")) is not None


def test_a_zero_cache_time_reads_the_store_every_time(
    store: str, bridge_env: pytest.MonkeyPatch
) -> None:
    bridge_env.setenv("BRIDGE_STORE_CACHE_SECONDS", "0")
    reset_caches()
    assert _full(_text("900001")).outcome == "accepted"
    assert _fast(_text("900002")) is None


def test_the_snapshot_never_shows_the_api_key(store: str) -> None:
    _full(_text("900001"))
    snapshot = store_cache.get(get_settings().database_url, STORE_ID, 60)
    assert snapshot is not None
    assert snapshot.api_key not in repr(snapshot)


def test_a_connection_dropped_while_pooled_is_replaced_and_the_order_accepted(
    store: str, pg_url: str
) -> None:
    _full(_text("900001"))
    assert _fast(_text("900002")) is not None  # leaves a connection in the statement pool
    plain = pg_url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(plain, autocommit=True) as admin:
        killed = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()
    assert killed is not None and killed[0] >= 1
    assert statement_engine_for(get_settings().database_url).pool.checkedin() >= 1

    accepted = _fast(_text("900003"))

    assert accepted is not None
    assert count(Order, Order.orderdesk_order_id == "900003") == 1


def test_database_down_with_the_store_remembered_is_a_503_with_nothing_written(
    database: str, store: str, bridge_env: pytest.MonkeyPatch
) -> None:
    with session_scope() as session:
        known = StoreRegistry(session).get(STORE_ID)
        unreachable = "postgresql+psycopg://postgres@127.0.0.1:1/test"
        store_cache.remember(unreachable, known, API_KEY)
    bridge_env.setenv("BRIDGE_DATABASE_URL", unreachable)
    get_settings.cache_clear()

    result = _full(_text("900001"))

    assert (result.status, result.body) == (503, {"error": "database unavailable"})
    bridge_env.setenv("BRIDGE_DATABASE_URL", database)
    get_settings.cache_clear()
    assert count(Order) == 0
    assert count(WebhookReceipt) == 0
