"""The ``file_drop`` backend: orders as CSV files in an outbox, shipments as CSV files back.

Unlike the API backends it keeps a ledger in the bridge's database (``ledger.py``), because a
folder cannot say what it has seen. Submitting writes one file per order (``outbox.py``); the
change feed consumes the inbox (``inbox.py``) and then serves the consumed shipment files in the
order they were consumed: the cursor is the id of the last consumed file served, so the feed
resumes after a restart with nothing lost or repeated, and a crash before the core saved a page
serves the same files again (their rows live in the ledger, not in the archived files).

Cancelling writes a request file and answers ``requested``; the warehouse's answer comes back
as a ``cxl*.csv`` file in the inbox and reaches the core through the same feed (a cancelled
order's snapshot says ``cancelled``).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

import requests

from bridge.backends.base import (
    CancelSupport,
    Capabilities,
    ChangeFeed,
    Idempotency,
    WarehouseBackend,
)
from bridge.backends.errors import DuplicateOrder, NotFound
from bridge.backends.file_drop import inbox, ledger, outbox
from bridge.backends.file_drop.config import SFTP_TIMEOUT, FileDropConfig
from bridge.backends.file_drop.transport import Folder, Folders, guarded
from bridge.backends.models import (
    CancelResult,
    ChangePage,
    FulfillmentOrder,
    Line,
    NormalizedStatus,
    Package,
    RemoteOrder,
    RemoteRef,
    RemoteShipment,
    ShippedLine,
    StockLevel,
    SubmitResult,
)
from bridge.backends.status import settle_status
from bridge.models import FileDropShipmentLine
from bridge.remote.ratelimit import RateLimiter

MAX_PAGE = 500


def _shipments(key: str, rows: list[FileDropShipmentLine]) -> list[RemoteShipment]:
    """One shipment with one package per tracking number; its rows are the package's lines.

    A void row for the tracking number voids the package, whichever file brought it.
    """
    packages: dict[str, list[FileDropShipmentLine]] = defaultdict(list)
    for row in rows:
        packages[row.tracking_number].append(row)
    shipments = []
    for tracking, found in packages.items():
        lines = [r for r in found if not r.voided] or found
        first = lines[0]
        package_id = f"{key}:{tracking}"
        shipments.append(
            RemoteShipment(
                remote_id=package_id,
                shipped_at=min((r.shipped_at for r in lines if r.shipped_at), default=None),
                carrier=first.carrier,
                service=first.service,
                voided=any(r.voided for r in found),
                packages=[
                    Package(
                        package_id=package_id,
                        tracking_number=tracking,
                        tracking_url=first.tracking_url,
                    )
                ],
                lines=[
                    ShippedLine(line_key=r.line_key, sku=r.sku, quantity=r.quantity)
                    for r in lines
                    if not r.voided
                ],
            )
        )
    return shipments


def _raw_status(
    answer: str | None, requested: datetime | None, shipments: list[RemoteShipment]
) -> str:
    """What the files say, in words an operator can match to them."""
    if answer == "cancelled":
        return "cancel confirmed"
    if answer == "refused":
        return "cancel refused"
    if shipments:
        return "shipment rows received"
    return "cancel requested" if requested else "file written"


def snapshots(keys: list[str]) -> list[RemoteOrder]:
    """The whole story of each order the ledger knows: its lines and every shipment row."""
    lines_by_key = ledger.shipment_lines(keys)
    rows = ledger.orders(keys)
    found = []
    for key in keys:
        row = rows.get(key)
        if row is None:
            continue
        lines = [Line.from_dict(line) for line in row.lines]
        shipments = _shipments(key, lines_by_key.get(key, []))
        if row.cancel_answer == "cancelled":
            status = NormalizedStatus.CANCELLED
        else:
            status = settle_status(NormalizedStatus.ACCEPTED, lines, shipments)
            live = any(not shipment.voided for shipment in shipments)
            if row.cancel_requested_at and not row.cancel_answer and not live:
                status = NormalizedStatus.CANCEL_REQUESTED
        found.append(
            RemoteOrder(
                ref=RemoteRef(remote_id=row.file_name, key=key),
                status=status,
                raw_status=_raw_status(row.cancel_answer, row.cancel_requested_at, shipments),
                updated_at=max((s.shipped_at for s in shipments if s.shipped_at), default=None),
                shipments=shipments,
            )
        )
    return found


class FileDropBackend(WarehouseBackend):
    name = "file_drop"
    config_model = FileDropConfig
    config: FileDropConfig

    def __init__(
        self,
        config: FileDropConfig,
        *,
        session: requests.Session | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        super().__init__(config, session=session, limiter=limiter)
        key = config.sftp_private_key.get_secret_value() if config.sftp_private_key else None
        self._folders = Folders(key, config.sftp_host_key, SFTP_TIMEOUT)
        self._outbox, self._inbox, self._archive = config.locations()

    @classmethod
    def capabilities(cls) -> Capabilities:
        return Capabilities(
            idempotency=Idempotency.REJECTS_DUPLICATE,
            cancel=CancelSupport.ASYNC,
            change_feed=ChangeFeed.EVENTS,
            cursor_overlap=timedelta(0),
            max_page_size=MAX_PAGE,
            bulk_submit_max=0,
            multi_package=True,
            partial_shipments=True,
            acknowledge=False,
            inventory=True,
            rate_limit=None,
        )

    def _folder(self, which: str) -> Folder:
        location = {"outbox": self._outbox, "inbox": self._inbox, "archive": self._archive}[which]
        return self._folders.open(location)

    def submit(self, order: FulfillmentOrder, key: str) -> SubmitResult:
        """Write the order file once; a key already written is refused, naming that order."""
        if not outbox.write(self._folder("outbox"), order, key, self.config.columns):
            existing = self._one(key)
            raise DuplicateOrder(f"the order file for key {key} was already written", existing)
        return SubmitResult(ref=RemoteRef(remote_id=outbox.file_name(key), key=key), created=True)

    def _one(self, key: str) -> RemoteOrder | None:
        found = snapshots([key])
        return found[0] if found else None

    def find_by_key(self, key: str, order_number: str | None = None) -> RemoteOrder | None:
        if outbox.written(self._folder("outbox"), key) is outbox.Written.NO:
            return None
        self.consume()
        return self._one(key)

    def get(self, ref: RemoteRef) -> RemoteOrder:
        """The order as every file so far tells it: the inbox is read first, so a confirmation
        dropped a moment ago counts (the feed still serves its file in turn)."""
        self.consume()
        found = self._one(ref.key)
        if found is None:
            raise NotFound(f"no order file was written for key {ref.key}")
        return found

    def consume(self) -> inbox.Report:
        """Read new files from the inbox into the ledger and archive them."""
        return inbox.consume(
            self._folder("inbox"),
            self._folder("archive"),
            self.config.columns,
            str(self._outbox),
        )

    def changes_since(self, cursor: str | None, limit: int = 100) -> ChangePage:
        self.consume()
        after = int(cursor) if cursor else 0
        keys: list[str] = []
        last = after
        has_more = False
        kinds = (inbox.SHIPMENTS, inbox.CANCELLATIONS)
        for file_id, file_keys in ledger.feed_files_after(str(self._inbox), after, kinds):
            fresh = [key for key in file_keys if key not in keys]
            if keys and len(keys) + len(fresh) > max(limit, 1):
                has_more = True
                break
            keys.extend(fresh)
            last = file_id
        return ChangePage(orders=snapshots(keys), next_cursor=str(last), has_more=has_more)

    def cancel(self, ref: RemoteRef) -> CancelResult:
        """Too late once shipment rows came; otherwise a cancel request file, then ``requested``
        until the warehouse's answer file says cancelled or refused."""
        self.consume()
        row = ledger.order(ref.key)
        found = self._one(ref.key)
        if row is None or found is None:
            raise NotFound(f"no order file was written for key {ref.key}")
        if row.cancel_answer == "cancelled":
            return CancelResult(state="cancelled", detail="the warehouse confirmed the cancel")
        if any(not shipment.voided for shipment in found.shipments):
            return CancelResult(state="too_late", detail="the warehouse has reported shipments")
        if row.cancel_answer == "refused":
            return CancelResult(state="too_late", detail="the warehouse refused the cancel")
        outbox.request_cancel(
            self._folder("outbox"), ref.key, row.order_number, self.config.columns
        )
        return CancelResult(state="requested", detail=f"{outbox.cancel_file_name(ref.key)} written")

    def healthcheck(self) -> None:
        for which in ("outbox", "inbox", "archive"):
            folder = self._folder(which)
            guarded(f"listing the {which} {folder.location}", folder.names)

    def inventory(self) -> list[StockLevel]:
        self.consume()
        stock = ledger.latest_stock(str(self._inbox)) or {}
        return [StockLevel(sku=sku, available=level) for sku, level in sorted(stock.items())]

    def close(self) -> None:
        self._folders.close()
