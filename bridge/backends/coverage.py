"""Decide shipped vs partially shipped by unit coverage, never by the warehouse's word alone.

Amazon's ``CompletePartialled`` and ShipStation keeping a split order in ``awaiting_shipment``
show that a backend status says little about how many units left. The core counts units instead
(docs/backends.md#status-vocabulary). Voided shipments count for nothing. A live shipment that
lists no lines (a ShipStation fulfillment marked shipped outside ShipStation) is taken to cover
the whole order, because that is what marking an order shipped means there.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from bridge.backends.models import Line, NormalizedStatus, RemoteShipment


def shipped_units(ordered: Sequence[Line], shipments: Sequence[RemoteShipment]) -> dict[str, int]:
    """Units shipped per ordered ``line_key``, capped at the ordered quantity.

    A shipped line is matched by ``line_key`` first, then by SKU (warehouses that do not echo our
    line keys); units shipped by SKU fill the ordered lines with that SKU in order.
    """
    wanted = {line.line_key: max(line.quantity, 0) for line in ordered}
    by_sku: dict[str, list[str]] = defaultdict(list)
    for line in ordered:
        by_sku[line.sku].append(line.line_key)
    covered = dict.fromkeys(wanted, 0)
    for shipment in shipments:
        if shipment.voided:
            continue
        for shipped in shipment.lines:
            remaining = max(shipped.quantity, 0)
            by_key = shipped.line_key in wanted
            keys = [shipped.line_key] if by_key else by_sku.get(shipped.sku, [])
            for key in keys:
                take = min(remaining, wanted[key] - covered[key])
                covered[key] += take
                remaining -= take
    return covered


def coverage_status(
    ordered: Sequence[Line], shipments: Sequence[RemoteShipment]
) -> NormalizedStatus | None:
    """``shipped`` when every ordered unit is covered, ``partially_shipped`` for some, else None."""
    live = [shipment for shipment in shipments if not shipment.voided]
    if not live:
        return None
    if any(not shipment.lines for shipment in live):
        return NormalizedStatus.SHIPPED
    total = sum(max(line.quantity, 0) for line in ordered)
    done = sum(shipped_units(ordered, live).values())
    if total and done >= total:
        return NormalizedStatus.SHIPPED
    if done > 0:
        return NormalizedStatus.PARTIALLY_SHIPPED
    return None
