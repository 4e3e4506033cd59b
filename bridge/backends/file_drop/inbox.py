"""Consume the warehouse's files from the inbox: shipment confirmations and stock levels.

A file is consumed once per content: its name and sha256 go into the ledger together with its
usable rows in one transaction, and only then is it moved to the archive. A crash between the
two leaves a file the ledger already knows; the next pass sees the same name and hash and only
finishes the move. A file sent again with the same content is therefore never read twice; a file
with the same name and new content is a new file.

Which files: ``shp*.csv`` hold shipments, ``cxl*.csv`` answers to cancel requests, ``inv*.csv``
stock levels (case-insensitive); anything else, and names starting with a dot (uploads in
progress), is left alone. Several bridge processes may read one inbox at once (a poll and an
inventory sync): the ledger's unique (inbox, name, hash) lets one of them record a file, and a
file another reader already moved away is simply skipped.
A row that cannot be used is logged and recorded with its file name and line number and skipped;
the rest of the file is consumed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol, TypeVar

import structlog

from bridge.backends.file_drop import ledger
from bridge.backends.file_drop.columns import (
    Problem,
    parse_cancellations,
    parse_inventory,
    parse_shipments,
)
from bridge.backends.file_drop.transport import Folder, guarded, move
from bridge.remote.errors import TransientError

log = structlog.get_logger(__name__)

SHIPMENTS = "shipments"
CANCELLATIONS = "cancellations"
INVENTORY = "inventory"
_PREFIXES = {"shp": SHIPMENTS, "cxl": CANCELLATIONS, "inv": INVENTORY}


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
    return _PREFIXES.get(lower[:3])


class _Named(Protocol):
    line: int
    order_key: str
    order_number: str


R = TypeVar("R", bound=_Named)


def _resolve(rows: list[R], outbox: str) -> tuple[list[tuple[str, R]], list[Problem]]:
    """Each row's order key: its own, or the key written for its order number to ``outbox``."""
    by_number = ledger.keys_for_numbers(
        outbox, {row.order_number for row in rows if not row.order_key}
    )
    known = ledger.known_keys({row.order_key for row in rows if row.order_key})
    resolved: list[tuple[str, R]] = []
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
        data = _read(inbox, name)
        if data is None:
            continue  # another reader moved it away meanwhile
        sha256 = hashlib.sha256(data).hexdigest()
        seen = ledger.consumed(where, name, sha256)
        if seen is not None:
            file_id: int | None = seen.id
            report.already_seen.append(name)
        else:
            file_id = _record(where, name, sha256, kind, data, columns, outbox, report)
        try:
            guarded(
                f"moving {name} to {archive.location}",
                lambda name=name: move(inbox, name, archive),
            )
        except TransientError:
            if _exists(inbox, name):
                raise
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
        file_id = ledger.record_file(where, name, sha256, kind, problems, rows=resolved)
    elif kind == CANCELLATIONS:
        answers, problems = parse_cancellations(data, columns)
        named, unknown = _resolve(answers, outbox)
        problems = sorted([*problems, *unknown], key=lambda p: p.line)
        said = {key: "cancelled" if row.cancelled else "refused" for key, row in named}
        file_id = ledger.record_file(where, name, sha256, kind, problems, answers=said)
    else:
        stock, problems = parse_inventory(data, columns)
        file_id = ledger.record_file(where, name, sha256, kind, problems, stock=stock)
    for problem in problems:
        log.warning("file_drop_malformed_row", file=name, line=problem.line, reason=problem.reason)
        report.problems.append((name, problem))
    log.info("file_drop_consumed", file=name, kind=kind, sha256=sha256, problems=len(problems))
    report.consumed.append(name)
    return file_id


def _read(folder: Folder, name: str) -> bytes | None:
    def read() -> bytes | None:
        try:
            return folder.read(name)
        except FileNotFoundError:
            return None

    return guarded(f"reading {name} in {folder.location}", read)


def _exists(folder: Folder, name: str) -> bool:
    return guarded(f"reading {folder.location}", lambda: folder.exists(name))
