"""The file-drop backend's memory, in the bridge's database (``file_drop_*`` tables).

A folder of files cannot answer "did you already get order X?" or "which files have I read?",
so this backend, unlike the API backends, keeps its own ledger: one row per order key written
to an outbox, one row per consumed inbox file (name + sha256), and the shipment rows of those
files. Each function is its own short transaction, committed before the next file operation,
because the order of ledger writes and file renames is what makes a crash safe.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bridge.backends.file_drop.columns import Problem, ShipmentRow
from bridge.db import session_scope
from bridge.models import FileDropFile, FileDropOrder, FileDropShipmentLine, utcnow


def order(key: str) -> FileDropOrder | None:
    with session_scope() as session:
        return session.get(FileDropOrder, key)


def orders(keys: Iterable[str]) -> dict[str, FileDropOrder]:
    with session_scope() as session:
        return {
            row.key: row
            for row in session.scalars(
                select(FileDropOrder).where(FileDropOrder.key.in_(set(keys)))
            )
        }


def reserve(key: str, outbox: str, order_number: str, file_name: str, lines: list[Any]) -> bool:
    """Record the intent to write ``file_name``; False when another writer recorded it first."""
    try:
        with session_scope() as session:
            session.add(
                FileDropOrder(
                    key=key,
                    outbox=outbox,
                    order_number=order_number,
                    file_name=file_name,
                    lines=lines,
                )
            )
    except IntegrityError:
        return False
    return True


def mark_written(key: str) -> None:
    with session_scope() as session:
        row = session.get(FileDropOrder, key, with_for_update=True)
        if row is not None and row.written_at is None:
            row.written_at = utcnow()


def keys_for_numbers(outbox: str, numbers: Iterable[str]) -> dict[str, str]:
    """Order number → key for the orders written to ``outbox`` (the newest if written twice)."""
    wanted = set(numbers)
    if not wanted:
        return {}
    with session_scope() as session:
        rows = session.execute(
            select(FileDropOrder.order_number, FileDropOrder.key)
            .where(FileDropOrder.outbox == outbox, FileDropOrder.order_number.in_(wanted))
            .order_by(FileDropOrder.created_at)
        ).all()
    return {number: key for number, key in rows}


def known_keys(keys: Iterable[str]) -> set[str]:
    with session_scope() as session:
        return set(
            session.scalars(select(FileDropOrder.key).where(FileDropOrder.key.in_(set(keys))))
        )


def consumed(inbox: str, name: str, sha256: str) -> FileDropFile | None:
    with session_scope() as session:
        return session.scalar(
            select(FileDropFile).where(
                FileDropFile.inbox == inbox,
                FileDropFile.name == name,
                FileDropFile.sha256 == sha256,
            )
        )


def record_file(
    inbox: str,
    name: str,
    sha256: str,
    kind: str,
    problems: Sequence[Problem],
    *,
    rows: Sequence[tuple[str, ShipmentRow]] = (),
    answers: Mapping[str, str] | None = None,
    stock: dict[str, int] | None = None,
) -> int | None:
    """Record one consumed file in one transaction: its usable shipment rows (``(order key,
    row)``), its cancel answers (order key → ``cancelled`` / ``refused``) or its stock levels.

    Returns the file's id, or None when the same content was recorded meanwhile.
    """
    answers = dict(answers or {})
    keys = list(dict.fromkeys([key for key, _ in rows] + list(answers)))
    try:
        with session_scope() as session:
            record = FileDropFile(
                inbox=inbox,
                name=name,
                sha256=sha256,
                kind=kind,
                rows=len(rows) + len(answers) + len(stock or {}) + len(problems),
                order_keys=keys,
                problems=[{"line": p.line, "reason": p.reason} for p in problems],
                stock=stock,
            )
            session.add(record)
            session.flush()
            for key, answer in answers.items():
                order = session.get(FileDropOrder, key, with_for_update=True)
                if order is not None and order.cancel_answer != "cancelled":
                    order.cancel_answer = answer
            for key, row in rows:
                session.add(
                    FileDropShipmentLine(
                        file_id=record.id,
                        line_number=row.line,
                        order_key=key,
                        line_key=row.line_key,
                        sku=row.sku,
                        quantity=row.quantity,
                        tracking_number=row.tracking_number,
                        tracking_url=row.tracking_url,
                        carrier=row.carrier,
                        service=row.service,
                        shipped_at=row.shipped_at,
                        voided=row.voided,
                    )
                )
            return record.id
    except IntegrityError:
        return None


def mark_archived(file_id: int) -> None:
    with session_scope() as session:
        row = session.get(FileDropFile, file_id)
        if row is not None and row.archived_at is None:
            row.archived_at = utcnow()


def feed_files_after(inbox: str, after: int, kinds: Sequence[str]) -> list[tuple[int, list[str]]]:
    """Files of ``kinds`` consumed after id ``after``, in order, with the order keys they name."""
    with session_scope() as session:
        rows = session.execute(
            select(FileDropFile.id, FileDropFile.order_keys)
            .where(
                FileDropFile.inbox == inbox,
                FileDropFile.kind.in_(kinds),
                FileDropFile.id > after,
            )
            .order_by(FileDropFile.id)
        ).all()
    return [(file_id, list(keys or [])) for file_id, keys in rows]


def mark_cancel_requested(key: str) -> None:
    with session_scope() as session:
        row = session.get(FileDropOrder, key, with_for_update=True)
        if row is not None and row.cancel_requested_at is None:
            row.cancel_requested_at = utcnow()


def shipment_lines(keys: Iterable[str]) -> dict[str, list[FileDropShipmentLine]]:
    by_key: dict[str, list[FileDropShipmentLine]] = defaultdict(list)
    with session_scope() as session:
        for row in session.scalars(
            select(FileDropShipmentLine)
            .where(FileDropShipmentLine.order_key.in_(set(keys)))
            .order_by(FileDropShipmentLine.id)
        ):
            by_key[row.order_key].append(row)
    return by_key


def latest_stock(inbox: str) -> dict[str, int] | None:
    with session_scope() as session:
        return session.scalar(
            select(FileDropFile.stock)
            .where(FileDropFile.inbox == inbox, FileDropFile.kind == "inventory")
            .order_by(FileDropFile.id.desc())
            .limit(1)
        )


def problems(inbox: str, limit: int = 100) -> list[dict[str, Any]]:
    """The malformed rows of the latest files, newest first: file name, line, reason."""
    with session_scope() as session:
        files = session.execute(
            select(FileDropFile.name, FileDropFile.problems)
            .where(FileDropFile.inbox == inbox)
            .order_by(FileDropFile.id.desc())
            .limit(limit)
        ).all()
    return [{"file": name, **problem} for name, found in files for problem in found or []]
