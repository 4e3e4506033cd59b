"""The file-drop store configuration (a contract: docs/operator-guide.md and tests use it).

Exactly the contract's fields, no more: an operator's config written today must stay valid.

Each of ``outbox``, ``inbox`` and ``archive`` is a local directory or
``sftp://user@host:port/path``. SFTP needs the private key (stored encrypted) and the server's
public host key: a server that shows any other key is refused, never trusted on first use.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Self
from urllib.parse import unquote, urlsplit

from pydantic import AfterValidator, Field, SecretStr, model_validator

from bridge.backends.base import BackendConfig
from bridge.backends.file_drop.columns import DEFAULT_COLUMNS, FIELDS
from bridge.backends.file_drop.keys import parse_host_key, private_key

# Seconds to wait for an SFTP server to connect, greet and authenticate, and for each reply.
SFTP_TIMEOUT = 15.0


@dataclass(frozen=True)
class Location:
    """Where one folder lives: ``host`` is empty for a local directory."""

    path: str
    host: str = ""
    port: int = 22
    user: str = ""

    @property
    def is_sftp(self) -> bool:
        return bool(self.host)

    @property
    def server(self) -> tuple[str, int, str]:
        return (self.host, self.port, self.user)

    def __str__(self) -> str:
        if not self.is_sftp:
            return self.path
        return f"sftp://{self.user}@{self.host}:{self.port}{self.path}"


def parse_location(value: str) -> Location:
    """A local path, or an ``sftp://`` URL with a user and an absolute path (no password)."""
    if "://" not in value:
        if not value.strip():
            raise ValueError("must be a directory or an sftp:// URL")
        return Location(path=value)
    parts = urlsplit(value)
    if parts.scheme != "sftp" or not parts.hostname or not parts.username:
        raise ValueError("must be a directory or sftp://user@host:port/path")
    if parts.password is not None:
        raise ValueError("must not carry a password (use sftp_private_key)")
    return Location(
        path=unquote(parts.path) or "/",
        host=parts.hostname,
        port=parts.port or 22,
        user=unquote(parts.username),
    )


def _location(value: str) -> str:
    parse_location(value)
    return value


def _columns(value: dict[str, str]) -> dict[str, str]:
    unknown = sorted(set(value) - set(FIELDS))
    if unknown:
        raise ValueError(f"unknown column fields: {', '.join(unknown)}")
    merged = {**DEFAULT_COLUMNS, **value}
    headers = [header.strip().lower() for header in merged.values()]
    if any(not header for header in headers):
        raise ValueError("a column header must not be empty")
    return merged


LocationText = Annotated[str, AfterValidator(_location)]


def _private_key(value: SecretStr | None) -> SecretStr | None:
    if value is not None:
        private_key(value.get_secret_value())
    return value


def _host_key(value: str | None) -> str | None:
    if value is not None:
        parse_host_key(value)
    return value


class FileDropConfig(BackendConfig):
    outbox: LocationText
    inbox: LocationText
    archive: LocationText
    sftp_private_key: Annotated[SecretStr | None, AfterValidator(_private_key)] = None
    sftp_host_key: Annotated[str | None, AfterValidator(_host_key)] = None
    columns: Annotated[dict[str, str], AfterValidator(_columns)] = Field(
        default_factory=lambda: dict(DEFAULT_COLUMNS)
    )

    @model_validator(mode="after")
    def _sftp_needs_keys(self) -> Self:
        if any(location.is_sftp for location in self.locations()):
            if self.sftp_private_key is None:
                raise ValueError("sftp_private_key is required for an sftp:// folder")
            if not self.sftp_host_key:
                raise ValueError("sftp_host_key is required for an sftp:// folder")
        return self

    def locations(self) -> tuple[Location, Location, Location]:
        return (
            parse_location(self.outbox),
            parse_location(self.inbox),
            parse_location(self.archive),
        )
