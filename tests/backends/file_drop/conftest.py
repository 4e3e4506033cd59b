"""File-drop fixtures: the three folders on a local disk or on a real OpenSSH SFTP server, a
database for the backend's ledger, and the test playing the warehouse."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bridge.backends.file_drop.backend import FileDropBackend
from bridge.backends.registry import create_backend
from tests.support.filedrop import FileDropWarehouse
from tests.support.sftp import SftpServer, sftp_server

__all__ = ["sftp_server"]


@dataclass
class Drop:
    """One set of folders: the store config, their local paths, and the warehouse's view."""

    config: dict[str, Any]
    outbox: Path
    inbox: Path
    archive: Path
    warehouse: FileDropWarehouse

    def backend(self, **overrides: Any) -> FileDropBackend:
        backend = create_backend("file_drop", {**self.config, **overrides})
        assert isinstance(backend, FileDropBackend)
        return backend


def sftp_config(server: SftpServer, name: str = "") -> dict[str, Any]:
    return {
        "outbox": server.url(f"{name}outbox"),
        "inbox": server.url(f"{name}inbox"),
        "archive": server.url(f"{name}archive"),
        "sftp_private_key": server.user_key.private,
        "sftp_host_key": server.host_key.public,
    }


def local_folders(base: Path) -> Drop:
    paths = [base / name for name in ("outbox", "inbox", "archive")]
    for path in paths:
        path.mkdir()
    config: dict[str, Any] = {
        "outbox": str(paths[0]),
        "inbox": str(paths[1]),
        "archive": str(paths[2]),
    }
    return Drop(config, *paths, FileDropWarehouse(str(paths[0]), str(paths[1])))


@pytest.fixture
def local_drop(database: str, tmp_path: Path) -> Drop:
    return local_folders(tmp_path)


@pytest.fixture(params=["local", "sftp"])
def drop(request: pytest.FixtureRequest, database: str, tmp_path: Path) -> Iterator[Drop]:
    if request.param == "local":
        yield local_folders(tmp_path)
        return
    server: SftpServer = request.getfixturevalue("sftp_server")
    prefix = f"{tmp_path.name}-"
    paths = [server.folder(f"{prefix}{name}") for name in ("outbox", "inbox", "archive")]
    ssh, sftp = server.client()
    try:
        warehouse = FileDropWarehouse(str(paths[0]), str(paths[1]), sftp=sftp)
        yield Drop(sftp_config(server, prefix), *paths, warehouse)
    finally:
        sftp.close()
        ssh.close()
