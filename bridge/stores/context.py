"""Everything a step needs to talk to one store's Order Desk and warehouse.

Loaded from the ``stores`` row inside a short transaction, then used outside it, so a slow API
call never pins a database connection. Secrets stay in this object and out of its ``repr``;
they are decrypted when it is loaded, so a step loads its store once and passes the context on.

The store row also caches the ids of the store's Order Desk folders (intake reads it to know the
cancel folder). Every client made here shares that one cache: a miss asks Order Desk once, and
the answer is written back to the row.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from bridge.backends.base import Capabilities, WarehouseBackend
from bridge.backends.registry import backend_class, create_backend
from bridge.db import session_scope
from bridge.models import Store
from bridge.orderdesk.client import OrderDeskClient
from bridge.remote.ratelimit import (
    Priority,
    RateLimiter,
    ServerGate,
    orderdesk_limiter,
    shared_bucket,
)
from bridge.remote.window import impatient, windowed
from bridge.settings import get_settings
from bridge.stores.registry import StoreRegistry


@dataclass(frozen=True)
class StoreContext:
    id: int
    orderdesk_store_id: str
    name: str
    backend_name: str
    in_process_folder: str
    error_folder: str | None
    cancel_folder: str
    poll_interval_seconds: int
    active: bool
    # An operator holds the store's submissions back (bridge.stores.pause).
    paused: bool
    # Folder name → id, shared with every Order Desk client of this context.
    folders: dict[str, int]
    _api_key: str = field(repr=False)
    _backend_config: dict[str, Any] = field(repr=False)

    @classmethod
    def from_row(cls, session: Session, store: Store) -> StoreContext:
        registry = StoreRegistry(session)
        return cls(
            id=store.id,
            orderdesk_store_id=store.orderdesk_store_id,
            name=store.name,
            backend_name=store.backend,
            in_process_folder=store.in_process_folder,
            error_folder=store.error_folder,
            cancel_folder=store.cancel_folder,
            poll_interval_seconds=store.poll_interval_seconds,
            active=store.active,
            paused=store.paused_at is not None,
            folders={name: int(fid) for name, fid in (store.orderdesk_folders or {}).items()},
            _api_key=registry.api_key(store),
            _backend_config=registry.backend_config(store),
        )

    @classmethod
    def load(cls, store_id: int) -> StoreContext:
        with session_scope() as session:
            store = session.get(Store, store_id)
            if store is None:
                raise LookupError(f"store row {store_id} does not exist")
            return cls.from_row(session, store)

    @property
    def capabilities(self) -> Capabilities:
        return backend_class(self.backend_name).capabilities()

    def orderdesk(
        self, priority: Priority = Priority.SHIPMENTS, *, max_wait: float | None = 120.0
    ) -> OrderDeskClient:
        """A client drawing on the store's shared bucket at ``priority``; a token that would
        take longer than ``max_wait`` raises ``OverBudget`` instead of being waited for."""
        return OrderDeskClient(
            self.orderdesk_store_id,
            self._api_key,
            limiter=orderdesk_limiter(self.orderdesk_store_id, priority),
            acquire_timeout=max_wait,
            folders=self.folders,
            on_folders=self._save_folders,
        )

    def orderdesk_step(self, priority: Priority) -> OrderDeskClient:
        """The client of a worker's step: it waits for tokens only briefly
        (``BRIDGE_TOKEN_WAIT_SECONDS``), then gives its worker slot back (``OverBudget``)."""
        return self.orderdesk(priority, max_wait=get_settings().token_wait_seconds)

    def _save_folders(self, folders: dict[str, int]) -> None:
        """Write the folder ids Order Desk just gave back to the store row's cache."""
        with session_scope() as session:
            store = session.get(Store, self.id)
            if store is not None:
                store.orderdesk_folders = {name: str(fid) for name, fid in folders.items()}

    def backend(self) -> WarehouseBackend:
        return create_backend(
            self.backend_name, self._backend_config, limiter=self._warehouse_limiter()
        )

    def backend_step(self) -> WarehouseBackend:
        """The backend for a worker's per-store step (a poll, an inventory read): it waits for
        the credential's tokens only briefly (``BRIDGE_TOKEN_WAIT_SECONDS``), then gives its
        worker slot back (``OverBudget``), as ``orderdesk_step`` does for Order Desk."""
        limiter = self._warehouse_limiter() or ServerGate(self.backend_name)
        return create_backend(
            self.backend_name,
            self._backend_config,
            limiter=impatient(limiter, get_settings().token_wait_seconds),
        )

    def _warehouse_limiter(self) -> RateLimiter | None:
        """One bucket per warehouse credential, shared by every worker and store that uses it.

        ShipStation counts 40 requests a minute per key+secret, whichever tool sends them, so two
        stores configured with the same credentials must share one bucket; the key is a hash of
        the secret fields and the base URL, never the store. A warehouse with a fixed window
        (``RateSpec.fixed_window``) also gets the window mirror of ``bridge.remote.window``.
        """
        spec = self.capabilities.rate_limit
        if spec is None:
            return None
        per_minute = self._backend_config.get("rate_limit_per_minute")
        capacity = float(per_minute) if per_minute else float(spec.requests)
        per_seconds = 60.0 if per_minute else spec.per_seconds
        secret_names = backend_class(self.backend_name).config_model.secret_fields()
        identity = {name: self._backend_config.get(name) for name in secret_names}
        identity["base_url"] = self._backend_config.get("base_url")
        credential = hashlib.sha256(
            json.dumps(identity, sort_keys=True, default=str).encode()
        ).hexdigest()[:16]
        name = f"warehouse:{self.backend_name}:{credential}"
        bucket = shared_bucket(name, capacity, capacity / per_seconds)
        return windowed(bucket, name, int(capacity), per_seconds) if spec.fixed_window else bucket
