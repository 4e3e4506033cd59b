"""The contract between the bridge core and a warehouse backend (docs/backends.md).

A backend only talks to its warehouse: it never touches the database or Order Desk. The core owns
idempotency (write-ahead intent, lookup before retry), cursors, merging of shipments and status
monotonicity; the backend declares how its warehouse behaves through ``Capabilities`` so the
core reads flags instead of probing with ``hasattr``.
"""

from __future__ import annotations

import abc
import ipaddress
import types
import typing
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Any, ClassVar
from urllib.parse import urlsplit

import requests
from pydantic import AfterValidator, BaseModel, ConfigDict, SecretStr

from bridge.backends.errors import NotSupported
from bridge.backends.models import (
    CancelResult,
    ChangePage,
    FulfillmentOrder,
    RemoteOrder,
    RemoteRef,
    RemoteShipment,
    StockLevel,
    SubmitResult,
)
from bridge.remote.errors import RemoteError
from bridge.remote.ratelimit import RateLimiter


class Idempotency(StrEnum):
    UPSERT = "upsert"
    REJECTS_DUPLICATE = "rejects_duplicate"
    NONE = "none"


class CancelSupport(StrEnum):
    NONE = "none"
    SYNC = "sync"
    ASYNC = "async"


class ChangeFeed(StrEnum):
    EVENTS = "events"
    UPDATED_SINCE = "updated_since"
    SHIPPED_SINCE = "shipped_since"
    UNACKED = "unacked"


@dataclass(frozen=True)
class RateSpec:
    requests: int
    per_seconds: float


@dataclass(frozen=True)
class Capabilities:
    idempotency: Idempotency
    cancel: CancelSupport
    change_feed: ChangeFeed
    cursor_overlap: timedelta
    max_page_size: int
    bulk_submit_max: int
    multi_package: bool
    partial_shipments: bool
    acknowledge: bool
    inventory: bool
    rate_limit: RateSpec | None
    # ``update`` replaces an order the warehouse holds but has not shipped (ShipStation's upsert
    # by ``orderKey``); without it, an edit after submission is left to a person.
    updates_unshipped: bool = False

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["cursor_overlap"] = self.cursor_overlap.total_seconds()
        return data


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _base_url(value: str) -> str:
    """A warehouse URL credentials may be sent to: https, or plain http on this machine only.

    Plain http would put the warehouse key on the wire in clear; only a loopback address
    (a simulator, a local TLS-terminating proxy) is exempt. Messages never echo the value.
    """
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an https:// URL with a host name")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ValueError(
            "must use https:// (plain http:// is allowed only for loopback addresses: "
            "127.0.0.0/8, ::1, localhost)"
        )
    return value.rstrip("/")


BaseUrl = Annotated[str, AfterValidator(_base_url)]


class BackendConfig(BaseModel):
    """Base of every backend's settings; fields typed ``SecretStr`` are stored encrypted."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @classmethod
    def secret_fields(cls) -> list[str]:
        return [name for name, field in cls.model_fields.items() if _is_secret(field.annotation)]


def _is_secret(annotation: Any) -> bool:
    if annotation is SecretStr:
        return True
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return any(_is_secret(arg) for arg in typing.get_args(annotation))
    return False


@dataclass(frozen=True)
class SubmitOutcome:
    """One order's result in a bulk submit; exactly one of ``ref`` and ``error`` is set."""

    key: str
    ref: RemoteRef | None
    error: RemoteError | None = None


class WarehouseBackend(abc.ABC):
    """One warehouse. Instances are cheap and hold a connection pool; call ``close`` when done."""

    name: ClassVar[str]
    config_model: ClassVar[type[BackendConfig]]

    def __init__(
        self,
        config: BackendConfig,
        *,
        session: requests.Session | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.config = config
        self.session = session
        self.limiter = limiter

    @classmethod
    @abc.abstractmethod
    def capabilities(cls) -> Capabilities: ...

    @abc.abstractmethod
    def submit(self, order: FulfillmentOrder, key: str) -> SubmitResult:
        """Send one order under our idempotency ``key``; never retried blindly inside."""

    def submit_many(self, items: Sequence[tuple[FulfillmentOrder, str]]) -> list[SubmitOutcome]:
        """Submit several orders; outcomes are aligned with ``items`` and never raise per order."""
        outcomes = []
        for order, key in items:
            try:
                outcomes.append(SubmitOutcome(key, self.submit(order, key).ref))
            except RemoteError as exc:
                outcomes.append(SubmitOutcome(key, None, exc))
        return outcomes

    @abc.abstractmethod
    def find_by_key(self, key: str, order_number: str | None = None) -> RemoteOrder | None:
        """The order submitted under ``key``, or None. ``order_number`` narrows the search on
        warehouses that cannot filter by our key (ShipStation)."""

    @abc.abstractmethod
    def get(self, ref: RemoteRef) -> RemoteOrder: ...

    @abc.abstractmethod
    def changes_since(self, cursor: str | None, limit: int = 100) -> ChangePage:
        """Orders changed since ``cursor`` (None: from the backend's initial lookback).

        The feed may repeat orders and shipments (overlap windows), so the core dedupes by
        package id and merges snapshots.
        """

    @abc.abstractmethod
    def cancel(self, ref: RemoteRef) -> CancelResult: ...

    def update(self, order: FulfillmentOrder, key: str, ref: RemoteRef) -> RemoteRef:
        """Replace the unshipped order at ``ref`` with this newer version (same ``key``).

        Only for backends whose capabilities say ``updates_unshipped``. A warehouse that refuses
        because the order moved on (shipped, being picked) raises ``ValidationError``.
        """
        raise NotSupported(f"the {self.name} backend cannot update an order it already holds")

    @abc.abstractmethod
    def healthcheck(self) -> None:
        """Return if the warehouse answers and takes our credentials, else raise in plain words."""

    def acknowledge(self, shipments: Sequence[RemoteShipment]) -> None:  # noqa: B027
        """Tell the warehouse these shipments reached Order Desk (only if capabilities say so)."""

    def inventory(self) -> list[StockLevel]:
        raise NotSupported(f"the {self.name} backend does not report stock levels")

    def close(self) -> None:  # noqa: B027
        """Release connections; the default owns none."""

    def __enter__(self) -> WarehouseBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
