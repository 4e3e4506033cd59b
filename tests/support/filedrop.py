"""The warehouse's side of a file drop, played by the tests.

Like a 3PL it only sees the folders (through the file system, or through SFTP as a real one
would): it picks up order files from the outbox (and takes them away), and drops shipment and
inventory files into the inbox, uploading each under a dot-name and renaming it once complete.
It parses and writes CSV with the default column names on its own, not with the backend's code.
"""

from __future__ import annotations

import csv
import io
import itertools
import stat
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import paramiko

SHIPMENT_HEADER = [
    "order_key",
    "order_number",
    "line_key",
    "sku",
    "quantity",
    "tracking_number",
    "tracking_url",
    "carrier",
    "method",
    "ship_date",
]
_serial = itertools.count(1)


@dataclass
class FileDropWarehouse:
    outbox: str
    inbox: str
    archive: str = ""
    sftp: paramiko.SFTPClient | None = None
    # Every order file picked up, by key; an order written twice would show 2.
    files_seen: Counter[str] = field(default_factory=Counter)
    orders: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    shipped: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    # Cancel requests picked up, by key.
    cancel_requests: Counter[str] = field(default_factory=Counter)
    # Tracking numbers confirmed per key.
    trackings: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))

    # The few folder operations, over SFTP or the local file system.
    def _names(self, folder: str) -> list[str]:
        if self.sftp is not None:
            return sorted(
                e.filename
                for e in self.sftp.listdir_attr(folder)
                if not stat.S_ISDIR(e.st_mode or 0)
            )
        return sorted(p.name for p in Path(folder).iterdir() if p.is_file())

    def _read(self, path: str) -> bytes:
        if self.sftp is not None:
            with self.sftp.open(path, "rb") as handle:
                return handle.read()
        return Path(path).read_bytes()

    def _write(self, path: str, data: bytes) -> None:
        if self.sftp is not None:
            with self.sftp.open(path, "wb") as handle:
                handle.write(data)
        else:
            Path(path).write_bytes(data)

    def _rename(self, old: str, new: str) -> None:
        if self.sftp is not None:
            self.sftp.posix_rename(old, new)
        else:
            Path(old).rename(new)

    def _remove(self, path: str) -> None:
        if self.sftp is not None:
            self.sftp.remove(path)
        else:
            Path(path).unlink()

    def pick_up(self) -> list[str]:
        """Take every complete order file (and cancel request) out of the outbox; return the
        keys of the orders taken."""
        taken = []
        for name in self._names(self.outbox):
            if name.startswith(".") or not name.startswith(("ord_", "cxl_")):
                continue
            path = f"{self.outbox}/{name}"
            rows = list(csv.DictReader(io.StringIO(self._read(path).decode())))
            self._remove(path)
            key = rows[0]["order_key"]
            if name.startswith("cxl_"):
                self.cancel_requests[key] += 1
                continue
            self.files_seen[key] += 1
            self.orders[key] = rows
            taken.append(key)
        return taken

    def answer_cancel(self, key: str, cancelled: bool = True) -> None:
        status = "cancelled" if cancelled else "shipped"
        self.drop(f"cxl_{key}_{next(_serial)}.csv", f"order_key,cancel_status\n{key},{status}\n")

    def drop(self, name: str, text: str) -> None:
        """Upload a file into the inbox the careful way: a dot-name first, then a rename."""
        self._write(f"{self.inbox}/.{name}", text.encode())
        self._rename(f"{self.inbox}/.{name}", f"{self.inbox}/{name}")

    def ship(
        self,
        key: str,
        packages: list[list[tuple[str, int]]] | None = None,
        carrier: str = "UPS",
        method: str = "Ground",
        by_number: bool = False,
    ) -> list[str]:
        """Drop one shipment file: ``packages`` lists (sku, quantity) per parcel; by default one
        parcel with every unit not shipped yet. Returns the tracking numbers used."""
        rows = self.orders[key]
        if packages is None:
            left = [(r["sku"], int(r["quantity"]) - self.shipped[key][r["sku"]]) for r in rows]
            packages = [[(sku, qty) for sku, qty in left if qty > 0]]
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(SHIPMENT_HEADER)
        trackings = []
        for parcel in packages:
            tracking = f"1Z{next(_serial):010d}"
            trackings.append(tracking)
            self.trackings[key].add(tracking)
            for sku, quantity in parcel:
                self.shipped[key][sku] += quantity
                writer.writerow(
                    [
                        "" if by_number else key,
                        rows[0]["order_number"],
                        "",
                        sku,
                        quantity,
                        tracking,
                        "",
                        carrier,
                        method,
                        "2026-12-01T10:00:00Z",
                    ]
                )
        self.drop(f"shp_{key}_{next(_serial)}.csv", out.getvalue())
        return trackings

    def inbox_names(self) -> list[str]:
        return self._names(self.inbox)

    def archived(self) -> list[str]:
        return self._names(self.archive)

    def drop_again(self, name: str) -> None:
        """Upload an archived file once more, byte for byte (a warehouse that retries)."""
        self.drop(name, self._read(f"{self.archive}/{name}").decode())

    def stock(self, levels: dict[str, int]) -> None:
        text = "sku,available\n" + "".join(f"{s},{n}\n" for s, n in levels.items())
        self.drop(f"inv_{next(_serial)}.csv", text)
