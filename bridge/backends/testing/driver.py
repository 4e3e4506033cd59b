"""The warehouse driver: what a backend author hands the conformance kit to steer their warehouse.

The kit plays the warehouse floor through it (ship, void) and provokes the failures a backend
must survive (a reply lost after the order was stored, a rate limit). It is a ``Protocol``, so
a driver is any object with these methods; it never has to import the kit. A driver that
cannot do something raises ``NotImplementedError`` and the checks that need it are skipped,
saying which method was missing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class Parcel:
    """One package to ship: its tracking number and the units it holds, as
    ``(line_key, quantity)`` pairs naming lines of the order the kit submitted."""

    tracking_number: str
    lines: tuple[tuple[str, int], ...]


@runtime_checkable
class WarehouseDriver(Protocol):
    """Steers one warehouse (usually a simulator) the backend under test talks to."""

    def order_keys(self, order_number: str) -> list[str]:
        """The idempotency keys of every warehouse order carrying ``order_number``.

        Read from the warehouse side, so a duplicate created under another key shows up.
        """

    def ship(self, key: str, parcels: Sequence[Parcel]) -> None:
        """Ship these packages of the order submitted under ``key``, now, with exactly these
        tracking numbers (several parcels may become one shipment or several, as the
        warehouse does it). Shipping every unit is also how the kit makes a cancel too late."""

    def void(self, key: str, tracking_number: str) -> None:
        """Void the shipment holding the package with ``tracking_number``."""

    def lose_next_reply(self) -> None:
        """The next order create is applied by the warehouse but its reply never arrives
        (the backend's read timeout must be shorter than the wait)."""

    def throttle(self, seconds: float) -> None:
        """Refuse every request with the warehouse's rate-limit answer for ``seconds``."""

    def set_stock(self, sku: str, available: int) -> None:
        """Set the stock level the warehouse reports for ``sku`` (backends with inventory)."""

    def clear_faults(self) -> None:
        """End every fault injected through this driver."""
