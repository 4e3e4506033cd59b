"""Walking a backend's change feed and remembering every package it reported, and how."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from bridge.backends.base import WarehouseBackend
from bridge.backends.models import RemoteOrder

MAX_PAGES = 500


@dataclass(frozen=True)
class PackageReport:
    """One sighting of a package in the feed (or a snapshot)."""

    remote_id: str
    package_id: str
    tracking_number: str
    voided: bool


@dataclass
class FeedLog:
    """Every package sighting, in the order the feed gave them."""

    reports: list[PackageReport] = field(default_factory=list)

    def add(self, orders: list[RemoteOrder]) -> None:
        for order in orders:
            for shipment in order.shipments:
                for package in shipment.packages:
                    self.reports.append(
                        PackageReport(
                            order.ref.remote_id,
                            package.package_id,
                            package.tracking_number,
                            shipment.voided,
                        )
                    )

    def tracking_numbers(self, remote_ids: set[str] | None = None) -> set[str]:
        return {
            r.tracking_number
            for r in self.reports
            if remote_ids is None or r.remote_id in remote_ids
        }

    def ids_by_tracking(self) -> dict[str, set[str]]:
        found: dict[str, set[str]] = defaultdict(set)
        for report in self.reports:
            found[report.tracking_number].add(report.package_id)
        return dict(found)

    def last(self, tracking_number: str) -> PackageReport | None:
        matching = [r for r in self.reports if r.tracking_number == tracking_number]
        return matching[-1] if matching else None


def drain(
    backend: WarehouseBackend, cursor: str | None, log: FeedLog, limit: int = 100
) -> str | None:
    """Read pages until the feed says it has no more; returns the cursor to persist."""
    for _ in range(MAX_PAGES):
        page = backend.changes_since(cursor, limit=limit)
        log.add(page.orders)
        cursor = page.next_cursor
        if not page.has_more:
            return cursor
    raise AssertionError(f"the change feed did not end within {MAX_PAGES} pages")


def snapshot_packages(order: RemoteOrder) -> dict[str, tuple[str, bool]]:
    """Tracking number -> (package_id, voided) in one full snapshot."""
    return {
        package.tracking_number: (package.package_id, shipment.voided)
        for shipment in order.shipments
        for package in shipment.packages
    }


def shipped_units(order: RemoteOrder) -> dict[str, int]:
    """Units per line key over the live shipments that list their lines."""
    totals: dict[str, int] = defaultdict(int)
    for shipment in order.shipments:
        if not shipment.voided:
            for line in shipment.lines:
                totals[line.line_key or line.sku] += line.quantity
    return dict(totals)
