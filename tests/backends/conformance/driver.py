"""The conformance kit's warehouse driver for the bridge's own warehouse simulator (any kind)."""

from __future__ import annotations

from collections.abc import Sequence

from bridge.backends.testing import Parcel
from bridge.sim.warehouse import WarehouseSimulator

# How long a create's reply is held when a lost reply is asked for; the backends under test
# get a shorter read timeout (TIMEOUT) so they give up first.
HANG_SECONDS = 4.0
TIMEOUT = 2.0


class SimulatorDriver:
    """Steers a started ``WarehouseSimulator`` through its Python API."""

    def __init__(self, sim: WarehouseSimulator) -> None:
        self.sim = sim

    @property
    def url(self) -> str:
        return self.sim.url

    def order_keys(self, order_number: str) -> list[str]:
        return self.sim.keys_for_number(order_number)

    def ship(self, key: str, parcels: Sequence[Parcel]) -> None:
        self.sim.ship(
            key,
            packages=[
                {
                    "tracking_number": parcel.tracking_number,
                    "lines": [{"line_key": lk, "quantity": qty} for lk, qty in parcel.lines],
                }
                for parcel in parcels
            ],
        )

    def void(self, key: str, tracking_number: str) -> None:
        self.sim.void_package(tracking_number)

    def lose_next_reply(self) -> None:
        self.sim.set_faults(timeout_after_store=1, hang_seconds=HANG_SECONDS)

    def throttle(self, seconds: float) -> None:
        self.sim.throttle(seconds)

    def set_stock(self, sku: str, available: int) -> None:
        self.sim.set_inventory(sku, available)

    def clear_faults(self) -> None:
        self.sim.clear_faults()
