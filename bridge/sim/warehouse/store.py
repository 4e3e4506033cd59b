"""The simulated warehouse's memory: orders, shipments, packages and stock.

Both simulated APIs (ShipStation v1 and our native one) are views over the same facts: an order
has lines; it ships in shipments made of packages, each package covering some units of some
lines. Keeping those facts kind-neutral lets ``sim.ship()``, voids and auto-ship behave alike
whichever API a backend talks to, while each kind renders its own JSON and status words (given
here as a ``StatusPolicy``). Order status after a shipment or a void is derived from unit
coverage, the way the bridge core is told to derive it.

Every read and write goes through one re-entrant lock, so HTTP threads, the auto-ship timer and
test code always see whole changes. Listeners (the native kind's event feed) run under that lock,
which is what keeps event sequence numbers in the order the changes happened.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bridge.sim.warehouse.tracking import TrackingNumbers, carrier

Listener = Callable[[str, "StoredOrder", "Shipment | None"], None]


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class StatusPolicy:
    """The status words one API kind uses for the states the store derives by itself."""

    unshipped: str
    partial: str
    shipped: str
    cancelled: str
    updatable: frozenset[str]
    auto_shippable: frozenset[str]


@dataclass
class Line:
    key: str  # identity for coverage: the caller's line key, else the sku, else the position
    line_key: str | None
    sku: str
    name: str
    quantity: int
    unit_price: float | None
    item_id: int


@dataclass(frozen=True)
class PackedLine:
    key: str
    line_key: str | None
    sku: str
    quantity: int


@dataclass
class Package:
    id: int
    tracking_number: str
    tracking_url: str
    weight_oz: float
    lines: list[PackedLine]


@dataclass
class Shipment:
    id: int
    order_id: int
    carrier: str
    service: str
    created_at: datetime
    shipped_at: datetime
    packages: list[Package]
    external: bool = False
    voided_at: datetime | None = None

    @property
    def voided(self) -> bool:
        return self.voided_at is not None

    def lines(self) -> list[PackedLine]:
        """Units of every package summed per order line, in first-seen order."""
        totals: dict[str, PackedLine] = {}
        for package in self.packages:
            for line in package.lines:
                seen = totals.get(line.key)
                quantity = line.quantity + (seen.quantity if seen else 0)
                totals[line.key] = PackedLine(line.key, line.line_key, line.sku, quantity)
        return list(totals.values())


Units = list[tuple[Line, int]]


@dataclass
class PackageSpec:
    units: Units
    tracking_number: str | None = None
    weight_oz: float | None = None


@dataclass
class StoredOrder:
    id: int
    key: str
    number: str
    status: str
    created_at: datetime
    updated_at: datetime
    created_mono: float
    lines: list[Line]
    body: dict[str, Any]
    shipments: list[Shipment] = field(default_factory=list)

    def shipped_units(self) -> Counter[str]:
        shipped: Counter[str] = Counter()
        for shipment in self.shipments:
            if not shipment.voided:
                for line in shipment.lines():
                    shipped[line.key] += line.quantity
        return shipped

    def remaining(self) -> Units:
        shipped = self.shipped_units()
        return [
            (line, line.quantity - shipped[line.key])
            for line in self.lines
            if line.quantity > shipped[line.key]
        ]

    def has_shipped(self) -> bool:
        return any(not s.voided for s in self.shipments)


def take_units(units: Units, count: int) -> Units:
    """The first ``count`` units, line by line."""
    taken: Units = []
    for line, quantity in units:
        if count <= 0:
            break
        part = min(quantity, count)
        taken.append((line, part))
        count -= part
    return taken


def drop_units(units: Units, count: int) -> Units:
    """What is left of ``units`` after ``take_units(units, count)``."""
    rest: Units = []
    for line, quantity in units:
        part = min(quantity, max(count, 0))
        count -= part
        if quantity > part:
            rest.append((line, quantity - part))
    return rest


def unit_count(units: Units) -> int:
    return sum(quantity for _, quantity in units)


def split_units(units: Units, parts: int) -> list[Units]:
    """Spread units over up to ``parts`` packages as evenly as whole units allow."""
    total = unit_count(units)
    parts = max(1, min(parts, total))
    packages: list[Units] = []
    for index in range(parts):
        size = total // parts + (1 if index < total % parts else 0)
        packages.append(take_units(units, size))
        units = drop_units(units, size)
    return packages


class WarehouseStore:
    """Orders by id and by idempotency key, shipments by id, stock by sku."""

    def __init__(self, policy: StatusPolicy, tracking: TrackingNumbers | None = None) -> None:
        self.lock = threading.RLock()
        self.policy = policy
        self.tracking = tracking or TrackingNumbers()
        self.listeners: list[Listener] = []
        self.inventory: dict[str, int] = {}
        self.refuse_text: str | None = None
        self.poison_text: str | None = None
        self.poison_status = 500
        self.create_calls = 0
        self.unfinished: set[int] = set()
        self._orders: dict[int, StoredOrder] = {}
        self._by_key: dict[str, int] = {}
        self._shipments: dict[int, Shipment] = {}
        self._order_ids = itertools.count(1)
        self._item_ids = itertools.count(1)
        self._shipment_ids = itertools.count(1)
        self._package_ids = itertools.count(1)

    # --- reading ------------------------------------------------------------------------------

    def orders(self) -> list[StoredOrder]:
        with self.lock:
            return list(self._orders.values())

    def get(self, order_id: int) -> StoredOrder | None:
        with self.lock:
            return self._orders.get(order_id)

    def by_key(self, key: str) -> StoredOrder | None:
        with self.lock:
            order_id = self._by_key.get(key)
            return None if order_id is None else self._orders[order_id]

    def shipments(self) -> list[Shipment]:
        with self.lock:
            return list(self._shipments.values())

    def shipment(self, shipment_id: int) -> Shipment | None:
        with self.lock:
            return self._shipments.get(shipment_id)

    def refuses(self, address_line: object) -> bool:
        text = self.refuse_text
        return bool(text) and text.lower() in str(address_line or "").lower()

    def poisoned(self, address_line: object) -> bool:
        """An order the warehouse can never take: every create answers ``poison_status``."""
        text = self.poison_text
        return bool(text) and text.lower() in str(address_line or "").lower()

    # --- orders ---------------------------------------------------------------------------------

    def add(
        self,
        key: str,
        number: str,
        lines: Iterable[Mapping[str, Any]],
        body: dict[str, Any],
        status: str,
    ) -> StoredOrder:
        with self.lock:
            if key in self._by_key:
                raise ValueError(f"an order with key {key!r} exists")
            now = utcnow()
            order = StoredOrder(
                id=next(self._order_ids),
                key=key,
                number=number,
                status=status,
                created_at=now,
                updated_at=now,
                created_mono=time.monotonic(),
                lines=self._lines(lines),
                body=body,
            )
            self._orders[order.id] = order
            self._by_key[key] = order.id
            self.create_calls += 1
            self._track_unfinished(order)
            self._emit("order.created", order)
            return order

    def replace(
        self,
        order: StoredOrder,
        number: str,
        lines: Iterable[Mapping[str, Any]],
        body: dict[str, Any],
        status: str,
    ) -> StoredOrder:
        """A full replacement, as ShipStation's upsert does; shipments already made stay."""
        with self.lock:
            order.number = number
            order.lines = self._lines(lines)
            order.body = body
            order.status = status
            order.updated_at = utcnow()
            self.create_calls += 1
            self._track_unfinished(order)
            self._emit(
                "order.cancelled" if status == self.policy.cancelled else "order.updated", order
            )
            return order

    def set_status(self, order: StoredOrder, status: str) -> StoredOrder:
        """Put an open order in another status word of its kind (a hold, an exception)."""
        with self.lock:
            if order.status == self.policy.cancelled or not order.remaining():
                raise ValueError(f"order {order.key!r} is {order.status}; it can no longer change")
            order.status = status
            order.updated_at = utcnow()
            self._track_unfinished(order)
            self._emit("order.updated", order)
            return order

    def cancel(self, order: StoredOrder) -> StoredOrder:
        with self.lock:
            if order.status != self.policy.cancelled:
                order.status = self.policy.cancelled
                order.updated_at = utcnow()
                self._track_unfinished(order)
                self._emit("order.cancelled", order)
            return order

    def _lines(self, raw_lines: Iterable[Mapping[str, Any]]) -> list[Line]:
        lines: list[Line] = []
        seen: set[str] = set()
        for index, raw in enumerate(raw_lines):
            line_key = raw.get("line_key") or None
            sku = str(raw.get("sku") or "")
            key = str(line_key or sku or f"#{index}")
            if key in seen:
                key = f"{key}#{index}"
            seen.add(key)
            lines.append(
                Line(
                    key=key,
                    line_key=line_key,
                    sku=sku,
                    name=str(raw.get("name") or ""),
                    quantity=int(raw.get("quantity") or 0),
                    unit_price=raw.get("unit_price"),
                    item_id=next(self._item_ids),
                )
            )
        return lines

    # --- shipping -------------------------------------------------------------------------------

    def package_specs(
        self, order: StoredOrder, packages: list[Mapping[str, Any]] | None, partial: bool
    ) -> list[PackageSpec]:
        """Turn ``sim.ship()``'s package description into units of this order's lines."""
        with self.lock:
            remaining = order.remaining()
            if packages is None:
                if not remaining:
                    raise ValueError(f"order {order.key!r} has nothing left to ship")
                if partial:
                    remaining = take_units(remaining, max(1, unit_count(remaining) // 2))
                return [PackageSpec(remaining)]
            return [self._package_spec(order, package) for package in packages]

    def _package_spec(self, order: StoredOrder, package: Mapping[str, Any]) -> PackageSpec:
        units: Units = []
        for wanted in package.get("lines") or []:
            line = self._find_line(order, wanted)
            units.append((line, int(wanted.get("quantity", 1))))
        weight = package.get("weight_oz")
        return PackageSpec(
            units, package.get("tracking_number"), None if weight is None else float(weight)
        )

    @staticmethod
    def _find_line(order: StoredOrder, wanted: Mapping[str, Any]) -> Line:
        line_key, sku = wanted.get("line_key"), wanted.get("sku")
        for line in order.lines:
            if (line_key and line_key in (line.line_key, line.key)) or (
                not line_key and sku and line.sku == sku
            ):
                return line
        raise ValueError(f"order {order.key!r} has no line {line_key or sku!r}")

    def ship(
        self,
        order: StoredOrder,
        groups: list[list[PackageSpec]],
        *,
        carrier_code: str,
        service: str | None = None,
        at: datetime | None = None,
        external: bool = False,
    ) -> list[Shipment]:
        """Record shipments (each a list of packages) and settle the order's status."""
        chosen = carrier(carrier_code)
        with self.lock:
            self._check_shippable(order, [spec for group in groups for spec in group])
            shipped_at = (at or utcnow()).astimezone(UTC)
            made: list[Shipment] = []
            for group in groups:
                shipment = Shipment(
                    id=next(self._shipment_ids),
                    order_id=order.id,
                    carrier=chosen.code,
                    service=service or chosen.default_service,
                    created_at=shipped_at,
                    shipped_at=shipped_at,
                    external=external,
                    packages=[self._package(chosen.code, spec) for spec in group],
                )
                order.shipments.append(shipment)
                self._shipments[shipment.id] = shipment
                made.append(shipment)
            self._take_stock(spec for group in groups for spec in group)
            order.updated_at = utcnow()
            self._settle(order)
            for shipment in made:
                self._emit("shipment.created", order, shipment)
            return made

    def _check_shippable(self, order: StoredOrder, specs: list[PackageSpec]) -> None:
        if order.status == self.policy.cancelled:
            raise ValueError(f"order {order.key!r} is cancelled")
        if not specs or any(not spec.units for spec in specs):
            raise ValueError("every package needs at least one line")
        wanted: Counter[str] = Counter()
        for spec in specs:
            for line, quantity in spec.units:
                if quantity < 1:
                    raise ValueError(f"quantity of {line.sku!r} must be at least 1")
                wanted[line.key] += quantity
        left = {line.key: quantity for line, quantity in order.remaining()}
        for key, quantity in wanted.items():
            if quantity > left.get(key, 0):
                raise ValueError(
                    f"order {order.key!r} line {key!r}: {quantity} wanted, "
                    f"{left.get(key, 0)} left to ship"
                )

    def _package(self, carrier_code: str, spec: PackageSpec) -> Package:
        number = spec.tracking_number or self.tracking.issue(carrier_code)
        units = unit_count(spec.units)
        return Package(
            id=next(self._package_ids),
            tracking_number=number,
            tracking_url=carrier(carrier_code).tracking_url(number),
            weight_oz=spec.weight_oz if spec.weight_oz is not None else 6.0 + 10.0 * units,
            lines=[
                PackedLine(line.key, line.line_key, line.sku, quantity)
                for line, quantity in spec.units
            ],
        )

    def _take_stock(self, specs: Iterable[PackageSpec]) -> None:
        for spec in specs:
            for line, quantity in spec.units:
                if line.sku in self.inventory:
                    self.inventory[line.sku] = max(0, self.inventory[line.sku] - quantity)

    def void(self, shipment_id: int) -> Shipment:
        with self.lock:
            shipment = self._shipments.get(shipment_id)
            if shipment is None:
                raise KeyError(f"no shipment {shipment_id}")
            if not shipment.voided:
                shipment.voided_at = utcnow()
                order = self._orders[shipment.order_id]
                order.updated_at = shipment.voided_at
                self._settle(order)
                self._emit("shipment.voided", order, shipment)
            return shipment

    def _settle(self, order: StoredOrder) -> None:
        policy = self.policy
        if order.status != policy.cancelled:
            if order.has_shipped():
                order.status = policy.partial if order.remaining() else policy.shipped
            elif order.status in (policy.partial, policy.shipped):
                order.status = policy.unshipped
        self._track_unfinished(order)

    def _track_unfinished(self, order: StoredOrder) -> None:
        if order.status != self.policy.cancelled and order.remaining():
            self.unfinished.add(order.id)
        else:
            self.unfinished.discard(order.id)

    def _emit(self, kind: str, order: StoredOrder, shipment: Shipment | None = None) -> None:
        for listener in self.listeners:
            listener(kind, order, shipment)
