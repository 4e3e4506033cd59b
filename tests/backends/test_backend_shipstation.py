"""The ShipStation v1 backend against the warehouse simulator (kind "shipstation") over HTTP."""

from __future__ import annotations

import time

import pytest

from bridge.backends.errors import InvalidState, ValidationError
from bridge.backends.models import NormalizedStatus, RemoteRef
from bridge.backends.shipstation import ShipStationBackend, ShipStationConfig
from bridge.remote.errors import AmbiguousOutcome, AuthError, RateLimited, TransientError
from bridge.remote.ratelimit import ServerGate

from .conftest import make_order

S = NormalizedStatus


@pytest.fixture
def sim(simulators):
    return simulators.warehouse("shipstation")


def connect(sim, **config) -> ShipStationBackend:
    settings = {"base_url": sim.url, "api_key": "sim-key", "api_secret": "sim-secret", **config}
    return ShipStationBackend(ShipStationConfig(**settings))


@pytest.fixture
def backend(sim):
    with connect(sim, timeout=5) as backend:
        yield backend


def drain(backend, cursor=None, limit=100):
    """Walk the feed until it has nothing more; returns (orders, cursor, pages)."""
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
        pkg.package_id: (order.ref.key, shipment.voided)
        for order in orders
        for shipment in order.shipments
        for pkg in shipment.packages
    }


def test_submit_creates_an_order_with_our_key(sim, backend):
    result = backend.submit(make_order("1001", gift_message="Hi"), "od-1-1001")
    stored = sim.order_by_key("od-1-1001")
    assert stored is not None
    assert result.ref == RemoteRef(remote_id=str(stored["orderId"]), key="od-1-1001")
    assert result.created
    assert stored["orderNumber"] == "1001"
    assert stored["orderStatus"] == "awaiting_shipment"
    assert stored["shipTo"]["country"] == "US"
    assert [item["lineItemKey"] for item in stored["items"]] == ["L1", "L2"]


def test_resubmit_with_the_same_key_updates_instead_of_duplicating(sim, backend):
    first = backend.submit(make_order("1002"), "od-1-1002")
    again = backend.submit(make_order("1002", notes="second try"), "od-1-1002")
    assert again.ref == first.ref
    assert not again.created
    assert len(sim.orders()) == 1
    assert sim.create_calls == 2


def test_resubmit_of_a_shipped_order_is_an_invalid_state(sim, backend):
    backend.submit(make_order("1003"), "od-1-1003")
    sim.ship("od-1-1003")
    with pytest.raises(InvalidState):
        backend.submit(make_order("1003"), "od-1-1003")


def test_refused_address_is_a_validation_error(sim, backend):
    sim.refuse_addresses_containing("INVALID")
    with pytest.raises(ValidationError) as caught:
        backend.submit(make_order("1004", address1="1 INVALID Road"), "od-1-1004")
    assert "1004" in caught.value.message
    assert sim.order_by_key("od-1-1004") is None


def test_bulk_submit_refuses_one_and_accepts_the_rest(sim, backend):
    sim.refuse_addresses_containing("INVALID")
    items = [
        (make_order("2001"), "od-1-2001"),
        (make_order("2002", address1="9 INVALID St"), "od-1-2002"),
        (make_order("2003"), "od-1-2003"),
    ]
    outcomes = backend.submit_many(items)
    assert [o.key for o in outcomes] == ["od-1-2001", "od-1-2002", "od-1-2003"]
    assert outcomes[0].ref is not None and outcomes[0].error is None
    assert outcomes[1].ref is None and isinstance(outcomes[1].error, ValidationError)
    assert outcomes[2].ref is not None
    assert outcomes[2].ref.remote_id == str(sim.order_by_key("od-1-2003")["orderId"])
    assert sim.order_by_key("od-1-2002") is None
    assert sim.calls(method="POST", path="/orders/createorders") == 1


def test_bulk_submit_is_chunked_by_one_hundred(sim, backend):
    items = [(make_order(f"3{n:03d}"), f"od-1-3{n:03d}") for n in range(101)]
    outcomes = backend.submit_many(items)
    assert all(o.error is None for o in outcomes)
    assert len(sim.orders()) == 101
    assert sim.calls(method="POST", path="/orders/createorders") == 2


def test_lookup_by_key_after_an_ambiguous_timeout(sim):
    sim.set_faults(timeout_after_store=1, hang_seconds=2.0)
    with connect(sim, timeout=0.5) as backend:
        with pytest.raises(AmbiguousOutcome):
            backend.submit(make_order("4001"), "od-1-4001")
        sim.clear_faults()
        found = backend.find_by_key("od-1-4001")
    assert found is not None and found.ref.key == "od-1-4001"
    assert found.status is S.ACCEPTED
    # A fresh process knows nothing of the submit: by order number, then by scanning.
    with connect(sim) as fresh:
        assert fresh.find_by_key("od-1-4001", order_number="4001").ref == found.ref
        assert fresh.find_by_key("od-1-4001").ref == found.ref
        assert fresh.find_by_key("od-1-9999") is None
    assert len(sim.orders()) == 1


def test_order_number_is_not_unique_but_the_key_is(sim, backend):
    backend.submit(make_order("5000"), "od-1-5000")
    backend.submit(make_order("5000"), "od-2-5000")
    assert backend.find_by_key("od-2-5000", order_number="5000").ref.key == "od-2-5000"
    assert backend.find_by_key("od-3-5000", order_number="5000") is None


def test_partial_then_full_and_multi_package_shipments(sim, backend):
    partial = backend.submit(make_order("6001"), "od-1-6001").ref
    multi = backend.submit(make_order("6002"), "od-1-6002").ref
    sim.ship("od-1-6001", packages=[{"lines": [{"sku": "MUG", "quantity": 1}]}])
    snapshot = backend.get(partial)
    assert snapshot.status is S.PARTIALLY_SHIPPED
    assert snapshot.raw_status == "awaiting_shipment"
    assert [line.quantity for line in snapshot.shipments[0].lines] == [1]

    ids = sim.ship(
        "od-1-6002",
        packages=[
            {"lines": [{"sku": "MUG", "quantity": 2}], "weight_oz": 20},
            {"lines": [{"sku": "TOTE", "quantity": 1}]},
        ],
    )
    snapshot = backend.get(multi)
    assert snapshot.status is S.SHIPPED
    assert len(snapshot.shipments) == 2 == len(ids)
    ids_seen = [s.packages[0].package_id for s in snapshot.shipments]
    assert len(set(ids_seen)) == 2 and all(i.startswith("ss-") for i in ids_seen)
    assert all(s.packages[0].tracking_number for s in snapshot.shipments)
    assert any(s.packages[0].weight_oz == 20 for s in snapshot.shipments)

    sim.ship(
        "od-1-6001",
        packages=[{"lines": [{"sku": "MUG", "quantity": 1}, {"sku": "TOTE", "quantity": 1}]}],
    )
    assert backend.get(partial).status is S.SHIPPED


def test_changes_across_pages_and_the_overlap_window(sim):
    with connect(sim, overlap_minutes=60) as backend:
        for n in range(3):
            backend.submit(make_order(f"700{n}"), f"od-1-700{n}")
        sim.ship("od-1-7000")
        sim.ship(
            "od-1-7001",
            packages=[
                {"lines": [{"sku": "MUG", "quantity": 2}]},
                {"lines": [{"sku": "TOTE", "quantity": 1}]},
            ],
        )
        sim.ship("od-1-7002", partial=True)
        orders, cursor, pages = drain(backend, limit=1)
        seen = packages(orders)
        assert len(seen) == 4
        assert pages >= 4  # one label per page, nothing skipped at the boundaries
        assert {key for key, _ in seen.values()} == {"od-1-7000", "od-1-7001", "od-1-7002"}
        assert all(order.status is S.SHIPPED for order in orders)

        sim.ship("od-1-7002")
        again, cursor, _ = drain(backend, cursor, limit=2)
        # The overlap re-reads what was already seen, and the new label is there too.
        assert set(seen) < set(packages(again))
        assert len(packages(again)) == 5


def test_without_overlap_the_next_scan_starts_where_the_last_ended(sim):
    with connect(sim, overlap_minutes=0) as backend:
        backend.submit(make_order("7101"), "od-1-7101")
        _, cursor, _ = drain(backend)
        sim.ship("od-1-7101")
        orders, cursor, _ = drain(backend, cursor)
        assert len(packages(orders)) == 1
        time.sleep(0.01)
        later, _, _ = drain(backend, cursor)
        assert packages(later) == {}


def test_void_is_surfaced_so_tracking_can_be_retracted(sim, backend):
    ref = backend.submit(make_order("8001"), "od-1-8001").ref
    (shipment_id,) = sim.ship("od-1-8001")
    orders, cursor, _ = drain(backend)
    (package_id,) = packages(orders)
    sim.void(shipment_id)
    orders, _, _ = drain(backend, cursor)
    assert packages(orders)[package_id] == ("od-1-8001", True)
    snapshot = backend.get(ref)
    assert snapshot.shipments[0].voided
    assert snapshot.status not in (S.SHIPPED, S.PARTIALLY_SHIPPED)


def test_orders_shipped_outside_shipstation_come_from_fulfillments(sim, backend):
    ref = backend.submit(make_order("8101"), "od-1-8101").ref
    sim.ship("od-1-8101", external=True)
    orders, _, _ = drain(backend)
    seen = packages(orders)
    assert len(seen) == 1
    (package_id,) = seen
    assert package_id.startswith("ssf-")
    assert seen[package_id] == ("od-1-8101", False)
    assert backend.get(ref).status is S.SHIPPED


def test_cancel_before_and_after_shipping(sim, backend):
    open_ref = backend.submit(make_order("9001"), "od-1-9001").ref
    shipped_ref = backend.submit(make_order("9002"), "od-1-9002").ref
    sim.ship("od-1-9002")
    result = backend.cancel(open_ref)
    assert result.state == "cancelled"
    assert sim.order_by_key("od-1-9001")["orderStatus"] == "cancelled"
    assert backend.cancel(open_ref).state == "cancelled"
    assert backend.cancel(shipped_ref).state == "too_late"
    assert backend.get(open_ref).status is S.CANCELLED


def test_rate_limit_is_honoured(simulators):
    sim = simulators.warehouse("shipstation", rate_limit_per_minute=5, rate_limit_window=2.0)
    # The account's budget, as the operator would configure it: 5 per 2 s = 150 a minute.
    with connect(sim, rate_limit_per_minute=150) as backend:
        started = time.monotonic()
        for _ in range(12):
            backend.healthcheck()
        elapsed = time.monotonic() - started
    assert elapsed >= 2.0
    assert sim.count_429 <= 1
    assert sim.calls(method="GET", path="/orders") >= 12


def test_wrong_credentials_are_an_auth_error_without_the_secret(sim):
    with connect(sim, api_secret="wrong-s3cr3t") as backend, pytest.raises(AuthError) as caught:
        backend.healthcheck()
    assert "s3cr3t" not in str(caught.value)
    assert "key and secret" in str(caught.value)


class RecordingGate(ServerGate):
    """The limiter protocol with a log, to show what the backend tells a shared limiter."""

    def __init__(self) -> None:
        super().__init__("recording")
        self.acquired = 0
        self.remaining: list[int] = []
        self.penalties: list[float] = []

    def acquire(self, timeout: float | None = None) -> None:
        self.acquired += 1
        super().acquire(timeout)

    def observe_remaining(self, remaining: int) -> None:
        self.remaining.append(remaining)

    def penalize(self, seconds: float) -> None:
        self.penalties.append(seconds)
        super().penalize(seconds)


def test_another_tool_on_the_same_key_trips_the_limit(simulators):
    sim = simulators.warehouse("shipstation", rate_limit_per_minute=2, rate_limit_window=2.0)
    gate = RecordingGate()
    config = {"base_url": sim.url, "api_key": "sim-key", "api_secret": "sim-secret"}
    other = connect(sim)
    backend = ShipStationBackend(ShipStationConfig(**config), limiter=gate)
    with other, backend:
        other.healthcheck()
        other.healthcheck()
        # A read meets the 429, waits out the window and succeeds.
        backend.healthcheck()
        assert sim.count_429 == 1
        assert gate.penalties and 0 < gate.penalties[0] <= 2.0
        assert gate.remaining[-1] == 1
        other.healthcheck()
        # A write is never retried: the caller learns how long to wait.
        with pytest.raises(RateLimited) as caught:
            backend.submit(make_order("9901"), "od-1-9901")
        assert 0 < caught.value.retry_after <= 2.0
    assert sim.count_429 == 2
    assert gate.acquired == 3
    assert sim.order_by_key("od-1-9901") is None


def test_unreachable_warehouse_is_transient_not_ambiguous():
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = ShipStationConfig(base_url=f"http://127.0.0.1:{port}", api_key="k", api_secret="s")
    with ShipStationBackend(config) as backend, pytest.raises(TransientError):
        backend.submit(make_order("9902"), "od-1-9902")
