"""Folders the backend reads and writes: a local directory or a directory on an SFTP server.

Both offer the same few operations, so the outbox writer and the inbox reader never ask which
one they hold. Renames within a folder are atomic on both (``os.replace``; OpenSSH's
``posix-rename@openssh.com`` over SFTP), which is what makes a half-written file invisible.

SFTP trusts exactly one host key, the configured ``sftp_host_key``: paramiko's ``RejectPolicy``
refuses a server that shows any other key (or none that is known), so a changed or spoofed
server is never written to. Errors name the folder and never carry key material.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, TypeVar

import paramiko

from bridge.backends.file_drop.config import Location
from bridge.backends.file_drop.keys import parse_host_key, private_key
from bridge.remote.errors import AuthError, RemoteError, TransientError

T = TypeVar("T")
SERVICE = "file drop"


class Folder(Protocol):
    location: Location

    def names(self) -> list[str]: ...

    def read(self, name: str) -> bytes: ...

    def exists(self, name: str) -> bool: ...

    def write(self, name: str, data: bytes) -> None: ...

    def rename(self, old: str, new: str) -> None: ...

    def remove(self, name: str) -> None: ...


class LocalFolder:
    def __init__(self, location: Location) -> None:
        self.location = location
        self.root = Path(location.path)

    def names(self) -> list[str]:
        return sorted(entry.name for entry in self.root.iterdir() if entry.is_file())

    def read(self, name: str) -> bytes:
        return (self.root / name).read_bytes()

    def exists(self, name: str) -> bool:
        return (self.root / name).exists()

    def write(self, name: str, data: bytes) -> None:
        with open(self.root / name, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())

    def rename(self, old: str, new: str) -> None:
        os.replace(self.root / old, self.root / new)

    def remove(self, name: str) -> None:
        (self.root / name).unlink(missing_ok=True)


class SftpFolder:
    def __init__(self, location: Location, client: paramiko.SFTPClient) -> None:
        self.location = location
        self.client = client

    def path_of(self, name: str) -> str:
        return f"{self.location.path.rstrip('/')}/{name}"

    def names(self) -> list[str]:
        return sorted(
            entry.filename
            for entry in self.client.listdir_attr(self.location.path)
            if entry.st_mode is None or stat.S_ISREG(entry.st_mode)
        )

    def read(self, name: str) -> bytes:
        with self.client.open(self.path_of(name), "rb") as handle:
            return handle.read()

    def exists(self, name: str) -> bool:
        try:
            self.client.stat(self.path_of(name))
        except FileNotFoundError:
            return False
        return True

    def write(self, name: str, data: bytes) -> None:
        with self.client.open(self.path_of(name), "wb") as handle:
            handle.write(data)

    def rename(self, old: str, new: str) -> None:
        self.client.posix_rename(self.path_of(old), self.path_of(new))

    def remove(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.client.remove(self.path_of(name))


def move(source: Folder, name: str, target: Folder) -> None:
    """Move ``name`` into ``target`` atomically where both sides share a file system or server;
    otherwise copy it under a temporary name, rename it, and only then remove the original."""
    if isinstance(source, LocalFolder) and isinstance(target, LocalFolder):
        try:
            os.replace(source.root / name, target.root / name)
            return
        except OSError:
            shutil.copyfile(source.root / name, target.root / f".{name}.part")
    elif (
        isinstance(source, SftpFolder)
        and isinstance(target, SftpFolder)
        and source.location.server == target.location.server
    ):
        source.client.posix_rename(source.path_of(name), target.path_of(name))
        return
    else:
        target.write(f".{name}.part", source.read(name))
    target.rename(f".{name}.part", name)
    source.remove(name)


def connect(
    location: Location, key_text: str, host_key: str, timeout: float
) -> tuple[paramiko.SSHClient, paramiko.SFTPClient]:
    """An SFTP session to ``location``'s server, trusting only ``host_key``."""
    client = paramiko.SSHClient()
    # The only known host: the configured key, under the names paramiko looks up for this
    # server (``host`` on port 22, ``[host]:port`` otherwise). Anything else is rejected.
    trusted = parse_host_key(host_key)
    for name in (location.host, f"[{location.host}]:{location.port}"):
        client.get_host_keys().add(name, trusted.get_name(), trusted)
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    where = f"{location.host}:{location.port}"
    try:
        client.connect(
            location.host,
            port=location.port,
            username=location.user,
            pkey=private_key(key_text),
            timeout=timeout,
            banner_timeout=timeout,
            auth_timeout=timeout,
            allow_agent=False,
            look_for_keys=False,
        )
        sftp = client.open_sftp()
        channel = sftp.get_channel()
        if channel is not None:
            # A server that stops answering mid-operation fails it instead of hanging a worker.
            channel.settimeout(timeout)
        return client, sftp
    except paramiko.BadHostKeyException:
        client.close()
        raise AuthError(
            f"the SFTP server at {where} showed a host key other than sftp_host_key; refused",
            service=SERVICE,
        ) from None
    except paramiko.AuthenticationException:
        client.close()
        raise AuthError(
            f"the SFTP server at {where} refused the key for user {location.user}",
            service=SERVICE,
        ) from None
    except paramiko.SSHException as exc:
        client.close()
        if "known_hosts" in str(exc) or "not found" in str(exc):
            raise AuthError(
                f"the SFTP server at {where} is not the host sftp_host_key names; refused",
                service=SERVICE,
            ) from None
        raise TransientError(
            f"SFTP to {where} failed: {type(exc).__name__}", service=SERVICE
        ) from None
    except OSError as exc:
        client.close()
        raise TransientError(
            f"could not reach the SFTP server at {where}: {exc.strerror or type(exc).__name__}",
            service=SERVICE,
        ) from None


def guarded(what: str, call: Callable[[], T], error: type[RemoteError] = TransientError) -> T:
    """Run one folder operation; a file-system or SFTP failure becomes ``error`` naming ``what``."""
    try:
        return call()
    except (OSError, paramiko.SSHException, EOFError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise error(f"{what} failed: {reason}", service=SERVICE) from None


class Folders:
    """Opens folders on demand, one SSH connection per server, and closes them together."""

    def __init__(self, key_text: str | None, host_key: str | None, timeout: float) -> None:
        self._key_text = key_text
        self._host_key = host_key
        self._timeout = timeout
        self._servers: dict[tuple[str, int, str], tuple[paramiko.SSHClient, paramiko.SFTPClient]]
        self._servers = {}

    def open(self, location: Location) -> Folder:
        if not location.is_sftp:
            return LocalFolder(location)
        if location.server not in self._servers:
            assert self._key_text is not None and self._host_key is not None  # config checks it
            self._servers[location.server] = connect(
                location, self._key_text, self._host_key, self._timeout
            )
        return SftpFolder(location, self._servers[location.server][1])

    def close(self) -> None:
        for ssh, sftp in self._servers.values():
            sftp.close()
            ssh.close()
        self._servers.clear()
