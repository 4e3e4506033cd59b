"""A warehouse floor that ships on its own, so the bridge sees tracking without a person.

``bridge dev`` and the end-to-end tests need orders to ship some time after they arrive, in the
shapes real warehouses produce: one package, several packages, or part now and the rest later.
The "mixed" mode picks a shape per order from a hash of its number, so a run is repeatable.
Shipping is driven by ``tick()``, which the simulator's timer calls every 0.1 s and tests may call
directly.
"""

from __future__ import annotations

import threading
import time
import zlib
from collections.abc import Callable

import structlog

from bridge.sim.warehouse.store import (
    PackageSpec,
    StoredOrder,
    WarehouseStore,
    split_units,
    take_units,
    unit_count,
)

MODES = ("single", "multi", "partial", "mixed")
_CARRIERS = ("ups", "usps", "fedex")

log = structlog.get_logger(__name__)

ShipFunction = Callable[[StoredOrder, list[PackageSpec], str], object]


def _order_hash(order: StoredOrder) -> int:
    return zlib.crc32(order.number.encode())


def mode_for(order: StoredOrder, mode: str) -> str:
    """The shape one order ships in; "mixed" is ~70% single, 15% multi, 15% partial."""
    if mode != "mixed":
        return mode
    bucket = _order_hash(order) % 100
    return "single" if bucket < 70 else "multi" if bucket < 85 else "partial"


class AutoShipper:
    """Ships every shippable order ``delay`` seconds after it was created."""

    def __init__(
        self, store: WarehouseStore, ship: ShipFunction, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._store = store
        self._ship = ship
        self._clock = clock
        self._lock = threading.Lock()
        self._delay: float | None = None
        self._mode = "single"
        self._rest_due: dict[int, float] = {}

    def configure(self, delay: float | None, mode: str = "single") -> None:
        if mode not in MODES:
            raise ValueError(f"auto-ship mode must be one of {', '.join(MODES)}")
        if delay is not None and delay < 0:
            raise ValueError("auto-ship delay cannot be negative")
        with self._lock:
            self._delay, self._mode = delay, mode

    def tick(self) -> None:
        with self._lock, self._store.lock:
            delay = self._delay
            if delay is None:
                return
            now = self._clock()
            for order_id in sorted(self._store.unfinished):
                order = self._store.get(order_id)
                if order is None or order.status not in self._store.policy.auto_shippable:
                    continue
                if now >= self._rest_due.get(order_id, order.created_mono + delay):
                    try:
                        self._ship_now(order, now, delay)
                    except ValueError as error:
                        log.warning("auto_ship_failed", order_key=order.key, error=str(error))

    def _ship_now(self, order: StoredOrder, now: float, delay: float) -> None:
        remaining = order.remaining()
        carrier = _CARRIERS[_order_hash(order) // 100 % len(_CARRIERS)]
        mode = mode_for(order, self._mode)
        if self._rest_due.pop(order.id, None) is not None or mode == "single":
            specs = [PackageSpec(remaining)]
        elif mode == "multi":
            specs = [PackageSpec(units) for units in split_units(remaining, 2)]
        elif unit_count(remaining) > 1:
            specs = [PackageSpec(take_units(remaining, unit_count(remaining) // 2))]
            self._rest_due[order.id] = now + delay
        else:
            specs = [PackageSpec(remaining)]
        self._ship(order, specs, carrier)
