"""``BackendConformance``: the checks every warehouse backend must pass, as a pytest base class.

Each check drives the backend against a real warehouse (its simulator) through the author's
``WarehouseDriver`` and judges the backend by what it returns, what it raises, and what the
warehouse ends up holding. The expectations follow the backend's own ``Capabilities``: an
``upsert`` backend must return the same order on a resubmit, a ``rejects_duplicate`` one must
refuse it naming the order, and so on; a capability the backend says it lacks is checked to be
absent (``inventory()`` raises ``NotSupported``) rather than skipped.
"""

from __future__ import annotations

import contextlib
import json
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest

from bridge.backends.base import (
    BackendConfig,
    CancelSupport,
    Capabilities,
    ChangeFeed,
    Idempotency,
    WarehouseBackend,
)
from bridge.backends.errors import BackendError, DuplicateOrder, NotSupported
from bridge.backends.models import (
    FulfillmentOrder,
    Line,
    NormalizedStatus,
    RemoteOrder,
    RemoteRef,
    ShipTo,
    StockLevel,
)
from bridge.backends.registry import available_backends
from bridge.backends.testing.driver import Parcel, WarehouseDriver
from bridge.backends.testing.feed import FeedLog, drain, shipped_units, snapshot_packages
from bridge.remote.errors import AmbiguousOutcome, AuthError, RateLimited, RemoteError

S = NormalizedStatus
T = TypeVar("T")
SHIPPED_STATES = {S.SHIPPED, S.PARTIALLY_SHIPPED, S.DELIVERED}
THROTTLE_SECONDS = 2.0
# Longest wait a RateLimited may announce before the kit calls it a hang.
MAX_RETRY_AFTER = 120.0


def token() -> str:
    return uuid.uuid4().hex[:10]


def needs(action: Callable[[], T], what: str) -> T:
    """Run a driver action; skip the check, naming it, when the driver cannot do it."""
    try:
        return action()
    except NotImplementedError:
        pytest.skip(f"the warehouse driver does not implement {what}")


class BackendConformance:
    """Subclass it in a test module (the subclass name must start with ``Test``) and provide:

    * a ``driver`` fixture yielding a ``WarehouseDriver`` for a fresh warehouse;
    * ``make_backend(self, driver, **config)``: a new backend instance talking to that
      warehouse, with ``config`` overriding fields of its config (the kit passes wrong secrets
      this way); its read timeout must be shorter than ``driver.lose_next_reply``'s wait.

    Optional: override ``make_order`` (the default is two lines, 2 x MUG and 1 x TOTE; keep at
    least two lines and three units), set ``registered = False`` for a backend not installed
    through the ``orderdesk_bridge.backends`` entry point, and ``checks_credentials = False``
    when the warehouse under test does not use the config's secrets (a local directory), so
    a healthcheck with wrong ones may pass.
    """

    registered = True
    checks_credentials = True

    # --- what the author provides -------------------------------------------------------------

    @pytest.fixture
    def driver(self) -> WarehouseDriver:
        raise NotImplementedError("define a `driver` fixture yielding your WarehouseDriver")

    def make_backend(self, driver: Any, **config: Any) -> WarehouseBackend:
        raise NotImplementedError("define make_backend(self, driver, **config)")

    def make_order(self, number: str) -> FulfillmentOrder:
        return FulfillmentOrder(
            order_number=number,
            ship_to=ShipTo(
                name="Dana Reyes",
                address1="1450 Harbor Blvd",
                city="Costa Mesa",
                region="CA",
                postal_code="92626",
                country="US",
                email="dana@example.com",
            ),
            lines=[
                Line(line_key="L1", sku="MUG", name="Trail Mug", quantity=2, unit_price=24.0),
                Line(line_key="L2", sku="TOTE", name="Canvas Tote", quantity=1, unit_price=16.0),
            ],
            shipping_method="UPS Ground",
        )

    # --- the kit's own fixtures and helpers ---------------------------------------------------

    @pytest.fixture
    def backend(self, driver: WarehouseDriver) -> Iterator[WarehouseBackend]:
        with self.make_backend(driver) as backend:
            yield backend

    @pytest.fixture
    def caps(self, backend: WarehouseBackend) -> Capabilities:
        return backend.capabilities()

    def submit_new(self, backend: WarehouseBackend) -> tuple[FulfillmentOrder, RemoteRef]:
        """Submit a fresh order under a fresh key; returns the order and its reference."""
        mark = token()
        order = self.make_order(f"K{mark}")
        return order, backend.submit(order, f"od-kit-t{mark}").ref

    @staticmethod
    def units(order: FulfillmentOrder) -> list[tuple[str, int]]:
        return [(line.line_key, line.quantity) for line in order.lines]

    @staticmethod
    def whole(order: FulfillmentOrder) -> list[Parcel]:
        return [Parcel(f"KIT{token().upper()}", tuple(BackendConformance.units(order)))]

    @staticmethod
    def assert_resubmit_names(
        backend: WarehouseBackend, order: FulfillmentOrder, ref: RemoteRef
    ) -> None:
        """A resubmit under the same key answers the existing order: as a result that was not
        created (upsert, or a duplicate looked up) or as ``DuplicateOrder`` naming it."""
        try:
            again = backend.submit(order, ref.key)
        except DuplicateOrder as exc:
            if exc.existing is not None:
                assert exc.existing.ref.remote_id == ref.remote_id, (
                    "DuplicateOrder names another warehouse order"
                )
            return
        assert again.ref.remote_id == ref.remote_id and not again.created, (
            f"a resubmit under {ref.key} was answered as a new order {again.ref.remote_id}"
        )

    @staticmethod
    def assert_one_order(driver: WarehouseDriver, order: FulfillmentOrder, key: str) -> None:
        keys = driver.order_keys(order.order_number)
        assert keys == [key], f"the warehouse holds {keys} for order {order.order_number}"

    # --- identity and capabilities ------------------------------------------------------------

    def test_capabilities_are_well_formed(self, backend: WarehouseBackend) -> None:
        cls = type(backend)
        caps = cls.capabilities()
        assert isinstance(caps, Capabilities)
        assert caps == cls.capabilities(), "capabilities must not change between calls"
        json.dumps(caps.to_dict())
        assert caps.max_page_size >= 1
        assert caps.bulk_submit_max >= 0
        assert caps.cursor_overlap.total_seconds() >= 0
        if caps.rate_limit is not None:
            assert caps.rate_limit.requests > 0 and caps.rate_limit.per_seconds > 0
        assert isinstance(cls.name, str) and cls.name
        assert issubclass(cls.config_model, BackendConfig)
        if self.registered:
            found = available_backends(reload=True).get(cls.name)
            assert found is cls, f"entry point {cls.name!r} does not load {cls.__qualname__}"

    def test_inventory_matches_the_capability(
        self, driver: WarehouseDriver, backend: WarehouseBackend, caps: Capabilities
    ) -> None:
        if not caps.inventory:
            with pytest.raises(NotSupported):
                backend.inventory()
            return
        sku = f"KIT-{token()}"
        needs(lambda: driver.set_stock(sku, 17), "set_stock")
        levels = backend.inventory()
        assert all(isinstance(level, StockLevel) for level in levels)
        assert StockLevel(sku=sku, available=17) in levels

    def test_acknowledge_matches_the_capability(
        self, driver: WarehouseDriver, backend: WarehouseBackend, caps: Capabilities
    ) -> None:
        order, ref = self.submit_new(backend)
        before = FeedLog()
        cursor = drain(backend, None, before)
        parcels = self.whole(order)
        driver.ship(ref.key, parcels)
        log = FeedLog()
        drain(backend, cursor, log)
        assert parcels[0].tracking_number in log.tracking_numbers({ref.remote_id})
        shipments = [s for s in backend.get(ref).shipments if not s.voided]
        assert backend.acknowledge(shipments) is None
        if caps.acknowledge and caps.change_feed == "unacked":
            again = FeedLog()
            drain(backend, cursor, again)
            assert parcels[0].tracking_number not in again.tracking_numbers(), (
                "an acknowledged shipment came back in the unacknowledged feed"
            )

    # --- submitting ---------------------------------------------------------------------------

    def test_submit_twice_with_the_same_key_makes_one_order(
        self, driver: WarehouseDriver, backend: WarehouseBackend, caps: Capabilities
    ) -> None:
        order, ref = self.submit_new(backend)
        assert ref.key.startswith("od-kit-t") and ref.remote_id
        self.assert_one_order(driver, order, ref.key)
        found = backend.find_by_key(ref.key, order_number=order.order_number)
        assert found is not None and found.ref.remote_id == ref.remote_id
        assert found.status not in SHIPPED_STATES | {S.CANCELLED, S.REJECTED}
        if caps.idempotency != Idempotency.NONE:
            self.assert_resubmit_names(backend, order, ref)
        self.assert_one_order(driver, order, ref.key)

    def test_bulk_submit_is_aligned_and_idempotent(
        self, driver: WarehouseDriver, backend: WarehouseBackend, caps: Capabilities
    ) -> None:
        marks = [token() for _ in range(3)]
        items = [(self.make_order(f"K{m}"), f"od-kit-t{m}") for m in marks]
        outcomes = backend.submit_many(items)
        assert [o.key for o in outcomes] == [key for _, key in items]
        assert all(o.ref is not None and o.error is None for o in outcomes), outcomes
        refs = {o.key: o.ref.remote_id for o in outcomes if o.ref}
        if caps.idempotency != Idempotency.NONE:
            for outcome in backend.submit_many(items):
                if outcome.ref is not None:
                    assert outcome.ref.remote_id == refs[outcome.key], (
                        f"the warehouse holds another order for a resubmit of {outcome.key}"
                    )
                else:
                    assert isinstance(outcome.error, DuplicateOrder), outcome.error
        for order, key in items:
            self.assert_one_order(driver, order, key)

    def test_lookup_by_key_after_a_lost_reply(
        self, driver: WarehouseDriver, caps: Capabilities
    ) -> None:
        mark = token()
        order, key = self.make_order(f"K{mark}"), f"od-kit-t{mark}"
        needs(driver.lose_next_reply, "lose_next_reply")
        with self.make_backend(driver) as backend, pytest.raises(AmbiguousOutcome) as caught:
            backend.submit(order, key)
        driver.clear_faults()
        self.assert_secrets_absent(backend, caught.value)
        self.assert_one_order(driver, order, key)
        # The core settles it from another worker, with a new instance.
        with self.make_backend(driver) as fresh:
            found = fresh.find_by_key(key, order_number=order.order_number)
            assert found is not None and found.ref.key == key
            assert fresh.find_by_key(f"od-kit-t{token()}", order_number=f"K{token()}") is None
            if caps.idempotency != Idempotency.NONE:
                self.assert_resubmit_names(fresh, order, found.ref)
        self.assert_one_order(driver, order, key)

    # --- shipments ----------------------------------------------------------------------------

    def test_partial_then_the_rest_in_several_packages(
        self, driver: WarehouseDriver, backend: WarehouseBackend, caps: Capabilities
    ) -> None:
        if not (caps.partial_shipments and caps.multi_package):
            pytest.skip("the backend declares no partial or no multi-package shipments")
        order, ref = self.submit_new(backend)
        (first_key, first_qty), *others = self.units(order)
        first = Parcel(f"KIT{token().upper()}", ((first_key, 1),))
        driver.ship(ref.key, [first])
        snapshot = backend.get(ref)
        assert snapshot.status is S.PARTIALLY_SHIPPED
        assert set(snapshot_packages(snapshot)) == {first.tracking_number}
        self.assert_lines(snapshot, {first_key: 1})
        rest = [Parcel(f"KIT{token().upper()}", tuple(others))]
        if first_qty > 1:
            rest.insert(0, Parcel(f"KIT{token().upper()}", ((first_key, first_qty - 1),)))
        driver.ship(ref.key, rest)
        snapshot = backend.get(ref)
        assert snapshot.status is S.SHIPPED
        packages = snapshot_packages(snapshot)
        assert set(packages) == {p.tracking_number for p in [first, *rest]}
        assert len({pid for pid, _ in packages.values()}) == len(packages), "package ids repeat"
        assert not any(voided for _, voided in packages.values())
        self.assert_lines(snapshot, dict(self.units(order)))
        assert snapshot_packages(backend.get(ref)) == packages, "package ids must be stable"

    @staticmethod
    def assert_lines(snapshot: RemoteOrder, expected: dict[str, int]) -> None:
        """Shipments that list their lines must list exactly the units shipped."""
        if any(shipment.lines for shipment in snapshot.shipments):
            assert shipped_units(snapshot) == expected

    def test_a_void_is_reported(self, driver: WarehouseDriver, backend: WarehouseBackend) -> None:
        order, ref = self.submit_new(backend)
        cursor = drain(backend, None, FeedLog())
        parcels = self.whole(order)
        tracking = parcels[0].tracking_number
        driver.ship(ref.key, parcels)
        assert backend.get(ref).status is S.SHIPPED
        needs(lambda: driver.void(ref.key, tracking), "void")
        snapshot = backend.get(ref)
        assert snapshot_packages(snapshot)[tracking][1] is True, "the voided package looks live"
        assert snapshot.status not in SHIPPED_STATES
        log = FeedLog()
        drain(backend, cursor, log)
        last = log.last(tracking)
        assert last is not None, "the change feed never reported the voided package"
        assert last.voided, "the change feed's latest word on the package is not the void"

    # --- cancelling ---------------------------------------------------------------------------

    def test_cancel_an_open_order(
        self, driver: WarehouseDriver, backend: WarehouseBackend, caps: Capabilities
    ) -> None:
        order, ref = self.submit_new(backend)
        if caps.cancel == CancelSupport.NONE:
            with contextlib.suppress(NotSupported):
                assert backend.cancel(ref).state == "unsupported"
            self.assert_one_order(driver, order, ref.key)
            return
        allowed = {"cancelled"} if caps.cancel == CancelSupport.SYNC else {"cancelled", "requested"}
        assert backend.cancel(ref).state in allowed
        status = backend.get(ref).status
        if caps.cancel == CancelSupport.SYNC:
            assert status is S.CANCELLED
        else:
            assert status in {S.CANCELLED, S.CANCEL_REQUESTED}
        assert backend.cancel(ref).state in allowed, "a repeated cancel must not fail"

    def test_cancel_after_shipping_is_too_late(
        self, driver: WarehouseDriver, backend: WarehouseBackend, caps: Capabilities
    ) -> None:
        if caps.cancel == CancelSupport.NONE:
            pytest.skip("the backend declares no cancel")
        order, ref = self.submit_new(backend)
        driver.ship(ref.key, self.whole(order))
        assert backend.cancel(ref).state == "too_late"
        assert backend.get(ref).status is S.SHIPPED

    # --- the change feed ----------------------------------------------------------------------

    def test_cursor_resumes_after_a_restart(
        self, driver: WarehouseDriver, caps: Capabilities
    ) -> None:
        with self.make_backend(driver) as backend:
            submitted = [self.submit_new(backend) for _ in range(3)]
        remote_ids = {ref.remote_id for _, ref in submitted}
        (o1, r1), (o2, r2), (o3, r3) = submitted
        p1 = self.whole(o1)
        driver.ship(r1.key, p1)
        first = FeedLog()
        with self.make_backend(driver) as backend:
            cursor = drain(backend, None, first)
        assert p1[0].tracking_number in first.tracking_numbers(remote_ids)
        if caps.multi_package:
            (key_a, qty_a), *others = self.units(o2)
            p2 = [Parcel(f"KIT{token().upper()}", ((key_a, qty_a),))]
            p2.append(Parcel(f"KIT{token().upper()}", tuple(others)))
        else:
            p2 = self.whole(o2)
        driver.ship(r2.key, p2)
        later = FeedLog()
        with self.make_backend(driver) as backend:  # one small page, then a restart
            page = backend.changes_since(cursor, limit=1)
            later.add(page.orders)
            cursor = page.next_cursor
        p3 = self.whole(o3)
        driver.ship(r3.key, p3)
        with self.make_backend(driver) as backend:
            cursor = drain(backend, cursor, later, limit=1)
            # A window feed may leave what shipped after its scan began to the next poll.
            cursor = drain(backend, cursor, later, limit=1)
        expected = {p.tracking_number for p in [*p2, *p3]}
        missing = expected - later.tracking_numbers(remote_ids)
        assert not missing, f"packages lost across the restart: {sorted(missing)}"
        combined = FeedLog(first.reports + later.reports)
        for tracking, ids in combined.ids_by_tracking().items():
            assert len(ids) == 1, f"package {tracking} was reported under ids {sorted(ids)}"
        if caps.cursor_overlap.total_seconds() == 0:
            with self.make_backend(driver) as backend:
                if caps.acknowledge and caps.change_feed == ChangeFeed.UNACKED:
                    # Such a feed lists a package until it is acknowledged, as the core does
                    # once Order Desk has it; only then must it stop repeating.
                    shipped = [s for _, ref in submitted for s in backend.get(ref).shipments]
                    backend.acknowledge(shipped)
                tail = FeedLog()
                drain(backend, cursor, tail)
            assert not tail.tracking_numbers(remote_ids), (
                "with no declared overlap, a drained feed repeated packages"
            )

    # --- rate limits --------------------------------------------------------------------------

    def test_rate_limit_is_waited_or_raised_never_lost(
        self, driver: WarehouseDriver, backend: WarehouseBackend
    ) -> None:
        order, ref = self.submit_new(backend)
        cursor = drain(backend, None, FeedLog())
        needs(lambda: driver.throttle(THROTTLE_SECONDS), "throttle")
        mark = token()
        blocked, key = self.make_order(f"K{mark}"), f"od-kit-t{mark}"
        try:
            backend.submit(blocked, key)
        except RateLimited as exc:
            assert 0 < exc.retry_after <= MAX_RETRY_AFTER
            assert driver.order_keys(blocked.order_number) == [], "a refused create was stored"
            self.assert_secrets_absent(backend, exc)
            self.patiently(lambda: backend.submit(blocked, key))
        self.assert_one_order(driver, blocked, key)
        parcels = self.whole(order)
        driver.ship(ref.key, parcels)
        driver.throttle(THROTTLE_SECONDS)
        assert self.patiently(lambda: backend.get(ref)).ref.remote_id == ref.remote_id
        driver.throttle(THROTTLE_SECONDS)
        log = FeedLog()
        self.patiently(lambda: drain(backend, cursor, log))
        assert parcels[0].tracking_number in log.tracking_numbers({ref.remote_id}), (
            "a package shipped during a rate limit never reached the feed"
        )

    @staticmethod
    def patiently(call: Callable[[], T]) -> T:
        """What a worker does: call, and on ``RateLimited`` wait as told and call again."""
        for _ in range(5):
            try:
                return call()
            except RateLimited as exc:
                assert 0 < exc.retry_after <= MAX_RETRY_AFTER
                time.sleep(exc.retry_after)
        raise AssertionError("still rate limited after five announced waits")

    # --- secrets ------------------------------------------------------------------------------

    @staticmethod
    def secret_values(backend: WarehouseBackend) -> list[str]:
        values = []
        for name in backend.config_model.secret_fields():
            value = getattr(backend.config, name)
            if value is not None:
                values.append(value.get_secret_value())
        return [value for value in values if value]

    @staticmethod
    def error_text(error: BaseException) -> str:
        """Everything an error shows: its traceback with the chain, and its arguments."""
        return "".join(traceback.format_exception(error)) + repr(error.args)

    @classmethod
    def assert_secrets_absent(cls, backend: WarehouseBackend, error: BaseException) -> None:
        text = cls.error_text(error)
        for secret in cls.secret_values(backend):
            assert secret not in text, "a secret appears in an error"

    def test_secrets_stay_out_of_reprs_and_errors(self, driver: WarehouseDriver) -> None:
        with self.make_backend(driver) as backend:
            secrets = self.secret_values(backend)
            fields = backend.config_model.secret_fields()
            shown = " ".join(
                [
                    repr(backend),
                    str(backend.config),
                    repr(backend.config),
                    backend.config.model_dump_json(),
                ]
            )
            for secret in secrets:
                assert secret not in shown, "a secret appears in a repr or a config dump"
        if not fields:
            pytest.skip("the backend's config has no secret fields")
        wrong = {name: f"kit-wrong-{name}-{token()}" for name in fields}
        try:
            backend = self.make_backend(driver, **wrong)
        except BackendError as exc:  # refused at construction (not a key at all): fine
            assert not any(value in self.error_text(exc) for value in wrong.values())
            return
        with backend:
            assert not any(value in repr(backend) for value in wrong.values())
            try:
                backend.healthcheck()
            except RemoteError as exc:
                assert not any(value in self.error_text(exc) for value in wrong.values()), (
                    "a refused secret appears in the error"
                )
                assert isinstance(exc, AuthError) or not self.checks_credentials, (
                    f"refused credentials must be an AuthError, got {type(exc).__name__}"
                )
                return
        assert not self.checks_credentials, "the healthcheck accepted wrong secrets"
