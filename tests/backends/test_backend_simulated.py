"""The simulated backend against the warehouse simulator (kind "simulated") over HTTP."""

from __future__ import annotations

import pytest

from bridge.backends.errors import DuplicateOrder, ValidationError
from bridge.backends.models import NormalizedStatus, StockLevel
from bridge.backends.registry import create_backend
from bridge.remote.errors import AmbiguousOutcome, AuthError, TransientError

from .conftest import make_order

S = NormalizedStatus


@pytest.fixture
def sim(simulators):
    return simulators.warehouse("simulated")


@pytest.fixture
def backend(sim):
    with create_backend("simulated", {"base_url": sim.url, "timeout": 5}) as backend:
        yield backend


def test_submit_and_get(sim, backend):
    result = backend.submit(make_order("1001", gift_message="Hi"), "od-1-1001")
    stored = sim.order_by_key("od-1-1001")
    assert result.created and result.ref.remote_id == stored["id"]
    assert stored["order_number"] == "1001"
    assert stored["gift_message"] == "Hi"
    snapshot = backend.get(result.ref)
    assert snapshot.ref == result.ref
    assert snapshot.status is S.ACCEPTED


def test_duplicate_key_is_rejected_with_the_existing_order(sim, backend):
    first = backend.submit(make_order("1002"), "od-1-1002")
    with pytest.raises(DuplicateOrder) as caught:
        backend.submit(make_order("1002"), "od-1-1002")
    assert caught.value.existing is not None
    assert caught.value.existing.ref == first.ref
    assert len(sim.orders()) == 1


def test_refused_address_names_the_field(sim, backend):
    sim.refuse_addresses_containing("INVALID")
    with pytest.raises(ValidationError) as caught:
        backend.submit(make_order("1003", address1="INVALID lane"), "od-1-1003")
    assert "ship_to.address1" in caught.value.fields


def test_default_bulk_submit_keeps_going_past_a_refusal(sim, backend):
    sim.refuse_addresses_containing("INVALID")
    outcomes = backend.submit_many(
        [
            (make_order("1"), "od-1-1"),
            (make_order("2", address1="INVALID"), "od-1-2"),
            (make_order("3"), "od-1-3"),
        ]
    )
    assert [o.error is None for o in outcomes] == [True, False, True]
    assert len(sim.orders()) == 2


def test_ambiguous_create_then_lookup_by_key(sim):
    sim.set_faults(timeout_after_store=1, hang_seconds=2.0)
    with create_backend("simulated", {"base_url": sim.url, "timeout": 0.5}) as backend:
        with pytest.raises(AmbiguousOutcome):
            backend.submit(make_order("1004"), "od-1-1004")
        sim.clear_faults()
        found = backend.find_by_key("od-1-1004")
        assert found is not None and found.ref.key == "od-1-1004"
        assert backend.find_by_key("od-1-nope") is None
        with pytest.raises(DuplicateOrder):
            backend.submit(make_order("1004"), "od-1-1004")


def test_server_error_after_a_create_is_ambiguous_and_reads_retry(sim, backend):
    sim.set_faults(error_rate=1.0, error_status=503, paths=["/v1/orders", "/v1/inventory"])
    with pytest.raises(AmbiguousOutcome):
        backend.submit(make_order("1005"), "od-1-1005")
    with pytest.raises(TransientError):
        backend.inventory()
    assert sim.calls(method="GET", path="/v1/inventory") == 4
    assert sim.calls(method="POST", path="/v1/orders") == 1


def test_events_are_paged_with_a_sequence_cursor(sim, backend):
    refs = [backend.submit(make_order(f"20{n}"), f"od-1-20{n}").ref for n in range(3)]
    sim.ship("od-1-200", partial=True)
    cursor, pages, latest = None, 0, {}
    while True:
        page = backend.changes_since(cursor, limit=2)
        pages += 1
        for order in page.orders:
            latest[order.ref.key] = order
        assert cursor is None or int(page.next_cursor) >= int(cursor)
        cursor = page.next_cursor
        if not page.has_more:
            break
    assert pages >= 2
    assert set(latest) == {"od-1-200", "od-1-201", "od-1-202"}
    assert latest["od-1-200"].status is S.PARTIALLY_SHIPPED
    assert latest["od-1-200"].shipments[0].packages[0].package_id.startswith("pk_")
    assert latest["od-1-201"].ref == refs[1]
    empty = backend.changes_since(cursor)
    assert empty.orders == [] and not empty.has_more and empty.next_cursor == cursor
    sim.ship("od-1-200")
    page = backend.changes_since(cursor)
    assert [o.ref.key for o in page.orders] == ["od-1-200"]
    assert page.orders[0].status is S.SHIPPED


def test_cancel_before_and_too_late_after_shipping(sim, backend):
    open_ref = backend.submit(make_order("3001"), "od-1-3001").ref
    shipped_ref = backend.submit(make_order("3002"), "od-1-3002").ref
    sim.ship("od-1-3002", partial=True)
    assert backend.cancel(open_ref).state == "cancelled"
    assert backend.get(open_ref).status is S.CANCELLED
    assert backend.cancel(shipped_ref).state == "too_late"


def test_inventory(sim, backend):
    sim.set_inventory("MUG", 7)
    sim.set_inventory("TOTE", 0)
    levels = {level.sku: level for level in backend.inventory()}
    assert levels["MUG"] == StockLevel(sku="MUG", available=7)
    assert levels["TOTE"].available == 0


def test_healthcheck_checks_the_key(sim, backend):
    backend.healthcheck()
    bad = create_backend("simulated", {"base_url": sim.url, "api_key": "wr0ng"})
    with bad, pytest.raises(AuthError) as caught:
        bad.healthcheck()
    assert "wr0ng" not in str(caught.value)
