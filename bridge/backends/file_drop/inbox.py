"""Consume the warehouse's files from the inbox: shipment confirmations and stock levels.

A file is consumed once per content: its name and sha256 go into the ledger together with its
usable rows in one transaction, and only then is it moved to the archive. A crash between the
two leaves a file the ledger already knows; the next pass sees the same name and hash and only
finishes the move. A file sent again with the same content is therefore never read twice; a file
with the same name and new content is a new file.

Which files: ``shp*.csv`` hold shipments, ``inv*.csv`` stock levels (case-insensitive);
anything else, and names starting with a dot (uploads in progress), is left alone.
A row that cannot be used is logged and recorded with its file name and line number and skipped;
the rest of the file is consumed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

import structlog

from bridge.backends.file_drop import ledger
from bridge.backends.file_drop.columns import (
    Problem,
    ShipmentRow,
    parse_inventory,
    parse_shipments,
)
from bridge.backends.file_drop.transport import Folder, guarded, move

log = structlog.get_logger(__name__)

SHIPMENTS = "shipments"
INVENTORY = "inventory"


@dataclass(frozen=True)
class Report:
    """What one pass over the inbox did."""

    consumed: list[str]
    already_seen: list[str]
    problems: list[tuple[str, Problem]]


def kind_of(name: str) -> str | None:
    lower = name.lower()
    if name.startswith(".") or not lower.endswith(".csv"):
        return None
    if lower.startswith("shp"):
        return SHIPMENTS
    if lower.startswith("inv"):
        return INVENTORY
    return None


def _resolve(
    rows: list[ShipmentRow], outbox: str
) -> tuple[list[tuple[str, ShipmentRow]], list[Problem]]:
    """Each row's order key: its own, or the key written for its order number to ``outbox``."""
    by_number = ledger.keys_for_numbers(
        outbox, {row.order_number for row in rows if not row.order_key}
    )
    known = ledger.known_keys({row.order_key for row in rows if row.order_key})
    resolved: list[tuple[str, ShipmentRow]] = []
    problems: list[Problem] = []
    for row in rows:
        if row.order_key:
            key = row.order_key if row.order_key in known else None
        else:
            key = by_number.get(row.order_number)
        if key is None:
            named = row.order_key or row.order_number
            problems.append(Problem(row.line, f"order {named} was never sent to this warehouse"))
            continue
        resolved.append((key, row))
    return resolved, problems


def consume(inbox: Folder, archive: Folder, columns: Mapping[str, str], outbox: str) -> Report:
    where = str(inbox.location)
    report = Report([], [], [])
    for name in guarded(f"listing {where}", inbox.names):
        kind = kind_of(name)
        if kind is None:
            continue
        data = guarded(f"reading {name} in {where}", lambda name=name: inbox.read(name))
        sha256 = hashlib.sha256(data).hexdigest()
        seen = ledger.consumed(where, name, sha256)
        if seen is not None:
            file_id: int | None = seen.id
            report.already_seen.append(name)
        else:
            file_id = _record(where, name, sha256, kind, data, columns, outbox, report)
        guarded(
            f"moving {name} to {archive.location}",
            lambda name=name: move(inbox, name, archive),
        )
        if file_id is not None:
            ledger.mark_archived(file_id)
    return report


def _record(
    where: str,
    name: str,
    sha256: str,
    kind: str,
    data: bytes,
    columns: Mapping[str, str],
    outbox: str,
    report: Report,
) -> int | None:
    if kind == SHIPMENTS:
        rows, problems = parse_shipments(data, columns)
        resolved, unknown = _resolve(rows, outbox)
        problems = sorted([*problems, *unknown], key=lambda p: p.line)
        file_id = ledger.record_file(where, name, sha256, kind, resolved, problems)
    else:
        stock, problems = parse_inventory(data, columns)
        file_id = ledger.record_file(where, name, sha256, kind, [], problems, stock=stock)
    for problem in problems:
        log.warning("file_drop_malformed_row", file=name, line=problem.line, reason=problem.reason)
        report.problems.append((name, problem))
    report.consumed.append(name)
    return file_id
