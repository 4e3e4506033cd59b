"""The ShipBob backend against the warehouse simulator (kind "shipbob") over real HTTP."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from structlog.testing import capture_logs

from bridge.backends.errors import InvalidState, NotFound, ValidationError
from bridge.backends.models import NormalizedStatus, RemoteRef
from bridge.backends.registry import create_backend
from bridge.backends.shipbob import ShipBobBackend, ShipBobConfig
from bridge.remote.errors import AmbiguousOutcome, AuthError, RateLimited
from bridge.remote.ratelimit import ServerGate
from bridge.sim.warehouse.shipbob import CHANNEL_ID

from .conftest import make_order

S = NormalizedStatus
TOKEN = "sim-key"
V = "/2026-01"


@pytest.fixture
def sim(simulators):
    return simulators.warehouse("shipbob", api_key=TOKEN)


def connect(sim, **config) -> ShipBobBackend:
    return ShipBobBackend(ShipBobConfig(**{"base_url": sim.url, "token": TOKEN, **config}))


@pytest.fixture
def backend(sim):
    with connect(sim) as backend:
        yield backend


def drain(backend, cursor=None, limit=100):
    """Walk the feed to its end; returns (orders, cursor, pages)."""
    orders, pages = [], 0
    while True:
        page = backend.changes_since(cursor, limit=limit)
        orders.extend(page.orders)
        cursor, pages = page.next_cursor, pages + 1
        assert pages < 50, "the feed never ended"
        if not page.has_more:
            return orders, cursor, pages


def packages(orders):
    return {
        pkg.package_id: order.ref.key
        for order in orders
        for shipment in order.shipments
        for pkg in shipment.packages
    }


def test_registered_under_its_entry_point_with_the_contract_config(sim):
    with create_backend("shipbob", {"base_url": sim.url, "token": TOKEN}) as backend:
        assert isinstance(backend, ShipBobBackend)
        assert backend.config.api_version == "2026-01"
        assert backend.config.channel_id is None
    assert ShipBobConfig(token="t").base_url == "https://api.shipbob.com"
    assert ShipBobConfig.secret_fields() == ["token"]
    caps = ShipBobBackend.capabilities()
    assert caps.change_feed.value == "unacked" and caps.acknowledge and caps.inventory
    assert caps.idempotency.value == "rejects_duplicate"


def test_submit_sends_our_key_as_reference_id_in_the_looked_up_channel(sim, backend):
    result = backend.submit(make_order("1001", gift_message="Hi"), "od-1-1001")
    backend.submit(make_order("1002"), "od-1-1002")
    stored = sim.order_by_key("od-1-1001")
    assert result.created
    assert result.ref == RemoteRef(remote_id=str(stored["id"]), key="od-1-1001")
    assert stored["reference_id"] == "od-1-1001" and stored["order_number"] == "1001"
    assert stored["recipient"]["address"]["country"] == "US"
    assert [(p["reference_id"], p["external_line_id"]) for p in stored["products"]] == [
        ("MUG", "L1"),
        ("TOTE", "L2"),
    ]
    assert stored["gift_message"] == "Hi"
    # The channel is looked up once per instance, and not at all when configured.
    assert sim.calls("GET", f"{V}/channel") == 1
    with connect(sim, channel_id=CHANNEL_ID) as configured:
        configured.submit(make_order("1003"), "od-1-1003")
    assert sim.calls("GET", f"{V}/channel") == 1


def test_a_duplicate_422_is_looked_up_and_returned(sim, backend):
    first = backend.submit(make_order("1101"), "od-1-1101")
    again = backend.submit(make_order("1101", notes="second try"), "od-1-1101")
    assert again.ref == first.ref
    assert not again.created
    assert len(sim.orders()) == 1 and sim.create_calls == 1
    statuses = [r.status for r in sim.request_log if r.method == "POST" and r.path == f"{V}/order"]
    assert statuses == [201, 422]


def test_refused_address_is_a_validation_error(sim, backend):
    sim.refuse_addresses_containing("INVALID")
    with pytest.raises(ValidationError) as caught:
        backend.submit(make_order("1201", address1="1 INVALID Road"), "od-1-1201")
    assert "1201" in caught.value.message
    assert "recipient.address.address1" in caught.value.fields
    assert sim.order_by_key("od-1-1201") is None


def test_lookup_by_key_after_an_ambiguous_timeout(sim):
    class Impatient(ShipBobBackend):
        timeout_seconds = 0.5

    sim.set_faults(timeout_after_store=1, hang_seconds=2.0)
    with Impatient(ShipBobConfig(base_url=sim.url, token=TOKEN)) as backend:
        with pytest.raises(AmbiguousOutcome):
            backend.submit(make_order("1301"), "od-1-1301")
        sim.clear_faults()
        found = backend.find_by_key("od-1-1301")
        assert found is not None and found.ref.key == "od-1-1301"
        assert found.status is S.PROCESSING
        assert backend.find_by_key("od-1-9999") is None
    assert len(sim.orders()) == 1


def test_holds_partial_and_multi_package_shipments(sim, backend):
    partial = backend.submit(make_order("2001"), "od-1-2001").ref
    multi = backend.submit(make_order("2002"), "od-1-2002").ref
    held = backend.submit(make_order("2003"), "od-1-2003").ref
    sim.set_status("od-1-2003", "On Hold")
    assert backend.get(held).status is S.HELD
    sim.set_status("od-1-2003", "Exception")
    snapshot = backend.get(held)
    assert snapshot.status is S.EXCEPTION and snapshot.raw_status == "Exception"
    assert backend.get(multi).status is S.PROCESSING

    sim.ship("od-1-2001", packages=[{"lines": [{"sku": "MUG", "quantity": 1}]}])
    snapshot = backend.get(partial)
    assert snapshot.status is S.PARTIALLY_SHIPPED
    assert [(line.sku, line.quantity) for line in snapshot.shipments[0].lines] == [("MUG", 1)]

    ids = sim.ship(
        "od-1-2002",
        packages=[
            {"lines": [{"sku": "MUG", "quantity": 2}], "weight_oz": 20},
            {"lines": [{"sku": "TOTE", "quantity": 1}]},
        ],
    )
    snapshot = backend.get(multi)
    assert snapshot.status is S.SHIPPED
    assert sorted(s.remote_id for s in snapshot.shipments) == sorted(ids)
    assert [len(s.packages) for s in snapshot.shipments] == [1, 1]
    assert {p.package_id for s in snapshot.shipments for p in s.packages} == {
        f"sb-{i}" for i in ids
    }
    assert all(s.packages[0].tracking_number and s.carrier for s in snapshot.shipments)
    assert any(s.packages[0].weight_oz == 20 for s in snapshot.shipments)

    sim.ship("od-1-2001")
    assert backend.get(partial).status is S.SHIPPED


def test_feed_lists_unacknowledged_tracking_until_acknowledged(sim, backend):
    for n in range(3):
        backend.submit(make_order(f"300{n}"), f"od-1-300{n}")
    backend.submit(make_order("3009"), "od-1-3009")  # never ships: never in the feed
    sim.ship("od-1-3000")
    sim.ship(
        "od-1-3001",
        packages=[
            {"lines": [{"sku": "MUG", "quantity": 2}]},
            {"lines": [{"sku": "TOTE", "quantity": 1}]},
        ],
    )
    sim.ship("od-1-3002", partial=True)
    orders, cursor, pages = drain(backend, limit=1)
    seen = packages(orders)
    assert len(seen) == 4 and pages >= 3
    assert set(seen.values()) == {"od-1-3000", "od-1-3001", "od-1-3002"}

    # Acknowledge one order whole and one of the two shipments of another.
    by_key = {order.ref.key: order for order in orders}
    backend.acknowledge(by_key["od-1-3000"].shipments + by_key["od-1-3001"].shipments[:1])
    assert sim.calls("POST", f"{V}/shipment:batchUpdateTrackingUpload") == 1
    orders, cursor, _ = drain(backend, cursor, limit=2)
    assert {order.ref.key for order in orders} == {"od-1-3001", "od-1-3002"}
    # The feed leaves out the shipment already acknowledged but keeps the order's status.
    [again] = [order for order in orders if order.ref.key == "od-1-3001"]
    assert [s.remote_id for s in again.shipments] == [by_key["od-1-3001"].shipments[1].remote_id]
    assert again.status is S.SHIPPED
    uploaded = {
        s["id"]: s["is_tracking_uploaded"]
        for s in sim.order_by_key("od-1-3001")["shipments"]
        if s["tracking"]
    }
    assert sorted(uploaded.values()) == [False, True]

    backend.acknowledge([s for order in orders for s in order.shipments])
    assert drain(backend, cursor)[0] == []
    # A later package of an acknowledged order brings the order back.
    sim.ship("od-1-3002")
    orders, _, _ = drain(backend)
    assert [order.ref.key for order in orders] == ["od-1-3002"]
    assert orders[0].status is S.SHIPPED


def test_cancel_outcomes(sim, backend):
    open_ref = backend.submit(make_order("4001"), "od-1-4001").ref
    shipped_ref = backend.submit(make_order("4002"), "od-1-4002").ref
    partial_ref = backend.submit(make_order("4003"), "od-1-4003").ref
    sim.ship("od-1-4002")
    sim.ship("od-1-4003", packages=[{"lines": [{"sku": "MUG", "quantity": 1}]}])

    assert backend.cancel(open_ref).state == "cancelled"
    assert sim.order_by_key("od-1-4001")["status"] == "Cancelled"
    assert backend.get(open_ref).status is S.CANCELLED
    assert backend.cancel(open_ref).state == "cancelled"  # again: still cancelled

    late = backend.cancel(shipped_ref)
    assert late.state == "too_late" and "Completed" in late.detail
    assert sim.order_by_key("od-1-4002")["status"] == "Fulfilled"

    split = backend.cancel(partial_ref)
    assert split.state == "too_late"
    assert "1 shipment(s) cancelled, 1 not" in split.detail
    assert sim.order_by_key("od-1-4003")["status"] == "Cancelled"

    with pytest.raises(NotFound):
        backend.cancel(RemoteRef(remote_id="999999", key="od-1-nope"))


def test_inventory_levels_across_pages(sim, backend):
    for n in range(260):
        sim.set_inventory(f"SKU-{n:03d}", n)
    levels = backend.inventory()
    assert len(levels) == 260
    assert {level.sku: level.available for level in levels}["SKU-042"] == 42
    assert sim.calls("GET", f"{V}/inventory-level") == 2


def test_find_many_asks_about_fifty_keys_in_one_call(sim, backend):
    keys = [f"od-1-{7000 + n}" for n in range(50)]
    for n, key in enumerate(keys):
        backend.submit(make_order(str(7000 + n)), key)
    ids = sim.ship(
        keys[7],
        packages=[
            {"lines": [{"sku": "MUG", "quantity": 2}]},
            {"lines": [{"sku": "TOTE", "quantity": 1}]},
        ],
    )
    before = sim.calls()

    with connect(sim, channel_id=CHANNEL_ID) as fresh:
        found = fresh.find_many([*keys, "od-1-unknown", keys[0]])

    assert sim.calls() - before == 1
    assert sim.calls("GET", f"{V}/order") == 1
    assert set(found) == set(keys)
    assert all(order.ref.key == key for key, order in found.items())
    assert found[keys[3]].order_number == "7003" and found[keys[3]].status is S.PROCESSING
    shipped = found[keys[7]]
    assert shipped.status is S.SHIPPED
    assert sorted(s.remote_id for s in shipped.shipments) == sorted(ids)


def test_find_many_asks_by_groups_and_stops_once_all_are_found(sim, backend, monkeypatch):
    monkeypatch.setattr(ShipBobBackend, "page_size", 10)
    keys = [f"od-1-{7100 + n}" for n in range(25)]
    for n, key in enumerate(keys):
        backend.submit(make_order(str(7100 + n)), key)
    before = sim.calls()

    found = backend.find_many(keys)

    assert set(found) == set(keys)
    assert sim.calls() - before == 3  # 10 + 10 + 5 keys, each group one page
    assert backend.find_many([]) == {} and sim.calls() - before == 3


def test_list_orders_reads_a_creation_window_by_pages(sim, backend, monkeypatch):
    monkeypatch.setattr(ShipBobBackend, "page_size", 10)
    early = [backend.submit(make_order(f"80{n:02d}"), f"od-1-80{n:02d}") for n in range(3)]
    time.sleep(1.1)  # ShipBob's date filters count whole seconds
    middle = datetime.now(UTC)
    time.sleep(1.1)
    late = [backend.submit(make_order(f"81{n:02d}"), f"od-1-81{n:02d}") for n in range(22)]
    sim.ship("od-1-8105")
    before = sim.calls()

    listed = list(backend.list_orders(middle, datetime.now(UTC)))

    assert [o.ref for o in listed] == [r.ref for r in late]  # oldest first, none twice
    assert sim.calls() - before == 3  # pages of 10, 10 and 2
    assert listed[5].status is S.SHIPPED and listed[5].shipments[0].packages[0].tracking_number
    assert listed[0].order_number == "8100"
    window = list(backend.list_orders(middle - timedelta(hours=1), middle))
    assert [o.ref for o in window] == [r.ref for r in early]
    assert list(backend.list_orders(middle - timedelta(days=2), middle - timedelta(days=1))) == []


class RecordingGate(ServerGate):
    """The limiter protocol with a log, to show what the backend tells a shared limiter."""

    def __init__(self) -> None:
        super().__init__("recording")
        self.remaining: list[int] = []
        self.penalties: list[float] = []

    def observe_remaining(self, remaining: int) -> None:
        self.remaining.append(remaining)

    def penalize(self, seconds: float) -> None:
        self.penalties.append(seconds)
        super().penalize(seconds)


def test_429_waits_for_x_retry_after_and_writes_are_not_resent(simulators):
    sim = simulators.warehouse(
        "shipbob", api_key=TOKEN, rate_limit_per_minute=3, rate_limit_window=2.0
    )
    gate = RecordingGate()
    config = ShipBobConfig(base_url=sim.url, token=TOKEN, channel_id=CHANNEL_ID)
    other = connect(sim)
    with other, ShipBobBackend(config, limiter=gate) as backend:
        for _ in range(3):
            other.healthcheck()
        # A read meets the 429, waits what x-retry-after says and succeeds.
        backend.healthcheck()
        assert sim.count_429 == 1
        assert gate.penalties and 0 < gate.penalties[0] <= 2.0
        assert gate.remaining[-1] == 2  # x-remaining-calls of the answer that got through
        other.healthcheck()
        other.healthcheck()
        # A write is never resent: the caller learns how long to wait.
        with pytest.raises(RateLimited) as caught:
            backend.submit(make_order("5001"), "od-1-5001")
        assert 0 < caught.value.retry_after <= 2.0
    assert sim.count_429 == 2
    assert sim.order_by_key("od-1-5001") is None
    limited = [r for r in sim.request_log if r.status == 429]
    assert [r.path for r in limited] == [f"{V}/channel", f"{V}/order"]


def test_the_token_never_shows_in_errors_or_logs(sim):
    secret = "sb-t0ken-must-not-leak"
    with capture_logs() as logs:
        with connect(sim, token=secret) as backend:
            with pytest.raises(AuthError) as health:
                backend.healthcheck()
            with pytest.raises(AuthError) as submit:
                backend.submit(make_order("6001"), "od-1-6001")
        config = ShipBobConfig(base_url=sim.url, token=secret)
    assert "token" in str(health.value)
    for text in (str(health.value), str(submit.value), repr(config), str(config), repr(logs)):
        assert secret not in text


def test_healthcheck_names_a_channel_the_token_does_not_have(sim):
    with connect(sim) as backend:
        backend.healthcheck()
    with connect(sim, channel_id=7) as backend, pytest.raises(InvalidState) as caught:
        backend.healthcheck()
    assert "channel_id" in str(caught.value)
    with connect(sim, channel_id=7) as backend, pytest.raises(AuthError):
        backend.submit(make_order("6101"), "od-1-6101")
