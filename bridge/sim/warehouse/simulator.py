"""``WarehouseSimulator``: a fake 3PL on loopback that speaks ShipStation v1, ShipBob or our API.

Tests, benchmarks and ``bridge dev`` drive the bridge against it over real HTTP and then steer
the warehouse from Python (ship, void, faults, auto-ship) to provoke each path the bridge must
handle. The Python API below is a contract shared with the backends (see docs/backends.md); the
same controls exist over HTTP under ``/_sim/`` (``control``, which knows the simulator only
through the protocol it declares) for a simulator running in another process.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from bridge.sim.server import BackgroundServer
from bridge.sim.warehouse.autoship import AutoShipper
from bridge.sim.warehouse.control import control_blueprint
from bridge.sim.warehouse.faults import (
    Faults,
    FixedWindowLimiter,
    RequestLog,
    RequestRecord,
)
from bridge.sim.warehouse.http import SimContext, build_app
from bridge.sim.warehouse.native import NativeApi
from bridge.sim.warehouse.shipbob import ShipBobApi
from bridge.sim.warehouse.shipstation import ShipStationApi
from bridge.sim.warehouse.store import PackageSpec, StoredOrder, WarehouseStore
from bridge.sim.warehouse.tracking import TrackingNumbers

KINDS: dict[str, type[ShipStationApi] | type[NativeApi] | type[ShipBobApi]] = {
    "shipbob": ShipBobApi,
    "shipstation": ShipStationApi,
    "simulated": NativeApi,
}
TICK_SECONDS = 0.1


class WarehouseSimulator:
    """One simulated warehouse: its state, its HTTP server and its auto-ship timer."""

    def __init__(
        self,
        kind: str = "simulated",
        api_key: str = "sim-key",
        api_secret: str = "sim-secret",
        rate_limit_per_minute: int | None = None,
        max_page_size: int | None = None,
        rate_limit_window: float = 60.0,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int | None = None,
    ) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown warehouse kind {kind!r}; known: {', '.join(KINDS)}")
        if rate_limit_per_minute is not None and rate_limit_per_minute < 1:
            raise ValueError("rate_limit_per_minute must be at least 1")
        api_class = KINDS[kind]
        self.kind = kind
        self._host, self._port = host, port
        self._stopping = threading.Event()
        store = WarehouseStore(api_class.policy, TrackingNumbers(seed))
        self._ctx = SimContext(
            store=store,
            faults=Faults(self._stopping),
            log=RequestLog(),
            limiter=(
                FixedWindowLimiter(rate_limit_per_minute, rate_limit_window)
                if rate_limit_per_minute
                else None
            ),
            max_page_size=max_page_size or api_class.default_max_page_size,
            api_key=api_key,
            api_secret=api_secret,
        )
        self._api = api_class(self._ctx)
        self._autoship = AutoShipper(store, self._ship_specs)
        self.app = build_app(self._ctx, self._api, control_blueprint(self))
        self._server: BackgroundServer | None = None
        self._timer: threading.Thread | None = None

    def __repr__(self) -> str:
        where = self._server.url if self._server else "not started"
        return f"<WarehouseSimulator kind={self.kind} {where}>"

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> WarehouseSimulator:
        if self._server is not None:
            raise RuntimeError("the simulator is already started")
        self._stopping.clear()
        self._server = BackgroundServer(self.app, self._host, self._port).start()
        self._timer = threading.Thread(target=self._run_timer, name="sim-autoship", daemon=True)
        self._timer.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # releases hung replies and the timer first
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self._timer is not None:
            self._timer.join(timeout=5)
            self._timer = None

    def __enter__(self) -> WarehouseSimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the simulator is not started")
        return self._server.url

    def _run_timer(self) -> None:
        while not self._stopping.wait(TICK_SECONDS):
            self.tick()

    # --- orders ---------------------------------------------------------------------------------

    def orders(self) -> list[dict[str, Any]]:
        with self._ctx.store.lock:
            return [self._api.render_order(order) for order in self._ctx.store.orders()]

    def order_by_key(self, key: str) -> dict[str, Any] | None:
        with self._ctx.store.lock:
            order = self._ctx.store.by_key(key)
            return None if order is None else self._api.render_order(order)

    def tracking_numbers(self, key: str) -> list[str]:
        """The tracking numbers of the order's packages that are not voided, oldest first,
        whatever the kind's rendering (tests compare them with what Order Desk holds)."""
        with self._ctx.store.lock:
            order = self._ctx.store.by_key(key)
            if order is None:
                raise KeyError(f"no order with key {key!r}")
            return [
                package.tracking_number
                for shipment in order.shipments
                if not shipment.voided
                for package in shipment.packages
            ]

    def keys_for_number(self, number: str) -> list[str]:
        """The idempotency keys of every order carrying this order number: a duplicate
        submitted under another key shows up here, where a lookup by key would miss it."""
        with self._ctx.store.lock:
            return [order.key for order in self._ctx.store.orders() if order.number == number]

    @property
    def create_calls(self) -> int:
        return self._ctx.store.create_calls

    def refuse_addresses_containing(self, text: str = "INVALID") -> None:
        """Refuse creates whose first ship-to street line contains ``text`` (any case)."""
        self._ctx.store.refuse_text = text

    def poison_addresses_containing(self, text: str | None, status: int = 500) -> None:
        """Native kind: creates whose ship-to street contains ``text`` always get ``status``."""
        self._ctx.store.poison_text = text
        self._ctx.store.poison_status = status

    def set_status(self, key: str, status: str) -> None:
        """Put an open order in one of its kind's own status words, as a person at the
        warehouse would: a hold or an exception (ShipBob: "On Hold", "Exception")."""
        store = self._ctx.store
        with store.lock:
            order = store.by_key(key)
            if order is None:
                raise KeyError(f"no order with key {key!r}")
            store.set_status(order, status)

    def set_inventory(self, sku: str, available: int) -> None:
        with self._ctx.store.lock:
            self._ctx.store.inventory[sku] = available

    # --- shipping -------------------------------------------------------------------------------

    def ship(
        self,
        key: str,
        *,
        packages: list[Mapping[str, Any]] | None = None,
        partial: bool = False,
        carrier: str = "ups",
        service: str | None = None,
        external: bool = False,
        at: datetime | None = None,
    ) -> list[str]:
        """Ship an order now and return the new shipment ids in the kind's own form.

        ``external`` (ShipStation only) records it as shipped outside ShipStation: it then shows
        under ``/fulfillments`` and not ``/shipments``. ``at`` back-dates the label, for
        date-window tests.
        """
        store = self._ctx.store
        with store.lock:
            order = store.by_key(key)
            if order is None:
                raise KeyError(f"no order with key {key!r}")
            specs = store.package_specs(order, packages, partial)
            return self._ship_specs(order, specs, carrier, service, external, at)

    def _ship_specs(
        self,
        order: StoredOrder,
        specs: list[PackageSpec],
        carrier: str,
        service: str | None = None,
        external: bool = False,
        at: datetime | None = None,
    ) -> list[str]:
        shipments = self._ctx.store.ship(
            order,
            self._api.group_packages(specs),
            carrier_code=carrier,
            service=service,
            at=at,
            external=external,
        )
        return [self._api.shipment_ref(shipment) for shipment in shipments]

    def void(self, shipment_id: str) -> None:
        try:
            number = self._api.parse_shipment_ref(str(shipment_id))
        except ValueError:
            raise KeyError(f"no shipment {shipment_id}") from None
        self._ctx.store.void(number)

    def void_package(self, tracking_number: str) -> None:
        """Void the shipment holding the package with this tracking number (with its other
        packages, where the kind groups several into one shipment)."""
        store = self._ctx.store
        with store.lock:
            for shipment in store.shipments():
                if any(p.tracking_number == tracking_number for p in shipment.packages):
                    store.void(shipment.id)
                    return
        raise KeyError(f"no package with tracking number {tracking_number}")

    def set_auto_ship(self, delay: float | None, mode: str = "single") -> None:
        self._autoship.configure(delay, mode)

    def tick(self) -> None:
        self._autoship.tick()

    # --- faults and observation -------------------------------------------------------------------

    def set_faults(
        self,
        *,
        latency: float = 0.0,
        error_rate: float = 0.0,
        error_status: int = 500,
        timeout_after_store: int = 0,
        hang_seconds: float = 2.0,
        paths: Sequence[str] | None = None,
        seed: int | None = None,
    ) -> None:
        self._ctx.faults.configure(
            latency=latency,
            error_rate=error_rate,
            error_status=error_status,
            timeout_after_store=timeout_after_store,
            hang_seconds=hang_seconds,
            paths=paths,
            seed=seed,
        )

    def throttle(self, seconds: float) -> None:
        """Answer every API request with the kind's 429 for ``seconds`` (0 ends it)."""
        self._ctx.faults.throttle(seconds)

    def clear_faults(self) -> None:
        self._ctx.faults.clear()

    @property
    def request_log(self) -> list[RequestRecord]:
        return self._ctx.log.records()

    def calls(self, method: str | None = None, path: str | None = None) -> int:
        """API requests so far, optionally of one method and under one path prefix."""
        return self._ctx.log.count(method, path)

    @property
    def count_429(self) -> int:
        return sum(1 for record in self._ctx.log.records() if record.status == 429)
