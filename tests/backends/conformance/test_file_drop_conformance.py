"""The file_drop backend passes the conformance kit, over a local directory and over a real
OpenSSH SFTP server; the driver plays the warehouse by reading order files and dropping
confirmation, void and stock files into the inbox.

A file exchange has no lost reply or rate limit to inject (the crash points of a write are
tested in tests/backends/file_drop), so those checks skip, naming the driver method.
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from bridge.backends.base import WarehouseBackend
from bridge.backends.registry import create_backend
from bridge.backends.testing import BackendConformance, Parcel
from tests.backends.file_drop.conftest import local_folders, sftp_config
from tests.support.filedrop import FileDropWarehouse
from tests.support.sftp import SftpServer, sftp_server

__all__ = ["sftp_server"]

_files = itertools.count(1)


class FileDropDriver:
    """The warehouse side of one set of folders, through ``FileDropWarehouse``."""

    def __init__(self, warehouse: FileDropWarehouse, config: dict[str, Any]) -> None:
        self.warehouse = warehouse
        self.config = config
        self.stock: dict[str, int] = {}

    def order_keys(self, order_number: str) -> list[str]:
        self.warehouse.pick_up()
        return [
            key
            for key, rows in self.warehouse.orders.items()
            if rows[0]["order_number"] == order_number
            for _ in range(self.warehouse.files_seen[key])
        ]

    def ship(self, key: str, parcels: Sequence[Parcel]) -> None:
        self.warehouse.pick_up()
        skus = {row["line_key"]: row["sku"] for row in self.warehouse.orders[key]}
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["order_key", "line_key", "sku", "quantity", "tracking_number", "carrier"])
        for parcel in parcels:
            for line_key, quantity in parcel.lines:
                writer.writerow(
                    [key, line_key, skus[line_key], quantity, parcel.tracking_number, "UPS"]
                )
        self.warehouse.drop(f"shp_kit_{next(_files)}.csv", out.getvalue())

    def void(self, key: str, tracking_number: str) -> None:
        self.warehouse.drop(
            f"shp_void_{next(_files)}.csv",
            f"order_key,tracking_number,voided\n{key},{tracking_number},yes\n",
        )

    def lose_next_reply(self) -> None:
        raise NotImplementedError

    def throttle(self, seconds: float) -> None:
        raise NotImplementedError

    def set_stock(self, sku: str, available: int) -> None:
        self.stock[sku] = available
        self.warehouse.stock(self.stock)

    def clear_faults(self) -> None:
        """No faults to end: a folder has none to inject."""


class TestFileDropLocalConformance(BackendConformance):
    # A local directory uses no key: a wrong one is refused only for not being a key.
    checks_credentials = False

    @pytest.fixture
    def driver(self, database: str, tmp_path: Path) -> FileDropDriver:
        drop = local_folders(tmp_path)
        return FileDropDriver(drop.warehouse, drop.config)

    def make_backend(self, driver: FileDropDriver, **config: Any) -> WarehouseBackend:
        return create_backend("file_drop", driver.config | config)


class TestFileDropSftpConformance(BackendConformance):
    @pytest.fixture
    def driver(
        self, database: str, sftp_server: SftpServer, tmp_path: Path
    ) -> Iterator[FileDropDriver]:
        prefix = f"kit-{tmp_path.name}-"
        folders = [str(sftp_server.folder(f"{prefix}{n}")) for n in ("outbox", "inbox", "archive")]
        ssh, sftp = sftp_server.client()
        try:
            warehouse = FileDropWarehouse(*folders, sftp=sftp)
            yield FileDropDriver(warehouse, sftp_config(sftp_server, prefix))
        finally:
            sftp.close()
            ssh.close()

    def make_backend(self, driver: FileDropDriver, **config: Any) -> WarehouseBackend:
        return create_backend("file_drop", driver.config | config)
