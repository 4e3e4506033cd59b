"""Write one order file per order to the outbox, at most once per idempotency key.

File name: ``ord_<key>.csv`` (the key is ``od-<store>-<order>``, so names never collide and a
name alone says which order it holds). The steps, in this order:

1. write the whole file under the hidden name ``.ord_<key>.csv.part`` (the warehouse must ignore
   names starting with a dot; that is part of the documented exchange);
2. commit the ledger row (``written_at`` empty): the write-ahead record;
3. rename the temporary file to its final name (atomic; ``posix_rename`` over SFTP);
4. stamp ``written_at``.

Because the temporary file is complete before the ledger row exists, a row without
``written_at`` is decided by looking at the outbox: the temporary file still there means the
rename never happened (not written); the final file there, or neither (the warehouse already
took the file away), means it was written. A crash before step 2 leaves only an invisible
temporary file, which the next attempt overwrites. So ``find_by_key`` finds every order whose
file the warehouse could have seen, and a re-run never writes an order twice.

A cancel request is ``cxl_<key>.csv`` (the order key and number), written the same way and
stamped in the ledger once renamed. A crash before the stamp writes it again on the next try:
the same name and content, so at worst the warehouse reads one request twice.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import StrEnum

from bridge.backends.errors import ValidationError
from bridge.backends.file_drop import ledger
from bridge.backends.file_drop.columns import cancel_csv, order_csv
from bridge.backends.file_drop.transport import Folder, guarded
from bridge.backends.models import FulfillmentOrder
from bridge.remote.errors import AmbiguousOutcome, TransientError

SAFE_KEY = re.compile(r"^[A-Za-z0-9_-]{1,100}$")


class Written(StrEnum):
    YES = "yes"
    NO = "no"


def file_name(key: str) -> str:
    return f"ord_{key}.csv"


def temp_name(key: str) -> str:
    return f".{file_name(key)}.part"


def written(folder: Folder, key: str) -> Written:
    """Whether the warehouse could have seen the order file for ``key`` (module docstring)."""
    row = ledger.order(key)
    if row is None:
        return Written.NO
    if row.written_at is not None:
        return Written.YES
    where = str(folder.location)
    if guarded(f"reading {where}", lambda: folder.exists(temp_name(key))):
        return Written.NO
    ledger.mark_written(key)
    return Written.YES


def write(folder: Folder, order: FulfillmentOrder, key: str, columns: Mapping[str, str]) -> bool:
    """Write the order file for ``key``; False when it had been written before (nothing done)."""
    if not SAFE_KEY.match(key):
        raise ValidationError(
            f"order key {key!r} cannot be a file name", {"key": "letters, digits, - and _ only"}
        )
    if written(folder, key) is Written.YES:
        return False
    where = str(folder.location)
    if ledger.order(key) is None:
        data = order_csv(order, key, columns)
        guarded(f"writing to {where}", lambda: folder.write(temp_name(key), data))
        lines = [line.to_dict() for line in order.lines]
        if not ledger.reserve(key, where, order.order_number, file_name(key), lines):
            raise TransientError(f"another worker is writing the order file for {key}")
    guarded(
        f"renaming the order file in {where}",
        lambda: folder.rename(temp_name(key), file_name(key)),
        AmbiguousOutcome,
    )
    ledger.mark_written(key)
    return True


def cancel_file_name(key: str) -> str:
    return f"cxl_{key}.csv"


def request_cancel(folder: Folder, key: str, order_number: str, columns: Mapping[str, str]) -> None:
    """Write the cancel request for ``key`` (once: the ledger remembers it was written)."""
    row = ledger.order(key)
    if row is not None and row.cancel_requested_at is not None:
        return
    where = str(folder.location)
    name = cancel_file_name(key)
    data = cancel_csv(key, order_number, columns)
    guarded(f"writing to {where}", lambda: folder.write(f".{name}.part", data))
    guarded(
        f"renaming the cancel request in {where}",
        lambda: folder.rename(f".{name}.part", name),
        AmbiguousOutcome,
    )
    ledger.mark_cancel_requested(key)
